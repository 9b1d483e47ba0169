"""Exports of stored traces: JSONL (one trace per line) or Parquet (one row per trace, frames as a
JSON string), near-duplicates removed per repository (``dedup``), every record carrying the
repository-level contamination flag (``forager.contamination``: the public evaluation sets whose
repositories include the trace's), so a training set can leave those out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forager.contamination import evaluation_sets
from forager.errors import InvalidInput
from forager.files import atomic_write
from forager.store.models import ExecTrace
from forager.store.traces import TraceFilters, iter_traces
from forager.traces.dedup import THRESHOLD, DedupItem, dedup
from forager.traces.frames import parse_frames

FORMATS = ("jsonl", "parquet")
COLUMNS = ("id", "repository", "image", "path", "function", "first_line", "test", "kind", "caller",
           "status", "engine", "python", "n_frames", "fingerprint", "contaminated", "evaluation_sets",
           "source", "frames")


@dataclass
class TraceExportStats:
    selected: int = 0
    duplicates: int = 0
    written: int = 0
    contaminated: int = 0
    unreadable: list[str] = field(default_factory=list)
    duplicate_of: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"selected": self.selected, "duplicates": self.duplicates, "written": self.written,
                "contaminated": self.contaminated, "unreadable_ids": sorted(self.unreadable)}


def record(row: ExecTrace) -> dict[str, Any]:
    """One trace as an export record (``frames`` as the stored list, not a string)."""
    sets = evaluation_sets(row.repository)
    return {"id": row.id, "repository": row.repository, "image": row.image_id, "path": row.path,
            "function": row.function, "first_line": row.first_line, "test": row.test, "kind": row.kind,
            "caller": row.caller, "status": row.status, "engine": row.engine, "python": row.python,
            "n_frames": row.n_frames, "fingerprint": row.fingerprint, "contaminated": bool(sets),
            "evaluation_sets": sets, "source": row.source, "frames": json.loads(row.frames)}


def write_jsonl(records: list[dict[str, Any]], out: Path) -> None:
    atomic_write(out, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode())


def write_parquet(records: list[dict[str, Any]], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string()) for c in COLUMNS if c not in ("first_line", "n_frames",
                                                                       "contaminated", "evaluation_sets")]
                       + [("first_line", pa.int32()), ("n_frames", pa.int32()), ("contaminated", pa.bool_()),
                          ("evaluation_sets", pa.list_(pa.string()))])
    rows = [{**r, "frames": json.dumps(r["frames"])} for r in records]
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer, compression="zstd")
    atomic_write(out, buffer.getvalue().to_pybytes())


def selected_records(filters: TraceFilters, stats: TraceExportStats, threshold: float,
                     include_contaminated: bool = True) -> list[dict[str, Any]]:
    """The de-duplicated records ``filters`` allow, sorted by id; what was left out in ``stats``."""
    items: list[DedupItem] = []
    rows: dict[str, ExecTrace] = {}
    for row in iter_traces(filters):
        stats.selected += 1
        try:
            frames = parse_frames(row.frames)
        except ValueError:
            stats.unreadable.append(row.id)
            continue
        rows[row.id] = row
        items.append(DedupItem(row.id, row.repository, row.function, row.status == "complete",
                               row.fingerprint, frames))
    kept, stats.duplicate_of = dedup(items, threshold)
    stats.duplicates = len(stats.duplicate_of)
    records = sorted((record(rows[k.id]) for k in kept), key=lambda r: r["id"])
    stats.contaminated = sum(r["contaminated"] for r in records)
    return records if include_contaminated else [r for r in records if not r["contaminated"]]


def export(out: Path, fmt: str = "jsonl", filters: TraceFilters | None = None, *,
           threshold: float = THRESHOLD, include_contaminated: bool = True) -> TraceExportStats:
    """Write the selected, de-duplicated traces to ``out``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    stats = TraceExportStats()
    records = selected_records(filters or TraceFilters(), stats, threshold, include_contaminated)
    (write_jsonl if fmt == "jsonl" else write_parquet)(records, Path(out))
    stats.written = len(records)
    return stats
