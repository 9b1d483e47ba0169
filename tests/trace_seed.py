"""Real traces without an engine: the collector's source run by a Python interpreter on a small
module (compiled under a /repo/ file name, as in an image), and stored in the registry the way a
collection stores them. Shared by the traces, API, CLI and viewer tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from forager.store.traces import add_traces
from forager.traces.collector_source import COLLECTOR_SOURCE
from forager.traces.plan import Target
from forager.traces.readout import Bounds, parse_output, to_row

MODULE_PATH = "src/demo/calc.py"
MODULE = '''\
import time


def helper(x):
    return x * 2


def running_total(values, start=0):
    total = start
    out = []
    for v in values:
        total = total + helper(v)
        out.append(total)
    return out


def boom(n):
    try:
        raise ValueError("bad %d" % n)
    except ValueError:
        pass
    return 1 / n


def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)


def stamp(x):
    now = time.time()
    obj = object()
    return [x, now, obj]


def spin(n):
    acc = 0
    for i in range(n):
        acc += i
    return acc
'''

DRIVER = r'''
import json, sys
job = json.load(open(sys.argv[1]))
ns = {"__name__": "forager_tracer"}
exec(compile(job["collector"], "forager_tracer.py", "exec"), ns)
mod = {"__name__": "demo.calc"}
exec(compile(job["module"], job["file"], "exec"), mod)
ns["configure"](job["spec"])
for test, name, args in job["calls"]:
    ns["begin"](test)
    try:
        mod[name](*args)
    except Exception:
        pass
    ns["end"]()
'''


def target(name: str, tests: list[str], tid: str | None = None) -> Target:
    """The Target of function ``name`` of MODULE."""
    lines = MODULE.splitlines()
    first = next(i + 1 for i, text in enumerate(lines) if text.startswith(f"def {name}("))
    end = next((i for i in range(first, len(lines)) if lines[i].startswith("def ")), len(lines))
    return Target(tid or name, MODULE_PATH, name, first, first, end, tests)


def run_tracer(tmp: Path, targets: list[Target], calls: list[tuple[str, str, list[Any]]],
               python: str = sys.executable, **spec: Any) -> bytes:
    """The collector's output for ``calls`` ((test, function, args)) under ``python``."""
    out = tmp / f"out-{len(list(tmp.glob('out-*')))}.jsonl"
    full = {"root": "/repo/", "out": str(out), "max_frames": 200, "value_chars": 60, "max_traces": 100,
            "callees": "step", "engine": "auto", "targets": [t.spec() for t in targets], **spec}
    job = tmp / "job.json"
    job.write_text(json.dumps({"collector": COLLECTOR_SOURCE, "module": MODULE, "file": f"/repo/{MODULE_PATH}",
                               "spec": full, "calls": calls}))
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    subprocess.run([python, str(driver), str(job)], check=True, timeout=120)
    return out.read_bytes() if out.exists() else b""


def traced(tmp: Path, targets: list[Target], calls: list[tuple[str, str, list[Any]]],
           python: str = sys.executable, **spec: Any) -> list[dict[str, Any]]:
    """The output lines as JSON objects."""
    raw = run_tracer(tmp, targets, calls, python, **spec)
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def seed_traces(tmp: Path, image: str = "forager/demo:abc-py3.11-farm",
                repository: str = "pypi:demo==1.0") -> list[str]:
    """Store real traces of MODULE in the registry (as a collection would); their ids."""
    targets = [target("running_total", ["tests/test_calc.py::test_total"]),
               target("boom", ["tests/test_calc.py::test_boom"]),
               target("fact", ["tests/test_calc.py::test_fact"])]
    calls = [("tests/test_calc.py::test_total", "running_total", [[1, 2, 3]]),
             ("tests/test_calc.py::test_boom", "boom", [0]),
             ("tests/test_calc.py::test_fact", "fact", [4])]
    raw = run_tracer(tmp, targets, calls)
    traces, refused = parse_output(raw, Bounds(200, 60))
    assert refused == 0 and len(traces) == 3
    rows = [to_row(t, {MODULE_PATH: MODULE}, {}) for t in traces]
    ids, _ = add_traces(image, repository, 0, [r for r in rows if r is not None])
    return ids
