"""Following a trajectory while its episode runs: new steps are shown as the file grows."""

from __future__ import annotations

import time

from rich.console import Console

from forager.trajectory.fileformat import LoadResult
from forager.trajectory.replay.loading import open_trajectory
from forager.trajectory.replay.render import print_text, render_header, render_outcome, render_turn


def follow(ref: str, console: Console, full: bool = False, interval: float = 1.0,
           timeout: float | None = None) -> LoadResult:
    """Show the trajectory and keep showing new steps as its file grows, until its outcome line
    arrives (or ``timeout`` seconds pass); returns the last reading."""
    result = open_trajectory(ref)
    console.print(render_header(result))
    shown = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for turn in result.trajectory.turns[shown:]:
            print_text(console, render_turn(turn, full, console.width))
        shown = max(shown, len(result.trajectory.turns))  # a file caught mid-rewrite reads shorter
        finished = result.trajectory.complete and result.error is None
        if finished or (deadline is not None and time.monotonic() >= deadline):
            console.print(render_outcome(result))
            return result
        time.sleep(interval)
        result = open_trajectory(ref)
