"""The fixed costs of a generation, cut: a stub's session check from one parse agrees with the
whole-tree comparison it replaces (stricter where two functions share a name); candidates a session
cannot run are gathered into batches of their own; a failing test's report, made without pytest's
traceback formatting, has the error lines of pytest's own; a file's functions are listed once; the
phases of a call are timed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forager.enums import TaskKind
from forager.tasks.baseline import SourceFunction
from forager.tasks.behaviour import error_signature
from forager.tasks.candidates import Candidate, session_first, stub_candidates
from forager.tasks.generate import GenerateResult
from forager.tasks.mutations.functions import list_functions
from forager.tasks.mutations.mutate import plan_stub, stub_function
from forager.tasks.session_plugin import SESSION_SOURCE
from forager.tasks.swap import swap_target

SRC = '''import functools


class Base:
    def f(self, x):
        return x


class A(Base):
    def f(self, x):
        """Doubled."""
        return super().f(x) * 2

    def g(self, x):
        y = x + 1
        return y

    @property
    def size(self):
        return self._size

    @size.setter
    def size(self, value):
        self._size = value

    def h(self):
        return __class__


def outer(n):
    def inner(m):
        return m + n
    return inner(n)


@functools.lru_cache
def cached(x):
    """Cached."""
    return 2 * x


def one_liner(x): return x
'''


def _old_check(source: str, qualname: str) -> str | None:
    """What the session check was before: both whole files parsed and compared."""
    stubbed = stub_function(source, qualname)
    return swap_target(source, stubbed, qualname) if stubbed is not None else None


def test_the_stub_check_from_one_parse_agrees_with_the_whole_tree_comparison() -> None:
    checked = 0
    for fn in list_functions(SRC):
        stub = plan_stub(SRC, fn.qualname)
        if stub is None:
            assert stub_function(SRC, fn.qualname) is None
            continue
        checked += 1
        new = stub.outer if stub.swappable else None
        old = _old_check(SRC, fn.qualname)
        if fn.qualname == "A.size":
            # the whole-tree check let a session swap the stubbed getter in, but the session finds
            # functions by (file, qualified name): the setter would have got the getter's code too
            assert (old, new) == ("A.size", None)
        else:
            assert new == old, fn.qualname
    assert checked >= 7
    # super() goes with the body: the session keeps the __class__ cell (padded), so it swaps
    assert plan_stub(SRC, "A.f").swappable is True  # type: ignore[union-attr]
    assert plan_stub(SRC, "A.h").swappable is True  # type: ignore[union-attr]
    assert plan_stub(SRC, "A.g").swappable is True  # type: ignore[union-attr]
    # a property's getter and setter share a name: never swapped (the session could take the other)
    assert plan_stub(SRC, "A.size").swappable is False  # type: ignore[union-attr]
    # a nested function swaps through its outer function
    inner = plan_stub(SRC, "outer.<locals>.inner")
    assert inner is not None and inner.outer == "outer" and inner.swappable
    assert "raise NotImplementedError" in inner.source and "return inner(n)" in inner.source


def test_stub_candidates_carry_the_swap_targets_of_the_check() -> None:
    fns = [SourceFunction("m.py", q, ["t::a"], 1, 1) for q in ("A.g", "A.f", "cached", "outer.<locals>.inner")]
    cands = {c.function: c for c in stub_candidates({"m.py": SRC}, fns, 0)}
    assert cands["A.g"].swap == [("m.py", "A.g")]
    assert cands["cached"].swap == [("m.py", "cached")]
    assert cands["outer.<locals>.inner"].swap == [("m.py", "outer"), ("m.py", "outer.<locals>.inner")]
    assert cands["A.f"].swap == [("m.py", "A.f")]  # super() goes: swapped with its cell kept
    getter = [SourceFunction("m.py", q, ["t::a"], 1, 1) for q in ("A.size", "A.g")]
    held = [c.function for c in stub_candidates({"m.py": SRC}, getter, 0)]
    assert held[-1] == "A.size"  # the one that needs fresh processes (two defs of A.size) comes last
    imported = [SourceFunction("m.py", "A.g", ["t::a"], 1, 1, import_time=True)]
    assert next(stub_candidates({"m.py": SRC}, imported, 0)).swap is None


def _cand(i: int, swap: bool) -> Candidate:
    return Candidate(TaskKind.MUTATE_FIX, f"c{i}", swap=[("m.py", "f")] if swap else None)


def test_candidates_a_session_cannot_run_come_a_batch_at_a_time() -> None:
    kinds = [True, False, True, False, False, True, False, True]
    out = [c.description for c in session_first(iter([_cand(i, k) for i, k in enumerate(kinds)]), 3)]
    # c1, c3, c4 are held until three are held, then let out together; c6 at the end
    assert out == ["c0", "c2", "c1", "c3", "c4", "c5", "c7", "c6"]
    assert sorted(out) == sorted(f"c{i}" for i in range(len(kinds)))  # none lost, none twice


FAILING = """import pytest


def f(x):
    return x + 1


def test_compare():
    assert f(1) == 3


def test_message():
    assert [1, 2] == [1, 3], "lists differ"


def test_cause():
    try:
        {}["k"]
    except KeyError as e:
        raise ValueError("bad value\\nsecond line") from e


def test_context():
    try:
        1 / 0
    except ZeroDivisionError:
        raise RuntimeError("while handling")


def test_does_not_raise():
    with pytest.raises(ValueError):
        pass


def test_quiet():
    pytest.fail("just this", pytrace=False)


@pytest.fixture
def broken():
    raise ValueError("the fixture broke")


def test_uses_a_broken_fixture(broken):
    pass
"""

COMPARE = """import json

import pytest

import forager_session

OUT = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    if call.when == "call" and call.excinfo is not None:
        OUT[item.nodeid] = [forager_session._error_report(item)(call.excinfo), str(item.repr_failure(call.excinfo))]
    elif call.excinfo is not None:  # an error in a fixture: pytest reports it with _repr_failure_py
        OUT[item.nodeid] = [forager_session._error_report(item)(call.excinfo),
                            str(item._repr_failure_py(call.excinfo, style="short"))]
    yield


def pytest_sessionfinish(session):
    with open("reports.json", "w") as fh:
        json.dump(OUT, fh)
"""


def test_a_failing_tests_report_has_the_error_lines_of_pytests_own(tmp_path: Path) -> None:
    """The session runner's report of a failure, made without pytest's traceback formatting, has
    the ``E`` lines of pytest's full report (what a statement quotes and the behavioural key reads):
    compared by a real pytest on assertions, chained exceptions, pytest.raises, pytest.fail and an
    error in a fixture (which errors every test that uses it: a stubbed function a fixture calls)."""
    (tmp_path / "forager_session.py").write_text(SESSION_SOURCE)
    (tmp_path / "compare_reports.py").write_text(COMPARE)
    (tmp_path / "test_failing.py").write_text(FAILING)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short",
                           "-p", "compare_reports", "test_failing.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    reports = json.loads((tmp_path / "reports.json").read_text())
    assert len(reports) == 7
    assert reports["test_failing.py::test_uses_a_broken_fixture"][0] == "E   ValueError: the fixture broke"
    for nodeid, (ours, theirs) in reports.items():
        e_lines = [ln.rstrip() for ln in theirs.splitlines() if ln.startswith("E ")]
        assert [ln.rstrip() for ln in ours.splitlines()] == (e_lines or [theirs]), nodeid
        assert error_signature(ours) == error_signature(theirs), nodeid
    assert "E   assert 2 == 3" in reports["test_failing.py::test_compare"][0]
    cause = reports["test_failing.py::test_cause"][0].splitlines()
    assert cause == ["E   KeyError: 'k'", "E   ValueError: bad value", "E   second line"]


def test_a_files_functions_are_listed_once_and_callers_cannot_spoil_the_list() -> None:
    first = list_functions(SRC)
    first.clear()
    again = list_functions(SRC)
    assert [f.qualname for f in again][:3] == ["Base.f", "A.f", "A.g"]
    start = time.perf_counter()
    for _ in range(200):
        list_functions(SRC)
    assert time.perf_counter() - start < 0.05  # kept: no parse per call


def test_the_phases_of_a_generation_are_timed_into_its_summary() -> None:
    res = GenerateResult("img", "mutate-fix")
    with res.timed("container"):
        time.sleep(0.01)
    with res.timed("container"):
        time.sleep(0.01)
    phases = res.summary()["phases_s"]
    assert set(phases) == {"container"} and phases["container"] >= 0.02


def test_an_exec_that_prints_nothing_is_asked_again_for_the_head() -> None:
    """The workspace once read ``git rev-parse HEAD`` as an empty output (exit 0, no output, under
    load, right after the container started) and the generation ended with an IndexError."""
    from types import SimpleNamespace

    from forager.runtime import ExecResult
    from forager.tasks.errors import TaskError
    from forager.tasks.workspace import Workspace

    outputs = ["", "0123abc\n"]
    ws = SimpleNamespace(image="img", sh=lambda c, t=0: ExecResult(0, outputs.pop(0), 0.1))
    assert Workspace._head(ws) == "0123abc"  # type: ignore[arg-type]
    ws = SimpleNamespace(image="img", sh=lambda c, t=0: ExecResult(0, "", 0.1))
    with pytest.raises(TaskError, match="printed nothing"):
        Workspace._head(ws)  # type: ignore[arg-type]


def test_workers_per_generation_and_the_first_batch_size() -> None:
    """One worker container per core by default (at most 4), the setting's number when given, one
    for from-history; a setting out of range is refused when the settings load. implement-feature's
    first batch asks for fewer spare candidates than mutate-fix's (stubs almost always validate)."""
    import os

    from pydantic import ValidationError

    from forager.config import Settings
    from forager.tasks.generate import _wanted, task_workers

    auto = Settings(task_workers=0)
    assert task_workers(auto, TaskKind.MUTATE_FIX) == max(1, min(4, os.cpu_count() or 1))
    assert task_workers(Settings(task_workers=3), TaskKind.IMPLEMENT_FEATURE) == 3
    assert task_workers(Settings(task_workers=3), TaskKind.FROM_HISTORY) == 1
    with pytest.raises(ValidationError):
        Settings(task_workers=-1)
    with pytest.raises(ValidationError):
        Settings(task_workers=17)
    assert _wanted(GenerateResult("img", "implement-feature"), 10) == 12
    assert _wanted(GenerateResult("img", "mutate-fix"), 10) == 14


KEEPS_CELL = '''class Base:
    def f(self, x):
        return x


class A(Base):
    def f(self, x):
        return super().f(x) * 2


def outer(n):
    def inner(m):
        return m + n
    return inner
'''


def test_the_session_swaps_in_a_stub_that_drops_the_class_cell(tmp_path: Path) -> None:
    """A method that called ``super()`` loses its ``__class__`` cell with its body; the session runner
    compiles the new code with the cell kept (a statement that never runs names it), so the live
    method runs the stub; a change that would grow a closure is refused (the caller runs it the slow
    way), and a nested function that drops its free variable swaps through its outer function."""
    import importlib.util

    ns: dict[str, object] = {}
    exec(SESSION_SOURCE, ns)  # noqa: S102 - the runner's own source, as pytest loads it
    ns["REPO"] = f"{tmp_path}/"
    path = tmp_path / "keeps_cell.py"
    path.write_text(KEEPS_CELL)
    spec = importlib.util.spec_from_file_location("keeps_cell", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    closure = mod.outer(5)
    ns["_build_index"]()  # type: ignore[operator]
    swap = ns["_swap"]
    path.write_text(KEEPS_CELL.replace("return super().f(x) * 2", "raise NotImplementedError"))
    assert swap("keeps_cell.py", "A.f", False) is None  # type: ignore[operator]
    with pytest.raises(NotImplementedError):
        mod.A().f(3)
    assert mod.Base().f(3) == 3 and mod.A.f.__code__.co_freevars == ("__class__",)
    path.write_text(KEEPS_CELL.replace("return super().f(x) * 2", "return super().f(x) * 3"))
    assert swap("keeps_cell.py", "A.f", False) is None  # type: ignore[operator]
    assert mod.A().f(3) == 9  # the cell is the class's own: super() still works after a swap
    path.write_text(KEEPS_CELL.replace("        return x\n", "        return __class__\n", 1))
    assert swap("keeps_cell.py", "Base.f", False) == "closure changes"  # type: ignore[operator]
    assert mod.Base().f(3) == 3  # refused: nothing swapped
    path.write_text(KEEPS_CELL.replace("return m + n", "return m"))
    assert swap("keeps_cell.py", "outer", False) is None  # type: ignore[operator]
    assert swap("keeps_cell.py", "outer.<locals>.inner", True) is None  # type: ignore[operator]
    assert closure(1) == 1 and mod.outer(5)(1) == 1  # the closure made before and one made after
