"""The tracer's output is not trusted: malformed or out-of-bound lines are refused, good ones are
joined with their source."""

from __future__ import annotations

import json
from pathlib import Path

from trace_seed import MODULE, MODULE_PATH, run_tracer, target

from forager.traces.readout import Bounds, parse_output, to_row

T = "tests/test_calc.py::test_total"


def test_forged_and_broken_lines_are_refused_and_good_ones_kept(tmp_path: Path) -> None:
    good = run_tracer(tmp_path, [target("running_total", [T])], [(T, "running_total", [[1, 2]])])
    line = json.loads(good.splitlines()[0])
    too_long = {**line, "frames": [{**line["frames"][0], "locals": {"x": "y" * 500}}]}
    too_many = {**line, "frames": line["frames"] * 100}
    outside = {**line, "file": "/etc/passwd"}
    extra = {**line, "shell": "rm -rf /"}
    junk = [b"not json", b"[1, 2]", b"{\"target\": 1}", b"\xff\xfe", json.dumps(too_long).encode(),
            json.dumps(too_many).encode(), json.dumps(outside).encode(), json.dumps(extra).encode()]
    traces, refused = parse_output(b"\n".join(junk + [good.strip()]), Bounds(max_frames=50, value_chars=60))
    assert refused == len(junk) and len(traces) == 1


def test_rows_carry_source_lines_and_the_function(tmp_path: Path) -> None:
    raw = run_tracer(tmp_path, [target("running_total", [T])], [(T, "running_total", [[1, 2]])])
    traces, _ = parse_output(raw, Bounds(200, 60))
    row = to_row(traces[0], {MODULE_PATH: MODULE}, {})
    assert row is not None
    assert row["function"] == "running_total" and row["path"] == MODULE_PATH and row["status"] == "complete"
    source = str(row["source"])
    assert source.startswith("def running_total(values, start=0):") and source.endswith("return out")
    frames = json.loads(str(row["frames"]))
    assert frames[1]["source"] == "    total = start" and row["size_bytes"] == len(str(row["frames"]).encode())
    assert to_row(traces[0], {}, {}) is None  # no source: not stored
