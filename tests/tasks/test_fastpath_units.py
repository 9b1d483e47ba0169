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
    assert swap_target(method, stub, "A.f") is None  # the __class__ cell goes: no code swap can do that


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
