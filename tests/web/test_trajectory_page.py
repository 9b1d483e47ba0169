"""One trajectory's page (forager.web.trajectory_page): long trajectories are paged, search spans all steps."""

from __future__ import annotations

from forager.trajectory.fileformat import LoadResult
from forager.trajectory.schema import Action, Trajectory, Turn
from forager.web.trajectory_page import PAGE_TURNS, trajectory_page


def test_long_trajectory_page_shows_one_page_of_steps_and_links_all() -> None:
    turns = [Turn(index=i, action=Action(tool="bash", args={"command": f"echo step{i}"}),
                  observation=f"out-{i}", exit_code=0) for i in range(450)]
    result = LoadResult(trajectory=Trajectory(id="traj-long", turns=turns), valid_lines=452)
    first = trajectory_page(result)
    assert first.count('class="turn ') == PAGE_TURNS and "out-0<" in first and "out-300<" not in first
    assert 'href="?start=400#step-449"' in first and 'href="#step-199"' in first
    third = trajectory_page(result, start=401)
    assert third.count('class="turn ') == 50 and "out-449<" in third
    found = trajectory_page(result, q="step333")
    assert found.count('class="turn ') == 1 and "out-333" in found
