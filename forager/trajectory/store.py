"""Stored trajectories: the file under ``FORAGER_HOME/trajectories`` and its row in the registry.
This module is the trajectory's side of the registry (its index rows are read and written only here
and in ``forager.store.trajectories``).

``save`` writes the file atomically and indexes it; ``load_stored`` finds a trajectory by registry
id only (what the API and the viewer use: an id can never name a file); ``load`` also accepts a
file path, for the command line.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from forager.config import get_settings
from forager.enums import Origin
from forager.errors import NotFound
from forager.redact import redact_url
from forager.store import db
from forager.trajectory.checks import FormatError
from forager.trajectory.fileformat import LoadResult, read, write
from forager.trajectory.schema import ID_RE, Trajectory, is_id

INDEXED = {"task_id": 40, "image": 300, "repository": 500, "kind": 30, "agent": 30, "exit_reason": 50}
"""Fields the registry indexes (column sizes): they hold no NUL and fit their column."""
MODEL_NAME_MAX = 200


def stored_path(traj_id: str, root: Path | None = None) -> Path:
    """Where a stored trajectory's file lives (``root`` defaults to the settings' trajectories_dir)."""
    base = root if root is not None else get_settings().trajectories_dir
    return base / traj_id[-2:] / f"{traj_id}.jsonl.gz"


def check_indexed(traj: Trajectory) -> None:
    """Refuse (``FormatError``) indexed fields holding a NUL or longer than their column."""
    fields = {**{name: getattr(traj, name) for name in INDEXED}, "model.name": traj.model.name}
    limits = {**INDEXED, "model.name": MODEL_NAME_MAX}
    for name, value in fields.items():
        if value is None:
            continue
        if "\x00" in value:
            raise FormatError(f"{name}: holds a NUL character")
        if len(value) > limits[name]:
            raise FormatError(f"{name}: longer than {limits[name]} characters")


def save(traj: Trajectory, origin: str = Origin.LOCAL) -> str:
    """Store a trajectory durably (atomic file write) and index it in the registry; returns its id.
    The model URL is stored without credentials. If the registry refuses the row, a file this call
    created is removed again (no orphan files)."""
    traj_id = traj.id or db.new_id("traj")
    if not is_id(traj_id):
        raise FormatError(f"not a trajectory id: {traj_id!r} (expected {ID_RE.pattern})")
    traj.id = traj_id
    traj.model.url = redact_url(traj.model.url)
    path = stored_path(traj_id)
    existed = path.exists()
    digest = write(traj, path)
    try:
        _index(traj, origin, path, digest)
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)
        raise
    return traj_id


def _index(traj: Trajectory, origin: str, path: Path, digest: str) -> None:
    with db.session() as s:
        row = s.get(db.Trajectory, traj.id) or db.Trajectory(id=traj.id, path=str(path))
        row.task_id = traj.task_id
        row.image = traj.image
        row.repository = traj.repository
        row.kind = traj.kind
        row.model = traj.model.name or None
        row.agent = traj.agent
        row.resolved = traj.reward.resolved if traj.reward else None
        row.complete = traj.complete
        row.steps = len(traj.turns)
        row.exit_reason = traj.exit_reason or None
        row.duration_s = traj.duration_s
        row.origin = origin
        row.path = str(path)
        row.sha256 = digest
        s.merge(row)


def load_stored(traj_id: str) -> LoadResult:
    """Load a stored trajectory by its registry id, and only so: a malformed or unknown id raises
    ``NotFound`` without touching any file. What the API and the viewer use."""
    if not is_id(traj_id):
        raise NotFound(f"no trajectory {traj_id!r}")
    with db.session() as s:
        row = s.get(db.Trajectory, traj_id)
        if row is None:
            raise NotFound(f"no trajectory {traj_id!r}")
        path = Path(row.path)
    return read(path)


def indexed_paths(resolved_only: bool, kind: str | None, repository: str | None,
                  include_incomplete: bool) -> list[tuple[str, str]]:
    """(id, path) of the indexed trajectories matching the export filters, by id: resolved ones
    only if asked, complete ones unless incomplete are asked for, ``repository`` a substring."""
    with db.session() as s:
        q = select(db.Trajectory.id, db.Trajectory.path).order_by(db.Trajectory.id)
        if resolved_only:
            q = q.where(db.Trajectory.resolved.is_(True))
        if not include_incomplete:
            q = q.where(db.Trajectory.complete.is_(True))
        if kind:
            q = q.where(db.Trajectory.kind == kind)
        if repository:
            q = q.where(db.Trajectory.repository.contains(repository))
        return [(traj_id, path) for traj_id, path in s.execute(q)]


def load(ref: str) -> LoadResult:
    """For the command line: a stored id first, else a file path (``forager replay FILE``).
    Never use this for a reference that arrives over the network: use ``load_stored``."""
    if is_id(ref):
        try:
            return load_stored(ref)
        except NotFound:
            pass
    p = Path(ref)
    if p.is_file():
        return read(p)
    raise NotFound(f"no trajectory {ref!r} (neither a stored id nor a file)")
