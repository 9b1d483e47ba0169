"""Replaying a trajectory: the terminal view (``render``), following a running episode
(``follow``), and re-execution in a fresh container (``execute``) compared with the record after
normalising what legitimately varies (``normalise``, ``compare``). A damaged or truncated file is
shown and replayed as far as it is valid.

The names the command line uses are re-exported here.
"""

from forager.trajectory.replay.execute import ReplayReport, StepResult, reexecute
from forager.trajectory.replay.follow import follow
from forager.trajectory.replay.loading import ReplayError, open_trajectory
from forager.trajectory.replay.render import render_report, show

__all__ = ["ReplayError", "ReplayReport", "StepResult", "follow", "open_trajectory", "reexecute",
           "render_report", "show"]
