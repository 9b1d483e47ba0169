"""The pure parts of the fast path: which changes the session runner can swap in, the driver's
pytest arguments, error signatures and the behavioural key, patch sizes, the tests a commit
touches, and splicing a model's rewrite into a file."""

from __future__ import annotations

from forager.enums import TaskKind
from forager.tasks.baseline import Baseline, SourceFunction
from forager.tasks.behaviour import behaviour_key, error_signature, patch_stats
from forager.tasks.candidates import Candidate, mutation_candidates, rank_functions
from forager.tasks.evaluate import _touched_tests, patched_files, relevant_tests
from forager.tasks.fastrun import driver_config, files_of
from forager.tasks.mutations import unified_patch
from forager.tasks.rewrite import header, splice
from forager.tasks.swap import swap_target

SRC = '''import functools


def total(values, start=0):
    """Sum of values."""
    out = start
    for v in values:
        out = out + v
    return out


@functools.lru_cache
def double(x):
    return 2 * x
'''


def test_swap_target_only_for_changes_inside_one_body() -> None:
    body = SRC.replace("out = out + v", "out = out - v")
    assert swap_target(SRC, body, "total") == "total"
    assert swap_target(SRC, SRC.replace("start=0", "start=1"), "total") is None  # a default
    assert swap_target(SRC, SRC.replace("@functools.lru_cache\n", ""), "double") is None
    assert swap_target(SRC, SRC.replace("import functools", "import os, functools"), "total") is None
    assert swap_target(SRC, body, "<module>") is None
    method = "class A(B):\n    def f(self, x):\n        return super().f(x) + 1\n"
    assert swap_target(method, method.replace("+ 1", "- 1"), "A.f") == "A.f"
    stub = "class A(B):\n    def f(self, x):\n        raise NotImplementedError\n"
    # the __class__ cell goes: the session runner keeps it in the new code (session_plugin._padded)
    assert swap_target(method, stub, "A.f") == "A.f"
    plain = "class A(B):\n    def f(self, x):\n        return 1\n"
    assert swap_target(plain, method, "A.f") is None  # the cell comes: no code swap can do that


def test_driver_config_leaves_out_the_test_paths_and_forks_pytest() -> None:
    cfg = driver_config("python -m pytest -p no:cacheprovider --rootdir=/repo -W ignore::X tests", ["tests"])
    assert cfg["mode"] == "fork" and cfg["args"] == ["-p", "no:cacheprovider", "--rootdir=/repo", "-W", "ignore::X"]
    assert driver_config("pytest -q", [])["cwd_on_path"] is False
    assert driver_config("tox -e py", [])["mode"] == "spawn"
    assert files_of(["a/t.py::x", "b/t.py::C::y[1]", "a/t.py::z"]) == ["a/t.py", "b/t.py"]


def test_error_signature_and_behaviour_key() -> None:
    # the session runner's short message for a failing test has the signature of pytest's full one
    assert error_signature("E   AssertionError: assert 3 == 2\n +  where 3 = f(1)") == "AssertionError"
    assert error_signature("E   Failed: DID NOT RAISE <class 'ValueError'>") == error_signature(
        ">       with pytest.raises(ValueError):\nE       Failed: DID NOT RAISE <class 'ValueError'>")
    assert error_signature("E   NotImplementedError") == "NotImplementedError"
    assert error_signature("def test():\n>       assert f(1) == 2\nE       assert 3 == 2\n") == "AssertionError"
    assert error_signature("E       TypeError: unsupported operand\n") == "TypeError"
    assert error_signature("...\nraise KeyError('x')\nKeyError") == "KeyError"
    a = behaviour_key("m.py", "f", ["t1", "t2"], {"t1": "E   assert 1 == 2", "t2": "E   TypeError: x"})
    b = behaviour_key("m.py", "f", ["t2", "t1"], {"t1": "E   assert 5 == 7", "t2": "E   TypeError: y"})
    c = behaviour_key("m.py", "f", ["t1", "t2"], {"t1": "E   assert 1 == 2", "t2": "E   ValueError: x"})
    assert a == b and a != c
    assert a != behaviour_key("m.py", "g", ["t1", "t2"], {"t1": "E   assert 1 == 2", "t2": "E   TypeError: x"})


def test_patch_stats_counts_changed_lines_and_files() -> None:
    patch = unified_patch("m.py", SRC, SRC.replace("out = out + v", "out = out - v")) + unified_patch(
        "n.py", "a\n", "b\nc\n")
    assert patch_stats(patch) == (5, 2)


def test_touched_tests_are_the_python_test_files_of_the_commit() -> None:
    patch = ("diff --git a/tests/test_a.py b/tests/test_a.py\n--- a/tests/test_a.py\n+++ b/tests/test_a.py\n"
             "diff --git a/tests/conftest.py b/tests/conftest.py\n--- a/tests/conftest.py\n+++ b/tests/conftest.py\n"
             "diff --git a/tests/test_gone.py b/tests/test_gone.py\n--- a/tests/test_gone.py\n+++ /dev/null\n"
             "diff --git a/tests/data.txt b/tests/data.txt\n")
    cand = Candidate(TaskKind.FROM_HISTORY, "c", test_patch=patch)
    assert _touched_tests(cand) == ["tests/test_a.py"]


def test_relevant_tests_call_a_file_the_gold_patch_changes() -> None:
    gold = ("diff --git a/src/p/a.py b/src/p/a.py\n--- a/src/p/a.py\n+++ b/src/p/a.py\n@@ -1 +1 @@\n-x\n+y\n"
            "diff --git a/src/p/old.py b/src/p/new.py\nrename from src/p/old.py\nrename to src/p/new.py\n")
    assert patched_files(gold) == ["src/p/a.py", "src/p/old.py", "src/p/new.py"]
    # the map is keyed by the image's lines: any function of a changed file counts, at-import ones too
    callers = {("src/p/a.py", 3): ["tests/test_a.py::t1"], ("src/p/a.py", 40): ["tests/test_b.py::t2"],
               ("src/p/old.py", 1): ["tests/test_c.py::t3"], ("src/p/b.py", 1): ["tests/test_d.py::t4"]}
    baseline = Baseline(["tests/test_a.py::t1", "tests/test_b.py::t2", "tests/test_c.py::t3",
                         "tests/test_d.py::t4"], {}, callers, 1.0, import_time={("src/p/a.py", 40)})
    cand = Candidate(TaskKind.FROM_HISTORY, "c", gold_patch=gold)
    assert relevant_tests(cand, baseline) == ["tests/test_a.py::t1", "tests/test_b.py::t2", "tests/test_c.py::t3"]
    assert relevant_tests(Candidate(TaskKind.FROM_HISTORY, "c", gold_patch=""), baseline) == []


def test_mutations_come_ranked_and_streamed_with_swap_targets() -> None:
    fns = [SourceFunction("m.py", "total", ["t::a"], 4, 1), SourceFunction("m.py", "double", ["t::a", "t::b"], 12, 2)]
    assert [f.qualname for f in rank_functions(fns, {})] == ["double", "total"]
    cands = list(mutation_candidates({"m.py": SRC}, fns, 0, {"t::a": 0.05, "t::b": 5.0}))
    # the cheap function first and more often, each capped (2 + 2 x its tests), the module's last
    assert [c.function for c in cands[:5]] == ["total"] * 4 + ["double"]
    assert sum(c.function == "total" for c in cands) == 4 and sum(c.function == "double" for c in cands) <= 6
    assert any(c.function == "<module>" for c in cands[5:])
    assert len({c.fingerprint if hasattr(c, "fingerprint") else c.setup_patch for c in cands}) == len(cands)
    body_only = [c for c in cands if c.swap]
    assert body_only and all(c.swap == [("m.py", c.function)] for c in body_only)
    assert any(c.swap is None for c in cands if c.family == "arguments")  # a signature change
    assert all(c.depth in (1, 2) for c in cands if c.function != "<module>")


def test_splice_puts_the_model_definition_in_place() -> None:
    import ast

    node = ast.parse(SRC).body[1]
    assert isinstance(node, ast.FunctionDef)
    assert header(SRC, node) == 'def total(values, start=0):\n    """Sum of values."""'
    answer = "Here it is:\n```python\ndef total(values, start=0):\n    return sum(values)\n```\n"
    new = splice(SRC, "total", answer)
    assert new is not None and "return sum(values)" in new and "def double" in new
    assert splice(SRC, "total", "no code at all") is None
    assert splice(SRC, "total", "```python\ndef total(values, start=0):\n    return (\n```") is None


def test_a_test_that_reported_nothing_is_never_a_fail_to_pass() -> None:
    """A crash or an outside kill leaves tests without results: that is not a failing test (it once
    gave tasks whose FAIL_TO_PASS held hundreds of tests that pass in the task state)."""
    from forager.build.testrun import TestOutcome
    from forager.tasks.baseline import Baseline
    from forager.tasks.fastrun import Probe, ProbeResult
    from forager.tasks.screen import Screen, _selection_key

    tests = ["t.py::a", "t.py::b", "t.py::c"]
    screen = Screen(runner=None, baseline=Baseline(tests, {}, {}, 1.0), cap_s=60)  # type: ignore[arg-type]
    screen.controls[_selection_key(tests)] = set(tests)
    probe = Probe(tests, 10, "setup", "gold")

    def result(**outcomes: str) -> ProbeResult:
        got = {f"t.py::{k}": TestOutcome(f"t.py::{k}", v, message="boom") for k, v in outcomes.items()}
        return ProbeResult(probe.id, applied=True, restored=True, ran=True, results=got)

    partial = screen._verdict(probe, result(a="failed"))
    assert isinstance(partial, str) and partial.startswith("incomplete results: 2")
    judged = screen._verdict(probe, result(a="failed", b="passed", c="error"))
    assert not isinstance(judged, str)
    assert judged.fail_to_pass == ["t.py::a", "t.py::c"] and judged.pass_to_pass == ["t.py::b"]
    assert screen._verdict(probe, result(a="passed", b="skipped", c="passed")) == "no test fails"


def test_a_selection_of_most_of_the_suite_runs_all_of_it() -> None:
    """A candidate runs every passing test where that costs less than its own selection and that
    selection's control run: one control of the whole then serves every such candidate."""
    from forager.tasks.baseline import Baseline
    from forager.tasks.screen import Screen, _selection_key

    tests = [f"t.py::t{i}" for i in range(10)]
    screen = Screen(runner=None, baseline=Baseline(tests, {}, {}, 1.0), cap_s=60)  # type: ignore[arg-type]

    def cand(name: str, covered: list[str]) -> Candidate:
        return Candidate(TaskKind.MUTATE_FIX, name, "x", "p.py", name, "", "", relevant_tests=covered)

    wide, narrow = cand("wide", tests[:6]), cand("narrow", tests[:2])
    assert screen.selections([wide, narrow]) == [tests, tests[:2]]  # 6 x 2 > 10 x 1; 2 x 2 < 10
    shared = [cand("a", tests[:6]), cand("b", tests[:6])]  # two share one control: 6 x 3 < 10 x 2
    assert screen.selections(shared) == [tests[:6], tests[:6]]
    screen.controls[_selection_key(tests[:6])] = set(tests[:6])  # a control already ran: keep it
    assert screen.selections([wide]) == [tests[:6]]


def test_a_hanging_test_is_judged_by_its_own_limit() -> None:
    """Each test of a candidate's run gets ten times what it took at validation (and a second, at least 1.5
    seconds): a mutant that hangs one test is stopped then, not at the whole selection's budget."""
    from forager.tasks.baseline import Baseline
    from forager.tasks.screen import TEST_LIMIT_FLOOR, Screen, test_limit

    tests = ["t.py::fast", "t.py::slow"]
    base = Baseline(tests, {"t.py::fast": 0.01, "t.py::slow": 2.0}, {}, 1.0)
    assert test_limit(base, tests[:1]) == TEST_LIMIT_FLOOR and test_limit(base, tests) == 21.0
    cand = Candidate(TaskKind.MUTATE_FIX, "c", "x", "p.py", "f", "setup", "gold", relevant_tests=tests[:1],
                     swap=[("p.py", "f")])
    probe = Screen(runner=None, baseline=base, cap_s=600)._probe(cand)  # type: ignore[arg-type]
    assert probe.test_limit == TEST_LIMIT_FLOOR < probe.timeout


def test_the_traced_run_split_by_file_and_merged() -> None:
    """The suite's files dealt out over workers (a file's tests together, balanced by duration); the
    maps merged: callers joined, the smallest depth, import-time functions of every part, the
    passing tests in the suite's order, the run's time summed."""
    from forager.tasks.baseline import Baseline, _merge, split_by_file

    passed = ["a.py::1", "a.py::2", "b.py::1", "c.py::1", "c.py::2"]
    durations = {"a.py::1": 3.0, "a.py::2": 1.0, "b.py::1": 2.0, "c.py::1": 1.0, "c.py::2": 0.5}
    parts = split_by_file(passed, durations, 2)
    assert sorted(map(sorted, parts)) == [["a.py::1", "a.py::2"], ["b.py::1", "c.py::1", "c.py::2"]]
    assert split_by_file(passed, durations, 1) == [passed] and len(split_by_file(passed[:1], {}, 4)) == 1
    one = Baseline(["a.py::1", "a.py::2"], durations, {("m.py", 1): ["a.py::1"]}, 2.0, {("m.py", 1): 2},
                   {("m.py", 9)}, {"early.py"})
    two = Baseline(["c.py::1", "b.py::1"], durations, {("m.py", 1): ["b.py::1"], ("n.py", 3): ["c.py::1"]}, 1.5,
                   {("m.py", 1): 1, ("n.py", 3): 1}, {("n.py", 1)})
    merged = _merge([one, two], passed, durations)
    assert merged.passed == ["a.py::1", "a.py::2", "b.py::1", "c.py::1"]  # c.py::2 failed in its part
    assert merged.callers == {("m.py", 1): ["a.py::1", "b.py::1"], ("n.py", 3): ["c.py::1"]}
    assert merged.depth == {("m.py", 1): 1, ("n.py", 3): 1} and merged.run_s == 3.5
    assert merged.import_time == {("m.py", 9), ("n.py", 1)} and merged.at_import("early.py", 5)
