"""The trajectory: a versioned record of one agent episode, and its durable file format.

File format (``.jsonl.gz``): line 1 is the header (everything but the turns and the outcome,
``{"type": "header", ...}``), then one ``{"type": "turn", ...}`` line per turn, then one
``{"type": "outcome", ...}`` line. Files are written to a temporary name and renamed, so a
stored file is always whole; a reader given a truncated or damaged file keeps every valid line
and reports where it stopped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forager.redact import redact_url

SCHEMA_VERSION = "forager.trajectory/1"
ID_RE = re.compile(r"^traj-[A-Za-z0-9_-]{1,35}$")
"""A stored trajectory's id: ``db.new_id("traj")`` makes ``traj-`` + 12 hex digits; no dots or
slashes ever, so an id can never name a file. Requests (API, viewer) are looked up only as ids."""


def is_id(ref: str) -> bool:
    return bool(ID_RE.match(ref))


class FiniteModel(BaseModel):
    """Numbers are finite: NaN and infinities are refused (they are not JSON)."""
    model_config = ConfigDict(allow_inf_nan=False)


class Action(FiniteModel):
    tool: str
    """bash | view | edit | create | run_tests | submit | <unparsed>"""
    args: dict[str, Any] = Field(default_factory=dict)
    call_id: str | None = None


class Turn(FiniteModel):
    index: int
    model_message: str = ""
    """What the model said (assistant content; for tool-calling models, the text beside the call)."""
    action: Action | None = None
    observation: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0
    """Time spent executing the action in the environment."""
    model_duration_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ModelInfo(FiniteModel):
    name: str = ""
    url: str = ""
    sampling: dict[str, Any] = Field(default_factory=dict)


class Reward(FiniteModel):
    resolved: bool = False
    fail_to_pass: dict[str, str] = Field(default_factory=dict)
    """test id -> outcome after the episode"""
    pass_to_pass: dict[str, str] = Field(default_factory=dict)
    duration_s: float = 0.0
    flags: list[str] = Field(default_factory=list)
    """Why the episode may not be rewarded: test infrastructure changed, a tampered report, ...;
    a flagged reward is never resolved, and the trajectory is kept."""
    restored: list[str] = Field(default_factory=list)
    """Paths whose changes were not carried into the judged state (test files, files over the size limit)."""


class Trajectory(FiniteModel):
    schema_version: Literal["forager.trajectory/1"] = SCHEMA_VERSION
    id: str | None = None
    task_id: str | None = None
    image: str | None = None
    image_digest: str | None = None
    repository: str | None = None
    kind: str | None = None
    agent: str = "llm"
    model: ModelInfo = Field(default_factory=ModelInfo)
    system_prompt: str = ""
    problem_statement: str = ""
    turns: list[Turn] = Field(default_factory=list)
    final_diff: str = ""
    reward: Reward | None = None
    exit_reason: str = ""
    complete: bool = True
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return bool(self.reward and self.reward.resolved)


OUTCOME_FIELDS = ("final_diff", "reward", "exit_reason", "complete", "finished_at", "duration_s")


def to_lines(traj: Trajectory) -> list[str]:
    data = traj.model_dump(mode="json")
    turns = data.pop("turns")
    outcome = {k: data.pop(k) for k in OUTCOME_FIELDS}
    lines = [json.dumps({"type": "header", **data}, sort_keys=True)]
    lines += [json.dumps({"type": "turn", **t}, sort_keys=True) for t in turns]
    lines.append(json.dumps({"type": "outcome", **outcome}, sort_keys=True))
    return lines


def dumps(traj: Trajectory) -> bytes:
    """The canonical gzip-compressed JSONL bytes of a trajectory (deterministic: mtime 0)."""
    text = ("\n".join(to_lines(traj)) + "\n").encode()
    return gzip.compress(text, mtime=0)


def write(traj: Trajectory, path: Path) -> str:
    """Write atomically (temp file, fsync, rename); returns the sha256 of the stored bytes."""
    data = dumps(traj)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


class LoadResult(BaseModel):
    trajectory: Trajectory
    error: str | None = None
    """Where and why reading stopped early; None when the file was whole and valid."""
    valid_lines: int = 0


def _read_text(raw: bytes) -> tuple[str, str | None]:
    if raw[:2] != b"\x1f\x8b":
        return raw.decode("utf-8", "replace"), None
    d = gzip.GzipFile(fileobj=__import__("io").BytesIO(raw))
    chunks: list[bytes] = []
    try:
        while True:
            block = d.read(65536)
            if not block:
                break
            chunks.append(block)
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        return b"".join(chunks).decode("utf-8", "replace"), f"compressed stream cut short: {exc}"
    return b"".join(chunks).decode("utf-8", "replace"), None


def loads_lenient(raw: bytes) -> LoadResult:
    """Parse as much of a trajectory as is valid. Accepts the JSONL(.gz) format or one JSON object."""
    text, error = _read_text(raw)
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.strip():
        try:
            return LoadResult(trajectory=Trajectory.model_validate_json(stripped), valid_lines=1)
        except ValidationError as exc:
            return LoadResult(trajectory=Trajectory(complete=False), error=f"invalid trajectory: {exc}")
    header: dict[str, Any] = {}
    turns: list[Turn] = []
    outcome: dict[str, Any] = {}
    valid = 0
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            kind = row.pop("type", None)
            if kind == "header":
                header = row
                Trajectory.model_validate(header)
            elif kind == "turn":
                turns.append(Turn.model_validate(row))
            elif kind == "outcome":
                outcome = row
            else:
                raise ValueError(f"unknown line type {kind!r}")
        except (ValueError, ValidationError) as exc:
            error = f"line {n}: {str(exc).splitlines()[0]}"
            break
        valid += 1
    traj = Trajectory.model_validate({**header, **outcome, "turns": []})
    traj.turns = turns
    if error or not outcome:
        traj.complete = False
        error = error or "no outcome line: the episode did not finish"
    return LoadResult(trajectory=traj, error=error, valid_lines=valid)


def read(path: Path) -> LoadResult:
    return loads_lenient(Path(path).read_bytes())


# ----------------------------------------------------------------------------- storage + index
def stored_path(traj_id: str) -> Path:
    from forager.config import get_settings

    return get_settings().trajectories_dir / traj_id[-2:] / f"{traj_id}.jsonl.gz"


def save(traj: Trajectory, origin: str = "local") -> str:
    """Store a trajectory durably (atomic file write) and index it in the registry; returns its id.
    The model URL is stored without credentials. If the registry refuses the row, a file this call
    created is removed again (no orphan files)."""
    from forager.store import db

    traj_id = traj.id or db.new_id("traj")
    if not is_id(traj_id):
        raise ValueError(f"not a trajectory id: {traj_id!r} (expected {ID_RE.pattern})")
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
    from forager.store import db

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
    KeyError without touching any file. What the API and the viewer use."""
    from forager.store import db

    if not is_id(traj_id):
        raise KeyError(f"no trajectory {traj_id!r}")
    with db.session() as s:
        row = s.get(db.Trajectory, traj_id)
        if row is None:
            raise KeyError(f"no trajectory {traj_id!r}")
        path = Path(row.path)
    return read(path)


def load(ref: str) -> LoadResult:
    """For the command line: a stored id first, else a file path (``forager replay FILE``).
    Never use this for a reference that arrives over the network: use ``load_stored``."""
    if is_id(ref):
        try:
            return load_stored(ref)
        except KeyError:
            pass
    p = Path(ref)
    if p.is_file():
        return read(p)
    raise KeyError(f"no trajectory {ref!r} (neither a stored id nor a file)")
