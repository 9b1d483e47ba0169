"""The in-container tracer run locally (no engine): frames, placeholders, bounds, callees,
recursion, exceptions; sys.settrace and sys.monitoring give the same frames."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from needs import unavailable
from trace_seed import target, traced

T = "tests/test_calc.py::test_x"
PYENV = Path("/root/.pyenv/versions")


def frames_of(lines: list[dict], name: str) -> list[dict]:
    return next(line["frames"] for line in lines if line["name"] == name)


def test_running_total_frames_hold_the_locals_after_each_line(tmp_path: Path) -> None:
    lines = traced(tmp_path, [target("running_total", [T])], [(T, "running_total", [[1, 2, 3]])])
    assert len(lines) == 1 and lines[0]["status"] == "complete" and lines[0]["kind"] == "target"
    frames = lines[0]["frames"]
    assert frames[0] == {"event": "call", "line": 8, "locals": {"values": "[1, 2, 3]", "start": "0"}}
    assert frames[-1] == {"event": "return", "line": 14, "arg": "[2, 6, 12]"}
    # the loop body after the first iteration: total changed, the rest written as ".."
    first_append = next(f for f in frames if f["event"] == "line" and f["line"] == 13)
    assert first_append["locals"] == {"values": "..", "start": "..", "total": "2", "out": "..", "v": ".."}
    assert [f["line"] for f in frames if f["event"] == "line"] == [9, 10, 11, 12, 13, 11, 12, 13, 11, 12, 13, 11, 14]


def test_callees_are_stepped_over_or_traced_as_their_own(tmp_path: Path) -> None:
    call = [(T, "running_total", [[1, 2]])]
    stepped = traced(tmp_path, [target("running_total", [T])], call, callees="step")
    assert [line["name"] for line in stepped] == ["running_total"]
    own = traced(tmp_path, [target("running_total", [T])], call, callees="trace")
    assert sorted(line["name"] for line in own) == ["helper", "running_total"]
    helper = next(line for line in own if line["name"] == "helper")
    assert helper["kind"] == "callee" and helper["parent"] == "running_total"
    assert helper["frames"][-1] == {"event": "return", "line": 5, "arg": "2"}


def test_recursion_is_stepped_over_and_exceptions_are_frames(tmp_path: Path) -> None:
    lines = traced(tmp_path, [target("fact", [T]), target("boom", [T])],
                   [(T, "fact", [4]), (T, "boom", [0])])
    fact = frames_of(lines, "fact")
    assert fact[-1] == {"event": "return", "line": 28, "arg": "24"}
    assert sum(f["event"] == "call" for f in fact) == 1  # the inner calls are not in this trace
    boom = frames_of(lines, "boom")
    assert [f["event"] for f in boom if f["event"] != "line"] == ["call", "exception", "exception", "return"]
    assert boom[1 + [f["event"] for f in boom[1:]].index("exception")]["arg"] == "ValueError('bad 0')"
    assert "ZeroDivisionError" in [f for f in boom if f["event"] == "exception"][-1]["arg"]


def test_bounds_frames_values_and_traces(tmp_path: Path) -> None:
    lines = traced(tmp_path, [target("spin", [T])], [(T, "spin", [1000])], max_frames=25)
    assert lines[0]["status"] == "truncated" and len(lines[0]["frames"]) == 25
    long = traced(tmp_path, [target("running_total", [T])], [(T, "running_total", [list(range(500))])],
                  value_chars=20)
    values = [v for f in long[0]["frames"] for v in (f.get("locals") or {}).values()]
    assert max(len(v) for v in values) <= 20
    tests = [f"t{i}" for i in range(5)]
    capped = traced(tmp_path, [target("spin", tests)], [(t, "spin", [3]) for t in tests], max_traces=2)
    assert len(capped) == 2


def test_only_the_planned_tests_trace_their_targets(tmp_path: Path) -> None:
    lines = traced(tmp_path, [target("spin", ["other-test"])], [(T, "spin", [3])])
    assert lines == []


def _interpreter(version: str) -> str:
    found = sorted(PYENV.glob(f"{version}.*/bin/python"))
    if not found:
        unavailable(f"no Python {version} under {PYENV}")
    return str(found[-1])


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_sys_monitoring_gives_the_frames_settrace_gives(tmp_path: Path, version: str) -> None:
    targets = [target("running_total", [T]), target("boom", [T]), target("fact", [T])]
    calls = [(T, "running_total", [[1, 2, 3]]), (T, "boom", [0]), (T, "fact", [5])]
    here = traced(tmp_path, targets, calls, callees="trace")
    there = traced(tmp_path, targets, calls, python=_interpreter(version), callees="trace")
    assert {line["engine"] for line in here} == {"settrace"} and sys.version_info < (3, 12)
    assert {line["engine"] for line in there} == {"monitoring"}
    key = lambda line: (line["name"], line["test"])  # noqa: E731
    assert [(key(a), a["frames"]) for a in sorted(here, key=key)] == \
        [(key(b), b["frames"]) for b in sorted(there, key=key)]


def test_tracing_stops_once_the_tests_targets_have_their_traces(tmp_path: Path) -> None:
    from trace_seed import MODULE, MODULE_PATH

    from forager.traces.collector_source import COLLECTOR_SOURCE

    ns: dict = {"__name__": "forager_tracer"}
    exec(compile(COLLECTOR_SOURCE, "forager_tracer.py", "exec"), ns)  # noqa: S102 - the tracer under test
    mod: dict = {}
    exec(compile(MODULE, f"/repo/{MODULE_PATH}", "exec"), mod)  # noqa: S102 - the module it traces
    ns["configure"]({"root": "/repo/", "out": str(tmp_path / "out.jsonl"), "max_frames": 50, "value_chars": 40,
                     "max_traces": 10, "callees": "step", "engine": "settrace",
                     "targets": [target("helper", [T]).spec()]})
    old = sys.gettrace()
    try:
        ns["begin"](T)
        during = sys.gettrace()
        mod["running_total"]([1, 2, 3])  # helper runs three times: traced once, then no more tracing
        after = sys.gettrace()
    finally:
        ns["end"]()
        sys.settrace(old)
    assert during is not None and after is None
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
