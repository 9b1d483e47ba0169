"""What the image's passing tests exercise: the baseline run with the call collector, the source
functions the tests call, and the timeouts a candidate's runs get from the baseline's durations."""

from __future__ import annotations

import io
import json
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from forager.enums import BuildStatus
from forager.paths import is_test_like_path
from forager.runtime import get_runtime
from forager.store import db
from forager.store.tasks_db import find_image, validation_results
from forager.tasks.deal import deal
from forager.tasks.errors import TaskError
from forager.tasks.mutations import list_functions
from forager.tasks.trace_plugin import TRACE_PATH, TRACE_PLUGIN, TRACE_SOURCE
from forager.tasks.workspace import Workspace

NOT_SOURCE_NAMES = ("setup.py", "noxfile.py", "fabfile.py", "tasks.py", "conftest.py")
"""Python files at any depth that are tooling, never a project's code."""


@dataclass
class Baseline:
    passed: list[str]
    durations: dict[str, float]
    callers: dict[tuple[str, int], list[str]]
    """(path, first line of a function) -> tests that call it."""
    run_s: float
    depth: dict[tuple[str, int], int] = field(default_factory=dict)
    """(path, first line of a function) -> its call depth from the tests (1: a test calls it)."""
    import_time: set[tuple[str, int]] = field(default_factory=set)
    """Functions called while a module was imported (by a conftest, at collection, or by a test)."""
    preimported: set[str] = field(default_factory=set)
    """Files of the project imported before the call collector started (their import-time calls
    unseen: every function in them counts as called at import)."""
    sources: dict[str, str] | None = None
    """The text of the project's source files the tests call into, as the image has them (None:
    not read yet; kept with the call map, so a later generation reads no file in the container)."""
    purelib: str | None = None
    """The image's site-packages directory (kept with the call map: no probe of it later)."""

    def at_import(self, path: str, lineno: int) -> bool:
        """Whether a change to this function can reach tests that never call it (module-level code
        ran it): only a fresh process running the whole suite judges such a change."""
        return (path, lineno) in self.import_time or path in self.preimported


@dataclass
class SourceFunction:
    path: str
    qualname: str
    tests: list[str]
    """The passing tests that call it."""
    lineno: int = 0
    depth: int | None = None
    """Call depth from the tests (None: not traced)."""
    import_time: bool = False
    """Called while the test modules were imported: a change can break any test."""


def is_source_path(path: str) -> bool:
    """A Python file of the project's own code (not tests, docs, examples or tooling)."""
    name = path.rsplit("/", 1)[-1]
    return path.endswith(".py") and not is_test_like_path(path) and name not in NOT_SOURCE_NAMES


def load_image(image: str) -> tuple[db.Image, list[str], dict[str, float]]:
    """A validated image (id or unique prefix) in the registry and the engine, its passing tests
    (flaky ones left out) and every test's duration."""
    img = find_image(image)
    if img is None:
        raise TaskError(f"no image {image!r} in the registry (see `forager images list`)")
    if img.status != BuildStatus.VALIDATED:
        raise TaskError(f"image {img.id} is {img.status}, not validated; tasks need a validated image")
    passed, durations = validation_results(img.build_id)
    if not passed:
        raise TaskError(f"image {img.id} has no passing tests recorded; nothing can judge a task")
    if not get_runtime().image_exists(img.id):
        raise TaskError(f"image {img.id} is in the registry but not in the Docker engine")
    return img, passed, durations


def _install_tracer(ws: Workspace) -> bool:
    """Put the call collector into the image's site-packages; whether that worked."""
    purelib = ws.site_packages()
    if not purelib:
        return False
    ws.sandbox.put_files({f"{purelib}/{TRACE_PLUGIN}.py": TRACE_SOURCE.encode()})
    return True


TRACE_FILES = {"callers": TRACE_PATH, "depth": TRACE_PATH + ".depth", "import": TRACE_PATH + ".import",
               "preimported": TRACE_PATH + ".preimported"}
BASELINE_TAR = "/tmp/forager-baseline.tar"


def _fetch(ws: Workspace, traced: bool) -> tuple[dict[str, bytes], dict[str, str]]:
    """What the traced run left, in one exec and one copy: the collector's files (by part) and the
    text of the repository's tracked Python files (by path), which the call map keeps."""
    trace = " ".join(TRACE_FILES[k].removeprefix("/tmp/") for k in TRACE_FILES) if traced else ""
    res = ws.sh(f"git ls-files -z -- '*.py' > /tmp/forager-py.txt; rm -f {BASELINE_TAR}; "
                f"tar -cf {BASELINE_TAR} --ignore-failed-read -C /repo --null -T /tmp/forager-py.txt "
                f"{f'-C /tmp {trace}' if trace else ''} 2>/dev/null; test -f {BASELINE_TAR}", 300)
    raw = ws.sandbox.get_file(BASELINE_TAR) if res.ok else None
    files: dict[str, bytes] = {}
    if raw:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar.getmembers():
                f = tar.extractfile(member) if member.isfile() else None
                if f is not None:
                    files[member.name] = f.read()
    parts = {k: files.pop(path.removeprefix("/tmp/"), b"") for k, path in TRACE_FILES.items()} if traced else {}
    texts: dict[str, str] = {}
    for path, data in files.items():
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return parts, texts


def _pairs_of(raw: bytes, cast: type) -> dict[tuple[str, int], Any]:
    out: dict[tuple[str, int], Any] = {}
    try:
        for key, value in json.loads(raw or b"{}").items():
            path, _, line = key.rpartition(":")
            out[(path, int(line))] = cast(value)
    except (ValueError, AttributeError, TypeError):
        return {}
    return out


def _read_callers(raw: bytes, still: list[str]) -> dict[tuple[str, int], list[str]]:
    keep = set(still)
    return _pairs_of(raw, lambda tests: [t for t in tests if t in keep])  # type: ignore[arg-type]


def collect_baseline(ws: Workspace | list[Workspace], passed: list[str], durations: dict[str, float]) -> Baseline:
    """Run the passing tests once with the call collector: who calls what, and do they still pass;
    the source files the tests call into are read in the same go. Given several workspaces (each
    its own container of the image), the test files are dealt out over them and traced side by
    side, and the maps merged: a test that passes only after another file's tests ran in the same
    process drops out of the baseline (never a FAIL_TO_PASS nor a PASS_TO_PASS)."""
    spaces = ws if isinstance(ws, list) else [ws]
    parts = split_by_file(passed, durations, len(spaces))
    if len(parts) == 1:
        traced = [_traced(spaces[0], passed, durations)]
    else:
        with ThreadPoolExecutor(len(parts), thread_name_prefix="forager-trace") as pool:
            traced = list(pool.map(lambda i: _traced(spaces[i], parts[i], durations), range(len(parts))))
    baseline = _merge([b for b, _, _ in traced], passed, durations)
    if not baseline.passed:
        raise TaskError(f"the baseline tests do not pass in a fresh container of {spaces[0].image}: "
                        f"{traced[0][2][-500:]}")
    baseline.purelib = spaces[0].site_packages()
    baseline.sources = _source_files(traced[0][1], baseline)
    return baseline


def split_by_file(passed: list[str], durations: dict[str, float], n: int) -> list[list[str]]:
    """``passed`` in up to ``n`` parts of whole test files (a file's tests stay together, in their
    order), balanced by the tests' durations at validation."""
    files: dict[str, list[str]] = {}
    for t in passed:
        files.setdefault(t.split("::", 1)[0], []).append(t)
    costs = {f: sum(durations.get(t, 0.05) for t in tests) for f, tests in files.items()}
    order = sorted(files, key=lambda f: -costs[f])
    return [[t for i in share for t in files[order[i]]] for share in deal([costs[f] for f in order], n)]


def _traced(ws: Workspace, tests: list[str], durations: dict[str, float]) -> tuple[Baseline, dict[str, str], str]:
    """One traced run of ``tests`` in ``ws``: its map, the texts of the repository's Python files
    (by path) and the run's output."""
    traced = _install_tracer(ws)
    extra = f"-p {TRACE_PLUGIN} --forager-trace={TRACE_PATH}" if traced else ""
    start = time.monotonic()
    run = ws.run(tests, None, extra)
    if traced and not run.results:  # the collector itself got in the way: run plainly
        run = ws.run(tests, None)
        traced = False
    run_s = time.monotonic() - start
    still = [t for t in tests if run.outcome(t) == "passed"]
    if not still:
        return Baseline([], durations, {}, run_s), {}, run.exec.output
    parts, texts = _fetch(ws, traced)
    callers = _read_callers(parts.get("callers", b""), still) if traced else {}
    return (Baseline(still, durations, callers, run_s, _pairs_of(parts.get("depth", b""), int) if traced else {},
                     _read_import(parts.get("import", b"")), _read_preimported(parts.get("preimported", b""))),
            texts, run.exec.output)


def _merge(parts: list[Baseline], passed: list[str], durations: dict[str, float]) -> Baseline:
    """One map of traced runs of parts of the suite (in the order of ``passed``; run_s summed: the
    time one process would take for the whole)."""
    if len(parts) == 1:
        return parts[0]
    still = {t for b in parts for t in b.passed}
    callers: dict[tuple[str, int], list[str]] = {}
    depth: dict[tuple[str, int], int] = {}
    for b in parts:
        for key, tests in b.callers.items():
            callers.setdefault(key, []).extend(tests)
        for key, d in b.depth.items():
            depth[key] = min(d, depth.get(key, d))
    return Baseline([t for t in passed if t in still], durations, callers, sum(b.run_s for b in parts), depth,
                    set().union(*(b.import_time for b in parts)), set().union(*(b.preimported for b in parts)))


def _read_import(raw: bytes) -> set[tuple[str, int]]:
    try:
        return {(k.rpartition(":")[0], int(k.rpartition(":")[2])) for k in json.loads(raw or b"[]")}
    except (ValueError, AttributeError, TypeError):
        return set()


def _read_preimported(raw: bytes) -> set[str]:
    try:
        return {str(p) for p in json.loads(raw or b"[]")}
    except (ValueError, TypeError):
        return set()


def timeout_for(baseline: Baseline, tests: list[str] | None) -> float:
    """Seconds a run of ``tests`` (None: the whole baseline) gets: a few times what they took in
    the baseline, with a floor (the workspace caps it at the configured test timeout)."""
    if tests is None:
        return max(60.0, 3 * baseline.run_s + 20)
    est = sum(baseline.durations.get(t, 0.5) for t in tests)
    return max(30.0, 3 * est + 20, baseline.run_s + 20)


def _tests_by_name(qualname: str, lowered: list[tuple[str, str]]) -> list[str]:
    """Without a trace: the tests whose id mentions the function's name."""
    name = qualname.rsplit(".", 1)[-1].lower().strip("_")
    return [t for t, low in lowered if name and len(name) > 2 and name in low]


def _source_files(texts: dict[str, str], baseline: Baseline) -> dict[str, str]:
    """Of the repository's Python files, the project's sources (those the call map names, when it
    names any)."""
    traced_paths = {p for p, _ in baseline.callers}
    return {p: t for p, t in texts.items()
            if is_source_path(p) and (not baseline.callers or p in traced_paths)}


def read_sources(ws: Workspace, baseline: Baseline) -> dict[str, str]:
    """The project's source files in the container (those the call map names, when it names any)."""
    res = ws.sh("git ls-files -z -- '*.py'", 60)
    paths = [p for p in res.output.split("\0") if p and is_source_path(p)] if res.ok else []
    if baseline.callers:
        traced_paths = {p for p, _ in baseline.callers}
        paths = [p for p in paths if p in traced_paths]
    return ws.read_files(paths)


def covered_functions(ws: Workspace | None, baseline: Baseline) -> tuple[dict[str, str], list[SourceFunction]]:
    """Source files and the functions the passing tests exercise (name matching as a fallback); the
    files come from the baseline when it carries them (then ``ws`` may be None), else from ``ws``."""
    if baseline.sources is None:
        if ws is None:
            raise TaskError("no workspace to read the sources from")
        baseline.sources = read_sources(ws, baseline)
    sources = baseline.sources
    out: list[SourceFunction] = []
    lowered = [(t, t.lower()) for t in baseline.passed]
    for path, text in sources.items():
        for fn in list_functions(text):
            if baseline.callers:
                tests = baseline.callers.get((path, fn.lineno), [])
            else:
                tests = _tests_by_name(fn.qualname, lowered)
            if tests and fn.body_statements > 0:
                at_import = baseline.at_import(path, fn.lineno)
                out.append(SourceFunction(path, fn.qualname, baseline.passed if at_import else tests, fn.lineno,
                                          baseline.depth.get((path, fn.lineno)), at_import))
    return sources, out
