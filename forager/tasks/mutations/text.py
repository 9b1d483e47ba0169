"""Source text editing: AST positions to string offsets, splicing edits, finding operator tokens.

A mutation edits the source *text* at the positions the ``ast`` nodes give, so a mutated file
differs from the original only on the lines the mutation touches.
"""

from __future__ import annotations

import ast
import io
import re

Edit = tuple[int, int, str]
"""Replace ``source[start:end]`` by the text."""

Located = ast.expr | ast.stmt | ast.arg
"""A node with a position."""


class Text:
    """Source text with conversion from AST (line, UTF-8 byte column) positions to string offsets."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = io.StringIO(source, newline="").readlines()
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        chars = len(line.encode("utf-8")[:col].decode("utf-8", errors="replace"))
        return self.starts[lineno - 1] + chars

    def span(self, node: Located) -> tuple[int, int]:
        end_line = node.end_lineno if node.end_lineno is not None else node.lineno
        end_col = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        return self.offset(node.lineno, node.col_offset), self.offset(end_line, end_col)

    def segment(self, node: Located) -> str:
        a, b = self.span(node)
        return self.source[a:b]

    def line_span(self, node: ast.stmt) -> tuple[int, int] | None:
        """Whole lines of a statement, when it stands alone on them (else None)."""
        a, b = self.span(node)
        first = self.starts[node.lineno - 1]
        last_end = self.starts[node.end_lineno if node.end_lineno is not None else node.lineno]
        if self.source[first:a].strip():
            return None
        rest = self.source[b:last_end]
        if rest.strip() and not rest.strip().startswith("#"):
            return None
        return first, last_end

    def indent_of(self, node: ast.stmt) -> str:
        line = self.lines[node.lineno - 1]
        return line[: len(line) - len(line.lstrip())]

    def newline(self) -> str:
        for line in self.lines:
            if line.endswith("\r\n"):
                return "\r\n"
            if line.endswith("\n"):
                return "\n"
        return "\n"


def apply_edits(source: str, edits: list[Edit]) -> str:
    """``source`` with every edit made (edits must not overlap)."""
    out = source
    for a, b, new in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:a] + new + out[b:]
    return out


def _mask_comments(gap: str) -> str:
    return re.sub(r"#[^\r\n]*", lambda m: " " * len(m.group(0)), gap)


def find_op(text: Text, start: int, end: int, op: str) -> tuple[int, int] | None:
    """The span of operator token ``op`` in the gap between two operands (parentheses,
    whitespace, comments and line continuations allowed around it)."""
    gap = _mask_comments(text.source[start:end])
    pattern = r"[\s()\\]*(" + r"\s+".join(re.escape(p) for p in op.split()) + r")[\s()\\]*"
    m = re.fullmatch(pattern, gap)
    if not m:
        return None
    return start + m.start(1), start + m.end(1)
