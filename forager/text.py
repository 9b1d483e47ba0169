"""Text helpers every part uses: long output cut to its head and tail."""

from __future__ import annotations


def truncate(text: str, limit: int) -> str:
    """Keep the head and the tail of long output, with a marker saying what was elided."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters elided ...]\n{text[-tail:]}"
