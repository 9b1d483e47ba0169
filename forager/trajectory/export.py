"""Training-ready exports of stored trajectories: chat-format JSONL and Parquet.

* One record per trajectory (``forager.trajectory.records``: the chat, the outcome, a stable id,
  an approximate token count), written atomically (``forager.trajectory.writers``).
* Filters: ``resolved_only``, ``kind``, ``repository`` (substring). Unresolved trajectories are
  kept and flagged (``"resolved": false``, ``"outcome": "unresolved"``); incomplete ones (crashed
  episodes) are left out unless asked for.
* Near-duplicates are removed per repository (``forager.trajectory.dedup``: MinHash, Jaccard < 0.5).
* A record that cannot be read or encoded is reported in the stats, never skipped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forager.errors import InvalidInput
from forager.trajectory.dedup import THRESHOLD, dedup
from forager.trajectory.fileformat import read
from forager.trajectory.records import to_record
from forager.trajectory.schema import Trajectory
from forager.trajectory.store import indexed_paths
from forager.trajectory.writers import WRITERS

FORMATS = tuple(WRITERS)


@dataclass
class ExportStats:
    selected: int = 0
    unreadable: int = 0
    duplicates: int = 0
    written: int = 0
    resolved: int = 0
    unresolved: int = 0
    tokens: int = 0
    duplicate_of: dict[str, str] = field(default_factory=dict)
    """dropped trajectory id -> the kept trajectory it nearly duplicates"""
    problems: dict[str, str] = field(default_factory=dict)
    """left-out trajectory id -> why it could not be exported (reported, never skipped silently)"""

    def summary(self) -> dict[str, Any]:
        return {"selected": self.selected, "unreadable": self.unreadable, "duplicates": self.duplicates,
                "written": self.written, "resolved": self.resolved, "unresolved": self.unresolved,
                "tokens": self.tokens, "unreadable_ids": sorted(self.problems)}


def select(resolved_only: bool = False, kind: str | None = None, repository: str | None = None,
           include_incomplete: bool = False) -> Iterator[tuple[str, Trajectory | str]]:
    """Stored trajectories matching the filters, as (id, trajectory, or why it cannot be exported)."""
    for traj_id, path in indexed_paths(resolved_only, kind, repository, include_incomplete):
        try:
            loaded = read(Path(path))
        except Exception as exc:  # noqa: BLE001 - one bad record is reported, the export goes on
            yield traj_id, f"cannot be read: {type(exc).__name__}: {exc}"
            continue
        if loaded.error and not include_incomplete:
            yield traj_id, f"damaged: {loaded.error}"
            continue
        yield traj_id, loaded.trajectory


def _problem(traj: Trajectory) -> str | None:
    """Why a readable trajectory still cannot be written (text UTF-8 cannot encode), or None."""
    try:
        traj.model_dump_json()
    except ValueError as exc:
        return f"cannot be encoded: {exc}"
    return None


def _exportable(stats: ExportStats, selected: Iterator[tuple[str, Trajectory | str]]) -> list[Trajectory]:
    """The selected trajectories that can be written; the others counted and named in ``stats``."""
    trajs: list[Trajectory] = []
    for traj_id, traj in selected:
        stats.selected += 1
        problem = traj if isinstance(traj, str) else _problem(traj)
        if problem is not None:
            stats.unreadable += 1
            stats.problems[traj_id] = problem
        elif not isinstance(traj, str):
            trajs.append(traj)
    return trajs


def export(out: Path, fmt: str = "chat-jsonl", *, resolved_only: bool = False, kind: str | None = None,
           repository: str | None = None, include_incomplete: bool = False, threshold: float = THRESHOLD
           ) -> ExportStats:
    """Write the selected, de-duplicated trajectories to ``out``; returns what was done."""
    if fmt not in WRITERS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    stats = ExportStats()
    trajs = _exportable(stats, select(resolved_only, kind, repository, include_incomplete))
    kept, stats.duplicate_of = dedup(trajs, threshold)
    stats.duplicates = len(stats.duplicate_of)
    records = sorted((to_record(t) for t in kept), key=lambda r: r["id"])
    for r in records:
        stats.resolved += r["resolved"]
        stats.unresolved += not r["resolved"]
        stats.tokens += r["num_tokens"]
    WRITERS[fmt](records, Path(out))
    stats.written = len(records)
    return stats
