"""The call map of an image, kept: the traced baseline run (which passing tests call which
functions, their call depths, the functions called at import) is computed once per image and
reused by every later generation on it, whatever the kind. The key is the image id (an image is
immutable: its gold state and its tests never change), the call collector's source and the list
of passing tests; a stored map is a JSON file under ``$FORAGER_HOME/callmaps``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from forager.tasks.baseline import Baseline, collect_baseline
from forager.tasks.trace_plugin import TRACE_SOURCE
from forager.tasks.workspace import Workspace


def _key(image: str, passed: list[str]) -> str:
    text = "\n".join([image, hashlib.sha256(TRACE_SOURCE.encode()).hexdigest(), *sorted(passed)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pairs(d: dict[tuple[str, int], Any]) -> list[list[Any]]:
    return [[p, line, v] for (p, line), v in d.items()]


def _dump(b: Baseline) -> dict[str, Any]:
    return {"passed": b.passed, "run_s": b.run_s, "callers": _pairs(b.callers), "depth": _pairs(b.depth),
            "import_time": sorted([p, line] for p, line in b.import_time), "preimported": sorted(b.preimported)}


def _load(raw: dict[str, Any], durations: dict[str, float]) -> Baseline:
    return Baseline([str(t) for t in raw["passed"]], durations,
                    {(str(p), int(line)): list(v) for p, line, v in raw["callers"]}, float(raw["run_s"]),
                    {(str(p), int(line)): int(v) for p, line, v in raw["depth"]},
                    {(str(p), int(line)) for p, line in raw["import_time"]},
                    {str(p) for p in raw["preimported"]})


def cached_baseline(ws: Workspace, passed: list[str], durations: dict[str, float],
                    cache_dir: Path | None) -> tuple[Baseline, bool]:
    """The image's call map from ``cache_dir`` when a generation computed it before, else traced now
    (and stored when it traced anything); whether it came from the cache."""
    path = cache_dir / f"{_key(ws.image, passed)}.json" if cache_dir else None
    if path is not None and path.is_file():
        try:
            return _load(json.loads(path.read_text()), durations), True
        except (ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
    baseline = collect_baseline(ws, passed, durations)
    if path is not None and baseline.callers:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_dump(baseline)))
        tmp.replace(path)
    return baseline, False
