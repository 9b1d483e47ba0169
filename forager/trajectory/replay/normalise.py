"""What legitimately varies between two runs of the same command, replaced by placeholders so a
replayed observation can be compared with the recorded one: timings, dates, Unix times, temporary
paths, memory addresses, process ids, container ids and hashes, colour codes, trailing blanks."""

from __future__ import annotations

import re

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_NORMALISERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]"), ""),  # ANSI colour and cursor codes
    (re.compile(r"\[\.\.\. \d+ characters elided \.\.\.\]"), "[... N characters elided ...]"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
     "<TIME>"),
    (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:" + _MONTHS + r") +\d{1,2}\b"), "<DATE>"),
    (re.compile(r"\b(?:" + _MONTHS + r") +\d{1,2} +(?:\d{1,2}:\d{2}|\d{4})\b"), "<DATE>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<TIME>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:[kKMG]i?B/s|it/s|s/it)"), "<RATE>"),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|min|mins|minutes?)\b"),
     "<DUR>"),
    (re.compile(r"\b(?:real|user|sys)\s+\d+m\d+(?:\.\d+)?s"), "<DUR>"),
    (re.compile(r"(?<![\w.])1[5-9]\d{8}(?:\d{3}|\.\d+)?(?![\w.])"), "<EPOCH>"),  # Unix times 2017-2033
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x<ADDR>"),
    (re.compile(r"\btmp[A-Za-z0-9_]{8}\b"), "tmpXXXXXXXX"),
    (re.compile(r"\bpytest-(\d+)\b"), "pytest-N"),
    (re.compile(r"/proc/\d+\b"), "/proc/<PID>"),
    (re.compile(r"\b(pid|PID|process)([ =:#]+)\d+\b"), r"\1\2<PID>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<SHA256>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<SHA1>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<HEX12>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<UUID>"),
    (re.compile(r"(randomly-seed|random seed|seed)([ =:]+)\d+", re.I), r"\1\2<SEED>"),
    (re.compile(r"[ \t]+$", re.M), ""),
]


def normalise(text: str) -> str:
    """Replace what legitimately varies between two runs of the same command (timings, dates, Unix
    times, temporary paths, memory addresses, process ids, container ids and hashes, colour codes,
    trailing blanks) by fixed placeholders."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for pattern, repl in _NORMALISERS:
        text = pattern.sub(repl, text)
    return text.rstrip("\n")
