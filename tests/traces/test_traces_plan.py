"""The plan: functions from the call map, spread across files, bounded, the same for a seed."""

from __future__ import annotations

from forager.tasks.baseline import Baseline
from forager.traces.plan import plan, planned_tests

A = "def f1(x):\n    return x\n\n\ndef f2(x):\n    return x\n\n\ndef f3(x):\n    return x\n"
B = "class K:\n    @staticmethod\n    def g(x):\n        return x\n\n    def h(self):\n        pass\n"
SOURCES = {"pkg/a.py": A, "pkg/b.py": B, "tests/test_a.py": A, "setup.py": A}
CALLERS = {("pkg/a.py", 1): [f"t::a{i}" for i in range(6)], ("pkg/a.py", 5): ["t::a0"],
           ("pkg/a.py", 9): ["t::a9"], ("pkg/b.py", 2): ["t::b1", "t::b2"], ("pkg/b.py", 6): ["t::b3"],
           ("tests/test_a.py", 1): ["t::x"], ("setup.py", 1): ["t::y"]}
BASE = Baseline(passed=[], durations={}, callers=CALLERS, run_s=1.0)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    one = plan(SOURCES, BASE, 3, 2, seed=1)
    assert one == plan(SOURCES, BASE, 3, 2, seed=1)
    assert any(plan(SOURCES, BASE, 3, 2, seed=s) != one for s in range(2, 8))


def test_bounded_spread_across_files_and_only_the_projects_code() -> None:
    targets = plan(SOURCES, BASE, 2, 3, seed=0)
    assert len(targets) == 2 and {t.path for t in targets} == {"pkg/a.py", "pkg/b.py"}
    assert all(1 <= len(t.tests) <= 3 for t in targets)
    everything = plan(SOURCES, BASE, 100, 100, seed=0)
    assert sorted(t.qualname for t in everything) == ["K.g", "K.h", "f1", "f2", "f3"]
    g = next(t for t in everything if t.qualname == "K.g")
    assert (g.first, g.def_line) == (2, 3) and g.spec()["name"] == "g" and g.spec()["file"] == "/repo/pkg/b.py"
    assert planned_tests(everything) == sorted({t for ts in CALLERS.values() for t in ts} - {"t::x", "t::y"})
