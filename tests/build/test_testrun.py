"""Reading the per-test report."""

from __future__ import annotations

from forager.build.testrun import parse_report


def test_parse_report_keeps_valid_lines_of_a_killed_run() -> None:
    text = '{"id": "a", "outcome": "passed", "duration": 0.1}\n{"id": "b", "outco'
    results = parse_report(text)
    assert list(results) == ["a"] and results["a"].outcome == "passed"
