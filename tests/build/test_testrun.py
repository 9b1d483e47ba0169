"""Reading the per-test report."""

from __future__ import annotations

from forager.build.testrun import TestOutcome, TestRun, parse_report


def test_parse_report_keeps_valid_lines_of_a_killed_run() -> None:
    text = '{"id": "a", "outcome": "passed", "duration": 0.1}\n{"id": "b", "outco'
    results = parse_report(text)
    assert list(results) == ["a"] and results["a"].outcome == "passed"


def test_a_third_run_finds_flaky_tests_the_second_missed() -> None:
    from forager.build.validate import judge
    from forager.runtime import ExecResult

    def run(outcome: str) -> TestRun:
        return TestRun(ExecResult(0, "", 1.0), {"t::a": TestOutcome("t::a", "passed"),
                                                "t::b": TestOutcome("t::b", outcome)})
    assert judge(run("passed"), run("passed"), 0.9).flaky == []
    assert judge(run("passed"), run("passed"), 0.9, (run("failed"),)).flaky == ["t::b"]
