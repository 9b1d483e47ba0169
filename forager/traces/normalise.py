"""What legitimately varies between two runs of the same call, made stable: memory addresses,
times and dates, temporary paths, ``id=`` numbers. Two collections of the same function and test
are the same trace when their normalised frames are equal (``fingerprint``)."""

from __future__ import annotations

import hashlib
import json
import re

from forager.traces.frames import Frame

RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"0x[0-9a-fA-F]{4,}"), "0x?"),
    (re.compile(r"datetime\.(datetime|date|time|timedelta)\([^()]*\)"), r"datetime.\1(?)"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b1[5-9]\d{8}(?:\.\d+)?\b"), "<epoch>"),
    (re.compile(r"/tmp/pytest-of-[^/\s'\"]+/pytest-\d+"), "/tmp/<pytest>"),
    (re.compile(r"/tmp/tmp[A-Za-z0-9_]{6,}"), "/tmp/<tmp>"),
    (re.compile(r"\b(id|pid|port)=\d+"), r"\1=?"),
)
"""(pattern, replacement), applied in order to every value."""


def normalise_text(text: str) -> str:
    for pattern, repl in RULES:
        text = pattern.sub(repl, text)
    return text


def normalise_frames(frames: list[Frame]) -> list[Frame]:
    """The frames with every value normalised (placeholders and source lines left alone)."""
    out = []
    for f in frames:
        loc = None if f.locals is None else {k: normalise_text(v) for k, v in f.locals.items()}
        arg = None if f.arg is None else normalise_text(f.arg)
        out.append(f.model_copy(update={"locals": loc, "arg": arg}))
    return out


def fingerprint(path: str, function: str, test: str, frames: list[Frame]) -> str:
    """The sha256 of the function, the test and the normalised frames: equal for a reproduced trace."""
    body = json.dumps([path, function, test, [f.model_dump() for f in normalise_frames(frames)]],
                      sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()
