"""The tracer's output read on the host: each JSON line checked (shape and bounds; the file lives
in a container whose tests could write to it, so nothing in it is trusted), then joined with the
function's source: each frame gets its source line, the trace its function's text and name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forager.tasks.mutations import list_functions
from forager.traces.frames import Frame
from forager.traces.normalise import fingerprint
from forager.traces.plan import REPO

MAX_LINE_BYTES = 8 * 1024 * 1024
"""A line longer than this is not one the tracer wrote within its bounds."""


class RawTrace(BaseModel):
    """One line of the tracer's output."""

    model_config = ConfigDict(extra="forbid")
    target: str = Field(max_length=600)
    test: str = Field(max_length=2000)
    kind: Literal["target", "callee"]
    parent: str | None = Field(default=None, max_length=600)
    file: str = Field(max_length=1000)
    name: str = Field(max_length=300)
    first: int = Field(ge=0)
    status: Literal["complete", "truncated", "incomplete"]
    engine: Literal["settrace", "monitoring"]
    python: str = Field(max_length=20)
    frames: list[Frame]


@dataclass
class Bounds:
    max_frames: int
    value_chars: int


def within(raw: RawTrace, bounds: Bounds) -> bool:
    """Whether a trace keeps the bounds the tracer was given (a forged one may not)."""
    if not raw.frames or len(raw.frames) > bounds.max_frames or not raw.file.startswith(f"{REPO}/"):
        return False
    limit = bounds.value_chars
    for f in raw.frames:
        values = list((f.locals or {}).values()) + ([f.arg] if f.arg is not None else [])
        if any(len(v) > limit for v in values) or len(f.locals or {}) > 10_000:
            return False
    return True


def parse_output(raw: bytes, bounds: Bounds) -> tuple[list[RawTrace], int]:
    """The well-formed traces within bounds, and how many lines were refused."""
    good: list[RawTrace] = []
    refused = 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            if len(line) > MAX_LINE_BYTES:
                raise ValueError("line too long")
            trace = RawTrace.model_validate(json.loads(line))
        except (ValueError, ValidationError, RecursionError):
            refused += 1
            continue
        if within(trace, bounds):
            good.append(trace)
        else:
            refused += 1
    return good, refused


def _function(text: str, name: str, first: int) -> tuple[str, int] | None:
    """(qualified name, last line) of the function of ``text`` starting at ``first``."""
    for fn in list_functions(text):
        if fn.lineno == first and fn.qualname.rsplit(".", 1)[-1] == name:
            return fn.qualname, fn.end_lineno
    return None


def to_row(raw: RawTrace, sources: dict[str, str], qualnames: dict[str, str]) -> dict[str, object] | None:
    """The registry columns of one trace (None when its function's source cannot be found)."""
    path = raw.file.removeprefix(f"{REPO}/")
    text = sources.get(path)
    found = _function(text, raw.name, raw.first) if text is not None else None
    if text is None or found is None:
        return None
    qualname, end = found
    lines = text.splitlines()
    frames = [f.model_copy(update={"source": lines[f.line - 1].rstrip() if 0 < f.line <= len(lines) else ""})
              for f in raw.frames]
    body = json.dumps([f.model_dump(exclude_none=True) for f in frames])
    return {
        "path": path, "function": qualname, "first_line": raw.first, "test": raw.test, "kind": raw.kind,
        "caller": qualnames.get(raw.parent or "") if raw.parent else None, "status": raw.status,
        "engine": raw.engine, "python": raw.python, "n_frames": len(frames), "size_bytes": len(body.encode()),
        "fingerprint": fingerprint(path, qualname, raw.test, frames),
        "source": "\n".join(lines[raw.first - 1:end]), "frames": body,
    }
