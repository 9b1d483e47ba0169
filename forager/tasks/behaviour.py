"""What a task does, beyond its patch text: the error signature of a failing test, the behavioural
key that finds near-duplicates (the same function breaking the same tests with the same kinds of
error, through whatever edit), and the size of a patch."""

from __future__ import annotations

import hashlib
import re

_E_LINE = re.compile(r"^E\s+([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failed|Iteration)?)\b")
_LAST = re.compile(r"([A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Failed))\b")


def error_signature(message: str) -> str:
    """The kind of failure a message reports: the exception type of the first ``E`` line (an assert
    that compares values is ``AssertionError``), else the last exception name in the text."""
    for line in message.splitlines():
        m = _E_LINE.match(line)
        if m:
            word = m.group(1)
            if word in ("assert", "AssertionError") or line[1:].strip().startswith("assert "):
                return "AssertionError"
            if _LAST.fullmatch(word):
                return word.rsplit(".", 1)[-1]
    names = _LAST.findall(message)
    return names[-1].rsplit(".", 1)[-1] if names else ("missing" if not message else "other")


def behaviour_key(path: str | None, function: str | None, fail_to_pass: list[str],
                  messages: dict[str, str]) -> str:
    """Two tasks with equal keys are near-duplicates: the same function, the same failing tests, the
    same error signatures."""
    sig = sorted(f"{t}\t{error_signature(messages.get(t, ''))}" for t in fail_to_pass)
    text = "\n".join([path or "", function or "", *sig])
    return hashlib.sha256(text.encode()).hexdigest()


def patch_stats(patch: str) -> tuple[int, int]:
    """(lines changed: removed plus added, files changed) of a unified diff."""
    lines = sum(1 for line in patch.splitlines()
                if line[:1] in ("+", "-") and not line.startswith(("+++", "---")))
    files = sum(1 for line in patch.splitlines() if line.startswith("diff --git"))
    return lines, files
