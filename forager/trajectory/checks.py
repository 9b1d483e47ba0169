"""What the strict reader refuses before a trajectory is accepted: gzip bombs and damaged streams,
JSON constants that are not numbers, nesting too deep, lone surrogates and infinite numbers.

Every refusal is a ``FormatError`` (``TooLarge`` when a size limit is passed) whose message says
where and why; ``forager.trajectory.fileformat.parse(..., strict=True)`` uses these checks.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from typing import Any

from forager.errors import InvalidInput

MAX_DEPTH = 64
"""Deepest nesting a strict read accepts (a trajectory needs about 6; tool arguments a few more)."""
SURROGATE = re.compile(r"[\ud800-\udfff]")


class FormatError(InvalidInput):
    """Not a valid trajectory. ``detail`` is the message, or pydantic's list of field errors
    (``loc``, ``msg``, ``type``) when the fields themselves are wrong."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.detail: Any = message if detail is None else detail


class TooLarge(FormatError):
    """Over a size limit (a decompressed body larger than allowed)."""


def gunzip_limited(data: bytes, limit: int | None) -> bytes:
    """Decompress one whole gzip member, refusing more than ``limit`` bytes of output, a truncated
    stream, and trailing data after the member."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    size = 0
    try:
        while data:
            block = d.decompress(data, 1 << 20)
            size += len(block)
            if limit is not None and size > limit:
                raise TooLarge(f"decompressed body is over the limit of {limit} bytes")
            out.append(block)
            data = d.unconsumed_tail
            if d.eof:
                break
        if not d.eof:
            raise FormatError("gzip stream is truncated")
        if d.unused_data.strip(b"\x00"):
            raise FormatError("gzip stream has several members or trailing data")
    except zlib.error as exc:
        raise FormatError(f"not valid gzip: {exc}") from exc
    return b"".join(out)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_value(line: bytes | str, where: str) -> Any:
    """Parse JSON, refusing NaN and Infinity; ``where`` starts the error message."""
    try:
        return json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"{where}: not valid JSON: {exc}") from exc


def _loc(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "body"


def _check_leaf(item: Any, path: tuple[Any, ...]) -> None:
    if isinstance(item, str) and (bad := SURROGATE.search(item)):
        raise FormatError(f"{_loc(path)}: a string holds a lone surrogate (U+{ord(bad[0]):04X}), "
                          "which is not valid Unicode")
    if isinstance(item, float) and not math.isfinite(item):
        raise FormatError(f"{_loc(path)}: {item} is not a finite number")


def check_tree(value: Any) -> None:
    """Refuse what parses as JSON but cannot be stored and served back: nesting deeper than
    MAX_DEPTH, strings with lone surrogates (not Unicode: they cannot be encoded as UTF-8), and
    numbers that are not finite (``1e999``)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise FormatError(f"{_loc(path[:8])}...: nested deeper than {MAX_DEPTH} levels")
        _check_leaf(item, path)
        if isinstance(item, dict):
            for key, sub in item.items():
                if SURROGATE.search(key):
                    raise FormatError(f"{_loc(path)}: a key holds a lone surrogate; not valid Unicode")
                stack.append((sub, (*path, key)))
        elif isinstance(item, list):
            stack.extend((sub, (*path, i)) for i, sub in enumerate(item))


def strict_lines(text: str) -> dict[str, Any]:
    """The .jsonl format read strictly: a header line first, turn lines, one outcome line last;
    any bad or misplaced line is an error. Returns the trajectory's fields as one object."""
    header: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    turns: list[Any] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = json_value(line, f"line {n}")
        kind = row.pop("type", None) if isinstance(row, dict) else None
        if outcome is not None:
            raise FormatError(f"line {n}: nothing may follow the outcome line")
        if kind == "header" and header is None and n == 1:
            header = row
        elif kind == "turn" and header is not None:
            turns.append(row)
        elif kind == "outcome" and header is not None:
            outcome = row
        else:
            wanted = "a header" if header is None else "a turn or the outcome"
            raise FormatError(f"line {n}: expected {wanted} line, got type {kind!r}")
    if header is None:
        raise FormatError("empty upload: no header line")
    if outcome is None:
        raise FormatError("no outcome line: the file is truncated or the episode did not finish")
    clash = (set(header) & set(outcome)) | ({"turns"} & (set(header) | set(outcome)))
    if clash:
        raise FormatError(f"fields given twice (header/outcome): {sorted(clash)}")
    return {**header, **outcome, "turns": turns}
