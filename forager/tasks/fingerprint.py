"""What a patch changes, read from its text: a fingerprint that finds duplicate tasks, and the
changed lines a problem statement must never quote."""

from __future__ import annotations

import hashlib
from collections import Counter


def _is_change(line: str) -> bool:
    return line[:1] in ("+", "-") and not line.startswith(("+++", "---"))


def fingerprint(patch: str) -> str:
    """Hash of a patch's substance: per file, the removed and added lines, whitespace-normalised,
    with lines removed and added again (a diff tool's choice, not a change) cancelled out."""
    files: dict[str, tuple[Counter[str], Counter[str]]] = {}
    current = ""
    for line in patch.splitlines():
        if line.startswith("diff --git"):
            current = line
        elif _is_change(line):
            removed, added = files.setdefault(current, (Counter(), Counter()))
            (removed if line[0] == "-" else added)[" ".join(line[1:].split())] += 1
    keep = []
    for name in sorted(files):
        removed, added = files[name]
        keep.append(name)
        keep += sorted(f"-{k}" for k in (removed - added).elements())
        keep += sorted(f"+{k}" for k in (added - removed).elements())
    return hashlib.sha256("\n".join(keep).encode()).hexdigest()


def changed_lines(patch: str) -> list[str]:
    """The removed and added lines of a patch, stripped, blank ones left out."""
    return [line[1:].strip() for line in patch.splitlines() if _is_change(line) and line[1:].strip()]
