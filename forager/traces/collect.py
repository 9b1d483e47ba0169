"""Collecting an image's traces: one network-off workspace container (``forager.tasks.workspace``:
the sandbox limits episodes run under), the baseline run with the call collector (which tests call
which function), the plan, one test run with the tracer, the output checked and stored.

``collect_for_image`` is the plain entry point (CLI, API jobs, a campaign stage); ``trace_targets``
runs the tracer for given targets in a given workspace (the benchmark and the tests use it).
"""

from __future__ import annotations

import shlex
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from forager.build.testrun import TestRun, site_packages
from forager.config import Settings, get_settings
from forager.contamination import evaluation_sets
from forager.errors import EngineError
from forager.store.traces import add_traces
from forager.tasks.baseline import Baseline, collect_baseline, covered_functions, load_image, timeout_for
from forager.tasks.errors import TaskError
from forager.tasks.workspace import Workspace, WorkspaceConfig
from forager.traces.collector_source import COLLECTOR_PLUGIN, COLLECTOR_SOURCE, OUT_PATH, SPEC_PATH
from forager.traces.plan import Target, plan, planned_tests
from forager.traces.readout import Bounds, RawTrace, parse_output, to_row

Progress = Callable[[str], None]
TRACED_ENV = {"PYTHONHASHSEED": "0"}
"""Set and sets print in one order in every run (part of what makes traces reproducible)."""


class TraceWorkspace(Workspace):
    """A workspace (network off, the sandbox limits) whose container is labelled as trace collection."""

    ROLE = "traces"


@dataclass(frozen=True)
class CollectConfig:
    max_frames: int
    value_chars: int
    max_traces: int
    callees: str
    engine: str
    output_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CollectConfig:
        s = settings or get_settings()
        return cls(s.trace_max_frames, s.trace_value_chars, s.trace_max_per_image, s.trace_callees,
                   s.trace_engine, s.trace_output_mb * 1024 * 1024)

    def spec(self, targets: list[Target]) -> dict[str, Any]:
        """What the tracer reads (``SPEC_PATH``)."""
        return {"root": "/repo/", "out": OUT_PATH, "max_frames": self.max_frames,
                "value_chars": self.value_chars, "max_traces": self.max_traces, "callees": self.callees,
                "engine": self.engine, "targets": [t.spec() for t in targets]}


@dataclass
class TracedRun:
    traces: list[RawTrace]
    refused: int
    """Output lines that were malformed or outside the bounds."""
    run: TestRun
    seconds: float


def install_collector(ws: Workspace) -> None:
    purelib = site_packages(ws.sandbox)
    if not purelib:
        raise TaskError(f"no site-packages found in {ws.image}; the tracer cannot be installed")
    ws.sandbox.put_files({f"{purelib}/{COLLECTOR_PLUGIN}.py": COLLECTOR_SOURCE.encode()})


def read_output(ws: Workspace, limit: int) -> bytes:
    """The tracer's output, at most ``limit`` bytes of it (a test may have written to it)."""
    cut = f"/tmp/forager-traces-cut-{time.monotonic_ns()}"
    res = ws.sh(f"head -c {int(limit)} {OUT_PATH} > {cut} 2>/dev/null", 120)
    raw = ws.sandbox.get_file(cut) if res.ok else None
    ws.sh(f"rm -f {cut}", 30)
    return raw or b""


def trace_targets(ws: Workspace, targets: list[Target], cfg: CollectConfig, timeout: float) -> TracedRun:
    """Run the targets' tests once with the tracer; the checked traces it wrote."""
    import json

    install_collector(ws)
    ws.sh(f"rm -f {OUT_PATH}", 30)
    ws.sandbox.put_files({SPEC_PATH: json.dumps(cfg.spec(targets)).encode()})
    start = time.monotonic()
    run = ws.run(planned_tests(targets), timeout, f"-p {COLLECTOR_PLUGIN} --forager-traces={shlex.quote(SPEC_PATH)}")
    seconds = time.monotonic() - start
    traces, refused = parse_output(read_output(ws, cfg.output_bytes), Bounds(cfg.max_frames, cfg.value_chars))
    return TracedRun(traces, refused, run, seconds)


@dataclass
class CollectSummary:
    image: str
    repository: str = ""
    functions: int = 0
    tests: int = 0
    traces: list[str] = field(default_factory=list)
    """Ids of the traces stored."""
    collected: int = 0
    already_stored: int = 0
    refused: int = 0
    unmatched: int = 0
    """Traces whose function's source could not be found."""
    frames: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    engine: str = ""
    baseline_s: float = 0.0
    traced_s: float = 0.0
    duration_s: float = 0.0
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        fr = sorted(self.frames)
        return {
            "image": self.image, "repository": self.repository, "functions": self.functions,
            "tests": self.tests, "collected": self.collected, "stored": len(self.traces),
            "already_stored": self.already_stored, "refused": self.refused, "unmatched": self.unmatched,
            "frames_median": statistics.median(fr) if fr else 0,
            "frames_p90": fr[int(0.9 * (len(fr) - 1))] if fr else 0,
            "bytes_mean": round(statistics.mean(self.sizes)) if self.sizes else 0,
            "engine": self.engine, "baseline_s": round(self.baseline_s, 1), "traced_s": round(self.traced_s, 1),
            "duration_s": round(self.duration_s, 1), "contamination": evaluation_sets(self.repository),
            "trace_ids": self.traces, "error": self.error,
        }


def open_workspace(image: str, progress: Progress, settings: Settings) -> tuple[Workspace, Any, Baseline,
                                                                                  dict[str, str]]:
    """A workspace of a validated image, its baseline (the call map) and the project's sources."""
    img, passed, durations = load_image(image)
    env = {**((img.recipe or {}).get("env") or {}), **TRACED_ENV}
    ws = TraceWorkspace(img.id, img.test_command, progress, env, WorkspaceConfig.from_settings(settings))
    try:
        progress("running the passing tests once to see which functions they call")
        baseline = collect_baseline(ws, passed, durations)
        sources, _ = covered_functions(ws, baseline)
    except BaseException:
        ws.remove()
        raise
    return ws, img, baseline, sources


def rows_of(traced: TracedRun, targets: list[Target], sources: dict[str, str],
            ws: Workspace) -> tuple[list[dict[str, Any]], int]:
    """Registry rows of the traces (sources of callees' files read when missing); unmatched count."""
    wanted = {t.file.removeprefix("/repo/") for t in traced.traces} - set(sources)
    if wanted:
        sources = {**sources, **ws.read_files(sorted(wanted))}
    qualnames = {t.id: t.qualname for t in targets}
    rows = [to_row(t, sources, qualnames) for t in traced.traces]
    return [r for r in rows if r is not None], sum(r is None for r in rows)


def collect_for_image(image_id: str, functions: int | None = None, per_function: int | None = None,
                      seed: int = 0, *, settings: Settings | None = None,
                      progress: Progress | None = None) -> CollectSummary:
    """Trace up to ``functions`` × ``per_function`` calls in ``image_id`` and store them; the summary
    says what was done (``error`` set, nothing raised, when the image cannot be traced)."""
    s = settings or get_settings()
    log = progress or (lambda _: None)
    start = time.monotonic()
    result = CollectSummary(image_id)
    try:
        ws, img, baseline, sources = open_workspace(image_id, log, s)
        try:
            result.image, result.repository, result.baseline_s = img.id, img.source, baseline.run_s
            targets = plan(sources, baseline, functions or s.trace_functions,
                           per_function or s.trace_per_function, seed)
            if not targets:
                raise TaskError(f"no source function of {img.id} is called by its passing tests")
            result.functions, result.tests = len(targets), len(planned_tests(targets))
            log(f"tracing {result.functions} functions with {result.tests} tests")
            traced = trace_targets(ws, targets, CollectConfig.from_settings(s),
                                   3 * timeout_for(baseline, planned_tests(targets)))
            _record(result, traced, *rows_of(traced, targets, sources, ws), seed)
        finally:
            ws.remove()
    except (TaskError, EngineError, ValueError) as exc:
        result.error = str(exc)
    result.duration_s = time.monotonic() - start
    return result


def _record(result: CollectSummary, traced: TracedRun, rows: list[dict[str, Any]], unmatched: int,
            seed: int) -> None:
    result.collected, result.refused, result.unmatched = len(traced.traces), traced.refused, unmatched
    result.traced_s = traced.seconds
    result.engine = traced.traces[0].engine if traced.traces else ""
    result.traces, result.already_stored = add_traces(result.image, result.repository, seed, rows)
    result.frames = [int(r["n_frames"]) for r in rows]
    result.sizes = [int(r["size_bytes"]) for r in rows]
    if not traced.traces and not traced.run.results:
        result.error = f"the traced test run produced no results: {traced.run.exec.output[-500:]}"
