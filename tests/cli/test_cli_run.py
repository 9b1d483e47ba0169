"""The numbers ``forager run --tasks`` reports for a batch."""

from __future__ import annotations

from types import SimpleNamespace

from forager.cli.run import batch_report


def summary(complete: bool, resolved: bool, steps: int, overhead: float) -> SimpleNamespace:
    return SimpleNamespace(complete=complete, resolved=resolved, steps=steps, overhead_per_step_s=overhead)


def test_batch_report() -> None:
    report = batch_report([summary(True, True, 2, 0.5), summary(True, False, 6, 0.1),
                           summary(False, False, 9, 9.0)], wall=36.0, concurrency=2)
    assert report == {"episodes": 3, "completed": 2, "resolved": 1, "resolved_share": 0.5, "wall_s": 36.0,
                      "concurrency": 2, "episodes_per_hour": 200.0, "overhead_per_step_s": 0.2}
    empty = batch_report([], wall=0.0, concurrency=1)
    assert empty["resolved_share"] == 0.0 and empty["episodes_per_hour"] == 0.0
    assert empty["overhead_per_step_s"] == 0.0
