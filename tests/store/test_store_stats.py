"""Farm statistics: counts by status, kind, origin and state; rates; the last 24 hours; activity."""

from __future__ import annotations

from datetime import timedelta

from forager.clock import utcnow
from forager.store import db
from forager.store.stats import farm_activity, farm_stats, recent_builds, recent_trajectories


def _fill() -> None:
    old = utcnow() - timedelta(days=3)
    with db.session() as s:
        s.add_all([db.Build(id="b1", source="pypi:a", status="validated"),
                   db.Build(id="b2", source="pypi:a", status="failed", created_at=old),
                   db.Build(id="b3", source="pypi:a", status="running")])
        s.add(db.Image(id="forager/a:1", build_id="b1", digest="d", source="pypi:a", python="3.11",
                       test_command="pytest"))
        s.add(db.Task(id="t1", image_id="forager/a:1", kind="mutate-fix", setup_patch="", gold_patch=""))
        s.add_all([db.Trajectory(id="traj-1", repository="a", resolved=True, origin="local", path="x"),
                   db.Trajectory(id="traj-2", repository="a", resolved=False, origin="upload", path="y"),
                   db.Trajectory(id="traj-3", repository=None, resolved=None, origin="upload", path="z")])


def test_farm_stats_counts_and_rates() -> None:
    _fill()
    with db.session() as s:
        f = farm_stats(s)
    assert f.builds_by_status == {"failed": 1, "running": 1, "validated": 1} and f.builds_total == 3
    assert f.validation_rate == 0.5
    assert f.builds_last_24h_by_status == {"running": 1, "validated": 1}
    assert (f.images, f.tasks_total, f.tasks_by_kind, f.tasks_last_24h) == (1, 1, {"mutate-fix": 1}, 1)
    assert f.trajectories == 3 and f.trajectories_by_origin == {"local": 1, "upload": 2}
    assert (f.rewarded, f.resolved, f.resolve_rate) == (2, 1, 0.5)


def test_an_empty_farm_has_no_rates() -> None:
    with db.session() as s:
        f = farm_stats(s)
    assert f.builds_total == 0 and f.validation_rate is None and f.resolve_rate is None


def test_activity_and_recent_rows() -> None:
    _fill()
    with db.session() as s:
        activity = farm_activity(s)
        builds, trajs = recent_builds(s, 2), recent_trajectories(s)
    by_repo = {r.repository: (r.runs, r.resolved, r.rate) for r in activity.per_repository}
    assert by_repo == {"a": (2, 1, 0.5), "(none)": (1, 0, None)}
    assert sum(row[1] + row[2] for row in activity.series["builds"]) == 2  # validated + failed
    assert len(builds) == 2 and "b2" not in {b.id for b in builds} and len(trajs) == 3
