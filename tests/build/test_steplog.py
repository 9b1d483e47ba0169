"""Build log output is cut to its head and tail."""

from __future__ import annotations

from forager.text import truncate


def test_truncate_keeps_head_and_tail() -> None:
    text = "A" * 1000 + "B" * 1000
    out = truncate(text, 100)
    assert out.startswith("A") and out.endswith("B") and "elided" in out and len(out) < 200
