"""Whole-file unified diffs that ``git apply`` takes, fast on long files."""

from __future__ import annotations

import difflib
import io

Opcode = tuple[str, int, int, int, int]


def _lines(text: str) -> list[str]:
    out = io.StringIO(text, newline="").readlines()
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += "\n\\ No newline at end of file\n"
    return out


def common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many lines ``a`` and ``b`` share at their start, and then at their end (not overlapping)."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def _changed_groups(a: list[str], b: list[str], context: int) -> list[list[Opcode]]:
    """SequenceMatcher's grouped opcodes over the whole of ``a`` and ``b``, computed on the changed
    middle only (the matcher is quadratic without autojunk); ``context`` equal lines stay on each
    side so the hunks are the same as over the whole file."""
    head, tail = common_ends(a, b)
    skip, keep_tail = max(0, head - context), max(0, tail - context)
    a_mid, b_mid = a[skip:len(a) - keep_tail], b[skip:len(b) - keep_tail]
    groups = difflib.SequenceMatcher(None, a_mid, b_mid, autojunk=False).get_grouped_opcodes(context)
    return [[(tag, x1 + skip, x2 + skip, y1 + skip, y2 + skip) for tag, x1, x2, y1, y2 in group]
            for group in groups]


def unified_patch(path: str, old: str, new: str, context: int = 3) -> str:
    """A ``git apply``-able unified diff turning ``old`` into ``new`` for file ``path``.

    Unlike ``difflib.unified_diff`` it turns SequenceMatcher's autojunk off, so that common lines
    of a long file (``else:``, blank lines) never show as removed and added again."""
    a, b = _lines(old), _lines(new)
    out = [f"diff --git a/{path} b/{path}\n", f"--- a/{path}\n", f"+++ b/{path}\n"]
    for group in _changed_groups(a, b, context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out += [" " + line for line in a[x1:x2]]
                continue
            out += ["-" + line for line in a[x1:x2]]
            out += ["+" + line for line in b[y1:y2]]
    return "".join(out) if len(out) > 3 else ""


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"
