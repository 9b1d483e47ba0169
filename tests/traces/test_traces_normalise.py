"""Normalising what legitimately varies, and the fingerprint that says two traces are the same."""

from __future__ import annotations

from pathlib import Path

from trace_seed import MODULE, MODULE_PATH, run_tracer, target

from forager.traces.frames import Frame
from forager.traces.normalise import fingerprint, normalise_text
from forager.traces.readout import Bounds, parse_output, to_row

T = "tests/test_calc.py::test_stamp"


def test_addresses_times_and_temporary_paths_are_made_stable() -> None:
    assert normalise_text("<object object at 0x7f04c2faf7e0>") == "<object object at 0x?>"
    assert normalise_text("datetime.datetime(2026, 11, 25, 23, 1, 2, 345)") == "datetime.datetime(?)"
    assert normalise_text("'2026-11-25T23:01:02.123+00:00'") == "'<time>'"
    assert normalise_text("1764111662.0123") == "<epoch>"
    assert normalise_text("PosixPath('/tmp/pytest-of-root/pytest-12/test_x0/a')") == \
        "PosixPath('/tmp/<pytest>/test_x0/a')"
    assert normalise_text("[1, 2, 0x10]") == "[1, 2, 0x10]"  # small hex literals are values, kept


def test_the_same_call_twice_has_one_fingerprint_after_normalising(tmp_path: Path) -> None:
    targets = [target("stamp", [T])]
    rows = []
    for _ in range(2):
        traces, _ = parse_output(run_tracer(tmp_path, targets, [(T, "stamp", [7])]), Bounds(200, 60))
        rows.append(to_row(traces[0], {MODULE_PATH: MODULE}, {}))
    assert rows[0] and rows[1]
    assert rows[0]["frames"] != rows[1]["frames"]  # the time and the object's address differ
    assert rows[0]["fingerprint"] == rows[1]["fingerprint"]


def test_a_different_value_is_a_different_trace() -> None:
    a = [Frame(event="call", line=1, locals={"x": "1"}), Frame(event="return", line=2, arg="1")]
    b = [Frame(event="call", line=1, locals={"x": "2"}), Frame(event="return", line=2, arg="2")]
    assert fingerprint("p.py", "f", "t", a) != fingerprint("p.py", "f", "t", b)
    assert fingerprint("p.py", "f", "t", a) != fingerprint("p.py", "f", "t2", a)
