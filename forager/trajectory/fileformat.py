"""The trajectory file format: gzip-compressed JSONL, written atomically, read strictly or leniently.

A file (``.jsonl.gz``) holds a header line (everything but the turns and the outcome,
``{"type": "header", ...}``), then one ``{"type": "turn", ...}`` line per turn, then one
``{"type": "outcome", ...}`` line. One JSON object (a whole ``Trajectory``) is read too.

``parse(raw, strict=True)`` is for what arrives from outside (uploads): anything wrong raises a
``FormatError`` saying what. ``parse(raw, strict=False)`` is for replaying and viewing stored or
damaged files: it keeps every valid line and reports where reading stopped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from forager.files import atomic_write
from forager.trajectory.checks import FormatError, check_tree, gunzip_limited, json_value, strict_lines
from forager.trajectory.schema import SCHEMA_VERSION, Trajectory, Turn

OUTCOME_FIELDS = ("final_diff", "reward", "exit_reason", "complete", "finished_at", "duration_s")
Form = Literal["auto", "json", "lines"]


class LoadResult(BaseModel):
    trajectory: Trajectory
    error: str | None = None
    """Where and why reading stopped early; None when the file was whole and valid."""
    valid_lines: int = 0


# ----------------------------------------------------------------------------- writing
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
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- reading
def parse(raw: bytes, *, strict: bool, form: Form = "auto", max_bytes: int | None = None) -> LoadResult:
    """Read a trajectory from file or upload bytes (gzip or plain; JSONL or one JSON object).

    ``strict``: the whole input must be valid (no unknown fields, NaN, lone surrogates, nesting past
    ``checks.MAX_DEPTH``, damaged gzip, missing ``schema_version``), else ``FormatError``;
    ``TooLarge`` when it decompresses past ``max_bytes``. ``form`` says which shape to expect
    (``auto`` tells by the first character). Lenient: never raises for bad content; returns what
    was valid and the error where reading stopped."""
    return _parse_strict(raw, form, max_bytes) if strict else _parse_lenient(raw)


def loads_lenient(raw: bytes) -> LoadResult:
    """Parse as much of a trajectory as is valid (``parse(raw, strict=False)``)."""
    return _parse_lenient(raw)


def read(path: Path) -> LoadResult:
    """Read a file leniently (a damaged file is read as far as it is valid)."""
    return _parse_lenient(Path(path).read_bytes())


def _is_one_object(text: str) -> bool:
    stripped = text.lstrip()
    return stripped.startswith("{") and "\n{" not in stripped.strip()


def _parse_strict(raw: bytes, form: Form, max_bytes: int | None) -> LoadResult:
    if raw[:2] == b"\x1f\x8b":
        raw = gunzip_limited(raw, max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"body is not UTF-8: {exc}") from exc
    if not text.strip():
        raise FormatError("empty body")
    one_object = form == "json" or (form == "auto" and _is_one_object(text))
    if one_object:
        data = json_value(text, "body")
        if not isinstance(data, dict):
            raise FormatError("body must be one JSON object (a Trajectory)")
    else:
        data = strict_lines(text)
    check_tree(data)
    traj = _validate_strict(data)
    if "schema_version" not in data:  # `{}` is not a trajectory
        raise FormatError("schema_version is missing: a trajectory names its schema "
                          f'("{SCHEMA_VERSION}")')
    lines = 1 if one_object else sum(1 for line in text.splitlines() if line.strip())
    return LoadResult(trajectory=traj, valid_lines=lines)


def _validate_strict(data: dict[str, Any]) -> Trajectory:
    try:
        return Trajectory.model_validate(data, extra="forbid")
    except ValidationError as exc:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors(include_url=False, include_input=False)[:50]]
        raise FormatError(f"invalid trajectory: {detail[0]['msg'] if detail else exc}", detail) from exc
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"invalid trajectory: {exc}") from exc


def _read_text(raw: bytes) -> tuple[str, str | None]:
    """The text of possibly gzip-compressed bytes, and an error when the stream was cut short."""
    if raw[:2] != b"\x1f\x8b":
        return raw.decode("utf-8", "replace"), None
    d = gzip.GzipFile(fileobj=io.BytesIO(raw))
    chunks: list[bytes] = []
    try:
        while block := d.read(65536):
            chunks.append(block)
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        return b"".join(chunks).decode("utf-8", "replace"), f"compressed stream cut short: {exc}"
    return b"".join(chunks).decode("utf-8", "replace"), None


def _parse_lenient(raw: bytes) -> LoadResult:
    text, error = _read_text(raw)
    if _is_one_object(text):
        try:
            return LoadResult(trajectory=Trajectory.model_validate_json(text.lstrip()), valid_lines=1)
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
            if not isinstance(row, dict):
                raise ValueError(f"a line must be a JSON object, not {type(row).__name__}")
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
