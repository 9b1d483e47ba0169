"""A campaign slice through Celery workers on the machine's real Redis and PostgreSQL, twice: once
uninterrupted (run ``a``), once with one worker and the runner killed with SIGKILL in the middle of a
build and the campaign resumed with ``campaign run`` again (run ``b``). Asserts that both runs end
with the same counts per stage, and that nothing was made twice; writes the figures to
``benchmarks/results/campaign_celery_slice.json``.

    .venv/bin/python benchmarks/campaign_celery_slice.py [--sources FILE] [--out FILE]

Each run has its own PostgreSQL database (``forager_slice_a`` / ``forager_slice_b``, made afresh),
its own Redis key prefix on Redis db ``SLICE_REDIS_DB``, its own FORAGER_HOME under ``--home``, and
two worker processes (``forager worker --queues build,tasks,agent --concurrency 1``), as two
machines would be. Docker images are shared by the runs (the engine is one): run ``b`` reuses the
dependency layers run ``a`` made, so its durations are not a like-for-like comparison; its counts are.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORAGER = str(Path(sys.executable).parent / "forager")
PG_ADMIN = "host=127.0.0.1 user=root dbname=postgres"
PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/{name}"
SLICE_REDIS_DB = 11
REDIS_URL = f"redis://127.0.0.1:6379/{SLICE_REDIS_DB}"
SLICE = """# the slice: 12 PyPI sdist versions, pinned so both runs build the same ones
pypi:more-itertools==11.2.1
pypi:more-itertools==11.2.0
pypi:toolz==1.2.0
pypi:toolz==1.1.0
pypi:itsdangerous==2.2.0
pypi:parse==1.22.4
pypi:parse==1.22.3
pypi:mccabe==0.7.0
pypi:cachetools==7.3.3
pypi:humanize==4.17.0
pypi:iniconfig==2.3.1
pypi:jmespath==1.0.0
"""
SETTINGS = {
    "FORAGER_EXECUTOR": "celery",
    "FORAGER_REDIS_URL": REDIS_URL,
    "FORAGER_JOB_LEASE_S": "15",  # a killed worker's job is taken over 15 s after its last beat
    "FORAGER_CAMPAIGN_POLL_S": "1",
}
MID_BUILD_S = 20.0
"""How long the build on the first worker must have run (with its containers up) before the kill."""


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class Run:
    label: str
    home: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Proc:
        log = self.home / f"{name}.log"
        p = subprocess.Popen([FORAGER, *args], env={**os.environ, **self.env}, stdout=log.open("ab"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(name, p, log)
        self.procs.append(proc)
        return proc

    def worker(self, name: str) -> Proc:
        w = self.start(name, "worker", "--queues", "build,tasks,agent", "--concurrency", "1",
                       "--name", f"{name}@%h")
        deadline = time.monotonic() + 120
        while b" ready." not in w.log.read_bytes():
            if w.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker {name} did not start:\n{w.log.read_text()[-3000:]}")
            time.sleep(0.5)
        return w


def _fresh_services(label: str) -> tuple[str, str]:
    """A new PostgreSQL database ``forager_slice_<label>`` at the newest schema, and an emptied Redis
    key prefix; (database URL, prefix)."""
    import psycopg
    import redis

    from forager.store import db

    name = f"forager_slice_{label}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    db.upgrade(url)
    prefix = f"forager-slice-{label}:"
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        r.delete(*keys)
    return url, prefix


def _use(env: dict[str, str]) -> None:
    """Point this process's settings and database engine at a run."""
    from forager.config import reset_settings
    from forager.store import db

    os.environ.update(env)
    reset_settings()
    db.reset_engines()


def _wait(proc: Proc, timeout: float) -> int:
    try:
        return proc.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{proc.name} did not end within {timeout:.0f}s:\n{proc.log.read_text()[-3000:]}") from None


def _mid_build_on(worker: str, campaign_id: str) -> tuple[str, str] | None:
    """(item key, job id) of a build on ``worker`` that has run MID_BUILD_S with a container up."""
    from forager import jobs
    from forager.build.owners import BUILD_LABEL
    from forager.clock import utcnow
    from forager.runtime import get_runtime
    from forager.store import campaigns as rows

    for item in rows.items(campaign_id, "build", ["running"]):
        job = jobs.get_job(item.job_id or "")
        if job is None or job.state != "running" or not (job.worker or "").startswith(f"{worker}@"):
            continue
        if job.started_at and (utcnow() - job.started_at).total_seconds() >= MID_BUILD_S \
                and get_runtime().containers({BUILD_LABEL: jobs.build_id_for(job.id)}):
            return item.key, job.id
    return None


def _campaign(run: Run, sources: Path, kill: bool) -> dict[str, Any]:
    """Create and run the slice on two workers; with ``kill``, SIGKILL the first worker and the runner
    mid-build, start a replacement worker and ``campaign run`` again."""
    from forager.store import campaigns as rows

    create = run.start("create", "campaign", "create", "slice", "--sources", str(sources), "--tasks",
                       "mutate-fix=1", "--episodes-per-task", "1", "--agent", "oracle", "--json")
    if _wait(create, 900) != 0:
        raise SystemExit(f"campaign create failed:\n{create.log.read_text()[-3000:]}")
    cid = rows.get_campaign("slice").id
    w1, _w2 = run.worker(f"slice-{run.label}-w1"), run.worker(f"slice-{run.label}-w2")
    t0 = time.monotonic()
    runner = run.start("run1", "campaign", "run", "slice", "--concurrency", "2", "--json")
    out: dict[str, Any] = {"campaign_id": cid}
    if kill:
        found = None
        while found is None:
            if runner.proc.poll() is not None:
                raise SystemExit("the campaign ended before a build ran long enough on the first worker")
            time.sleep(2)
            found = _mid_build_on(w1.name, cid)
        w1.kill9()
        runner.kill9()
        out["kill"] = {"at_s": round(time.monotonic() - t0, 1), "item": found[0], "job": found[1],
                       "worker": w1.name, "signal": "SIGKILL", "also_killed": "the campaign run process",
                       "funnel_at_kill": rows.counts(cid)}
        run.worker(f"slice-{run.label}-w1b")  # the lost machine's replacement
        runner = run.start("run2", "campaign", "run", "slice", "--concurrency", "2", "--json")
    rc = _wait(runner, 4 * 3600)
    out["duration_s"] = round(time.monotonic() - t0, 1)
    out["exit_code"] = rc
    return out


def _summary(campaign_id: str) -> dict[str, Any]:
    """Final counts, and every way something could have been made twice."""
    from sqlalchemy import func, select

    from forager.campaign.funnel import report
    from forager.store import campaigns as rows
    from forager.store import db

    rep = report(campaign_id)
    items = rows.items(campaign_id)
    episodes = [i for i in items if i.stage == "episode" and i.state == "done"]
    with db.session() as s:
        images = s.execute(select(db.Image.id, db.Image.source, db.Image.commit, db.Image.status)).all()
        tasks = s.execute(select(db.Task.id, db.Task.image_id, db.Task.kind)).all()
        trajs = s.execute(select(db.Trajectory.id, db.Trajectory.task_id, db.Trajectory.resolved)).all()
        builds = s.execute(select(db.Build.status, func.count()).group_by(db.Build.status)).all()
        job_rows = s.execute(select(db.Job.id, db.Job.kind, db.Job.state, db.Job.attempts)).all()
    validated = [i for i in images if i.status == "validated"]
    per_version = Counter((i.source, i.commit) for i in validated)
    per_task = Counter(t.task_id for t in trajs)
    used_tasks = {t for i in items if i.stage == "tasks" and i.state == "done" for t in i.result.get("task_ids") or []}
    item_traj = [str(e.result.get("trajectory_id")) for e in episodes]
    out = {
        "funnel": {k: rep[k] for k in ("versions", "images_validated", "builds_failed", "builds_failed_infrastructure",
                                       "tasks", "episodes", "episodes_resolved")},
        "stages": rep["stages"],
        "failures": {st: {f["cause"]: f["count"] for f in fl} for st, fl in rep["failures"].items() if fl},
        "validated_versions": sorted(i.source + "@" + str(i.commit) for i in validated),
        "failed_versions": sorted(f"{i.key}: {i.cause}" for i in items if i.stage == "build" and i.state == "failed"),
        "rows": {"images_validated": len(validated), "tasks": len(tasks), "trajectories": len(trajs),
                 "trajectories_resolved": sum(1 for t in trajs if t.resolved), "builds": dict(builds),
                 "jobs": len(job_rows), "jobs_by_state": dict(Counter(j.state for j in job_rows)),
                 "jobs_with_more_than_one_attempt": sorted(f"{j.id} ({j.kind}) x{j.attempts}"
                                                           for j in job_rows if j.attempts > 1)},
        "duplicates": {
            "images_per_version_over_1": sum(1 for n in per_version.values() if n > 1),
            "item_keys_repeated": len(items) - len({(i.stage, i.key) for i in items}),
            "tasks_beyond_quota": len(tasks) - len(used_tasks),
            "trajectories_per_task_over_1": sum(1 for n in per_task.values() if n > 1),
            "trajectory_rows_beyond_episodes": len(trajs) - len(episodes),
            "episode_items_sharing_a_trajectory": len(item_traj) - len(set(item_traj)),
        },
        "per_hour": {k: rep[k] for k in ("images_per_hour", "tasks_per_hour", "episodes_per_hour")},
    }
    return out


def _cleanup(run: Run) -> None:
    for p in run.procs:
        p.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=Path, help="sources file (default: the slice above)")
    ap.add_argument("--home", type=Path, default=Path(os.environ.get("FORAGER_HOME", str(Path.home() / ".forager"))),
                    help="the runs' FORAGER_HOMEs go under it")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "campaign_celery_slice.json")
    args = ap.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    sources = args.sources or args.home / "slice-sources.txt"
    if args.sources is None:
        sources.write_text(SLICE)
    result: dict[str, Any] = {"sources": [s for s in sources.read_text().splitlines() if s and not s.startswith("#")],
                              "settings": {**SETTINGS, "workers": 2, "concurrency": 2,
                                           "tasks": "mutate-fix=1", "episodes_per_task": 1, "agent": "oracle"},
                              "runs": {}}
    for label, kill in (("a", False), ("b", True)):
        home = args.home / f"slice-{label}"
        home.mkdir(parents=True, exist_ok=True)
        for old in home.glob("*.log"):  # a worker is ready when its log says so: not an earlier run's
            old.unlink()
        url, prefix = _fresh_services(label)
        env = {**SETTINGS, "FORAGER_HOME": str(home), "FORAGER_DATABASE_URL": url, "FORAGER_REDIS_KEY_PREFIX": prefix}
        _use(env)
        run = Run(label, home, env)
        try:
            ran = _campaign(run, sources, kill)
        finally:
            _cleanup(run)
        ran.update(_summary(ran["campaign_id"]))
        if kill:
            from forager import jobs

            job = jobs.get_job(ran["kill"]["job"])
            ran["kill"]["job_after"] = job and {"state": job.state, "attempts": job.attempts, "events": [
                (e["event"], e["worker"]) for e in (job.result or {}).get("history", [])]}
        ran["database"], ran["redis"] = url.rpartition("/")[2], f"{REDIS_URL} prefix {prefix}"
        result["runs"][label] = ran
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(json.dumps({label: {k: ran[k] for k in ("duration_s", "funnel", "duplicates")}}, indent=2), flush=True)
    a, b = result["runs"]["a"], result["runs"]["b"]
    checks = {
        "both_runs_done": a["exit_code"] == 0 and b["exit_code"] == 0,
        "same_stage_counts": a["stages"] == b["stages"],
        "same_funnel": a["funnel"] == b["funnel"],
        "same_failure_causes": a["failures"] == b["failures"],
        "same_validated_versions": a["validated_versions"] == b["validated_versions"],
        "no_duplicates": not any(a["duplicates"].values()) and not any(b["duplicates"].values()),
        "killed_job_taken_over": bool(b["kill"].get("job_after")) and b["kill"]["job_after"]["state"] in
        ("succeeded", "failed") and b["kill"]["job_after"]["attempts"] >= 2,
    }
    result["checks"] = checks
    result["ok"] = all(checks.values())
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({"checks": checks, "ok": result["ok"]}, indent=2))
    if not result["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
