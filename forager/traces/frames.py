"""A trace's frames as stored and as shown: the collector writes each frame's locals as a diff
(``".."`` for a value unchanged since the previous frame, the published format); ``full_locals``
puts the values back, ``frame_views`` pairs each frame with its source line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

UNCHANGED = ".."
Event = Literal["call", "line", "return", "exception"]


class Frame(BaseModel):
    """One frame: ``locals`` for call/line frames, ``arg`` (the value returned or the exception
    raised) for return/exception frames; ``source`` is the line's text (filled in on the host)."""

    model_config = ConfigDict(extra="forbid")
    event: Event
    line: int = Field(ge=0, le=10_000_000)
    source: str = ""
    locals: dict[str, str] | None = None
    arg: str | None = None


def parse_frames(text: str) -> list[Frame]:
    """Stored frames (a JSON list) as models."""
    return [Frame.model_validate(f) for f in json.loads(text)]


def full_locals(frames: list[Frame]) -> list[dict[str, str]]:
    """Every frame's locals with the ``".."`` placeholders replaced by the values they stand for
    (return/exception frames repeat the last locals)."""
    out: list[dict[str, str]] = []
    last: dict[str, str] = {}
    for f in frames:
        if f.locals is not None:
            last = {k: (last.get(k, v) if v == UNCHANGED else v) for k, v in f.locals.items()}
        out.append(dict(last))
    return out


@dataclass
class FrameView:
    """What a viewer shows of one frame: the full locals and which of them changed."""

    index: int
    event: str
    line: int
    source: str
    locals: dict[str, str]
    changed: list[str]
    arg: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event": self.event, "line": self.line, "source": self.source,
                "locals": self.locals, "changed": self.changed, "arg": self.arg}


def frame_views(frames: list[Frame]) -> list[FrameView]:
    views = []
    for i, (f, full) in enumerate(zip(frames, full_locals(frames), strict=True)):
        changed = [k for k, v in (f.locals or {}).items() if v != UNCHANGED]
        views.append(FrameView(i, f.event, f.line, f.source, full, changed, f.arg))
    return views
