"""The call map of an image, kept: the traced baseline run (which passing tests call which
functions, their call depths, the functions called at import), with the text of the source files
it names and the image's site-packages directory, is computed once per image and reused by every
later generation on it, whatever the kind: a later generation reads its candidates' code without
the container (which starts meanwhile). The key is the image id (an image is
immutable: its gold state and its tests never change), the call collector's source and the list
of passing tests; a stored map is a JSON file under ``$FORAGER_HOME/callmaps``. The control runs
of the fast judge (which tests pass, per selection, in a session without any change) are kept
beside it, keyed as well by the session runner's source."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from forager.tasks.baseline import Baseline, collect_baseline, read_sources
from forager.tasks.session_plugin import SESSION_SOURCE
from forager.tasks.trace_plugin import TRACE_SOURCE
from forager.tasks.workspace import Workspace


def _key(image: str, passed: list[str]) -> str:
    text = "\n".join([image, hashlib.sha256(TRACE_SOURCE.encode()).hexdigest(), *sorted(passed)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pairs(d: dict[tuple[str, int], Any]) -> list[list[Any]]:
    return [[p, line, v] for (p, line), v in d.items()]


def _dump(b: Baseline) -> dict[str, Any]:
    return {"passed": b.passed, "run_s": b.run_s, "callers": _pairs(b.callers), "depth": _pairs(b.depth),
            "import_time": sorted([p, line] for p, line in b.import_time), "preimported": sorted(b.preimported),
            "sources": b.sources, "purelib": b.purelib}


def _load(raw: dict[str, Any], durations: dict[str, float]) -> Baseline:
    sources = raw.get("sources")
    return Baseline([str(t) for t in raw["passed"]], durations,
                    {(str(p), int(line)): list(v) for p, line, v in raw["callers"]}, float(raw["run_s"]),
                    {(str(p), int(line)): int(v) for p, line, v in raw["depth"]},
                    {(str(p), int(line)) for p, line in raw["import_time"]},
                    {str(p) for p in raw["preimported"]},
                    {str(k): str(v) for k, v in sources.items()} if isinstance(sources, dict) else None,
                    str(raw["purelib"]) if raw.get("purelib") else None)


def store(path: Path, baseline: Baseline) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_dump(baseline)))
    tmp.replace(path)


def map_path(cache_dir: Path | None, image: str, passed: list[str]) -> Path | None:
    return cache_dir / f"{_key(image, passed)}.json" if cache_dir else None


def load_kept(cache_dir: Path | None, image: str, passed: list[str], durations: dict[str, float]) -> Baseline | None:
    """The kept call map of ``image`` with its sources, or None (none kept, or kept without them:
    a map from before sources were kept has them read once more, then kept)."""
    baseline = _read(map_path(cache_dir, image, passed), durations)
    return baseline if baseline is not None and baseline.sources is not None else None


def _read(path: Path | None, durations: dict[str, float]) -> Baseline | None:
    if path is None or not path.is_file():
        return None
    try:
        return _load(json.loads(path.read_text()), durations)
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None


def cached_baseline(ws: Workspace | list[Workspace], passed: list[str], durations: dict[str, float],
                    cache_dir: Path | None) -> tuple[Baseline, bool]:
    """The image's call map from ``cache_dir`` when a generation computed it before, else traced now
    (over every workspace given, side by side) and its source files read (both stored when it
    traced anything); whether it came from the cache."""
    first = ws[0] if isinstance(ws, list) else ws
    path = map_path(cache_dir, first.image, passed)
    kept = _read(path, durations)
    if kept is not None and kept.sources is not None:
        return kept, True
    baseline = kept or collect_baseline(ws, passed, durations)
    if baseline.sources is None:
        baseline.sources = read_sources(first, baseline)
    if path is not None and baseline.callers:
        store(path, baseline)
    return baseline, kept is not None


def _controls_path(cache_dir: Path | None, image: str, passed: list[str]) -> Path | None:
    if cache_dir is None:
        return None
    salt = hashlib.sha256(SESSION_SOURCE.encode()).hexdigest()[:12]
    return cache_dir / f"{_key(image, passed)}.controls-{salt}.json"


def load_controls(cache_dir: Path | None, image: str,
                  passed: list[str]) -> tuple[dict[str, set[str]], dict[str, float]]:
    """The control runs kept for ``image``: per test selection, the tests that passed in a session
    without any change, and the seconds the run took (an image never changes, so a later generation,
    of any kind, need not run the same control again)."""
    path = _controls_path(cache_dir, image, passed)
    try:
        raw = json.loads(path.read_text()) if path is not None and path.is_file() else {}
        return ({str(k): {str(t) for t in v} for k, v in raw.get("passed", {}).items()},
                {str(k): float(v) for k, v in raw.get("seconds", {}).items()})
    except (ValueError, TypeError, AttributeError):
        return {}, {}


def store_controls(cache_dir: Path | None, image: str, passed: list[str], controls: dict[str, set[str]],
                   seconds: dict[str, float]) -> None:
    """Keep the control runs (merged with what another generation kept meanwhile)."""
    path = _controls_path(cache_dir, image, passed)
    if path is None or not controls:
        return
    kept, kept_s = load_controls(cache_dir, image, passed)
    kept.update(controls)
    kept_s.update(seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"passed": {k: sorted(v) for k, v in kept.items()}, "seconds": kept_s}))
    tmp.replace(path)
