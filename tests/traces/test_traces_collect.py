"""Collecting traces from a real image (the minipkg fixture), in the network-off workspace; a
hostile test cannot reach the network or the engine, and what it writes into the tracer's output
is refused."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from forager.config import reset_settings
from forager.store.traces import TraceFilters, list_traces
from forager.traces.collect import TRACED_ENV, CollectConfig, TraceWorkspace, collect_for_image, trace_targets
from forager.traces.frames import parse_frames
from forager.traces.plan import Target

pytestmark = pytest.mark.docker

PROBE = '''\
import os
import socket


def probe():
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=3).close()
        net = "reached"
    except OSError as exc:
        net = "blocked: " + type(exc).__name__
    sock = os.path.exists("/var/run/docker.sock")
    with open("/tmp/forager-traces.jsonl", "a") as fh:
        fh.write("not json\\n")
        fh.write('{"target": "x", "test": "t", "kind": "target", "parent": null, "file": "/etc/passwd", '
                 '"name": "n", "first": 1, "status": "complete", "engine": "settrace", "python": "3", '
                 '"frames": [{"event": "call", "line": 1, "locals": {}}]}\\n')
    return net, sock
'''
PROBE_TEST = "from minipkg.probe import probe\n\n\ndef test_probe():\n    probe()\n"


@pytest.fixture
def minipkg_home(minipkg_build: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FORAGER_HOME", str(minipkg_build.home))
    reset_settings()
    return str(minipkg_build.image)


def test_collect_for_image_stores_traces_and_a_second_run_reproduces_them(minipkg_home: str) -> None:
    first = collect_for_image(minipkg_home, functions=10, per_function=2, seed=3)
    s = first.summary()
    assert s["error"] is None, s
    # the session's image may already hold some of these traces (the CLI test collects on it too)
    assert s["engine"] == "settrace" and s["refused"] == 0 and s["stored"] + s["already_stored"] >= 5
    mine, _ = list_traces(TraceFilters(image=minipkg_home), 100, None)
    assert set(first.traces) <= {r.id for r in mine}
    assert {"mean", "running_total", "slugify"} <= {r.function for r in mine}
    total = next(r for r in mine if r.function == "running_total")
    frames = parse_frames(total.frames)
    assert frames[0].event == "call" and frames[-1].event == "return" and total.status == "complete"
    assert frames[1].source.strip() == "total = start"
    # the same seed again: every trace is reproduced, so nothing new is stored
    again = collect_for_image(minipkg_home, functions=10, per_function=2, seed=3)
    assert again.error is None and again.collected == first.collected
    assert again.already_stored == first.collected and again.traces == []


def test_an_unknown_image_is_an_error_not_a_crash(minipkg_home: str) -> None:
    result = collect_for_image("forager/nothing:here", 3, 1)
    assert result.error and "no image" in result.error and result.traces == []


def test_a_hostile_test_cannot_escape_and_its_forgeries_are_refused(minipkg_build: Any) -> None:
    ws = TraceWorkspace(minipkg_build.image, minipkg_build.test_command, lambda _: None, dict(TRACED_ENV))
    try:
        ws.sandbox.put_files({"/repo/src/minipkg/probe.py": PROBE.encode(),
                              "/repo/tests/test_probe.py": PROBE_TEST.encode()})
        target = Target("h0", "src/minipkg/probe.py", "probe", 5, 5, 19, ["tests/test_probe.py::test_probe"])
        cfg = CollectConfig(max_frames=200, value_chars=120, max_traces=10, callees="step",
                            engine="auto", output_bytes=1024 * 1024)
        traced = trace_targets(ws, [target], cfg, 300)
    finally:
        ws.remove()
    assert traced.run.outcome("tests/test_probe.py::test_probe") == "passed"
    assert traced.refused == 2  # the line that is not JSON and the trace of /etc/passwd
    assert len(traced.traces) == 1
    last = traced.traces[0].frames[-1]
    assert last.event == "return"
    net, sock = ast.literal_eval(last.arg or "None")  # the repr of the tuple probe() returned
    assert net.startswith("blocked") and sock is False
