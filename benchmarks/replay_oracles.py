"""Evidence for replay: build real repositories, make tasks, run the oracle agent, re-execute.

For each source (``benchmarks/repos.txt`` by default) until ``--repos`` repositories are done: build
and validate its image, make tasks, run the oracle agent on each (its trajectory is stored), then
``replay.reexecute`` it in a fresh container and record whether it reproduces exactly and, when
not, the first divergence. Prints one JSON line per trajectory and a summary; uses its own
``FORAGER_HOME`` (``--home``) so it never touches a user's registry.

Tasks: ``--task-source generate`` makes real mutate-fix tasks (``forager.tasks.generate``; minutes
per repository); ``probe`` (the default, fast) stores one task per image whose FAIL_TO_PASS and
PASS_TO_PASS are tests the build recorded as passing and whose gold patch adds one file, so the
oracle's trajectory runs the repository's real tests through the agent tools.

    .venv/bin/python benchmarks/replay_oracles.py --repos 10 --home /tmp/forager-replay-evidence
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sources(path: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


PROBE_PATCH = ("diff --git a/FORAGER_PROBE.txt b/FORAGER_PROBE.txt\nnew file mode 100644\n"
               "--- /dev/null\n+++ b/FORAGER_PROBE.txt\n@@ -0,0 +1 @@\n+probe\n")


def probe_tasks(build_id: str, image: str) -> list[str]:
    """One task over tests the build recorded as passing (5 FAIL_TO_PASS, up to 20 PASS_TO_PASS)."""
    from sqlalchemy import select

    from forager.store import db

    with db.session() as s:
        passed = list(s.scalars(select(db.TestResult.test_id).where(
            db.TestResult.build_id == build_id, db.TestResult.outcome == "passed",
            db.TestResult.flaky.is_(False)).order_by(db.TestResult.id)))
        if len(passed) < 6:
            return []
        task = db.Task(image_id=image, kind="probe", setup_patch="", gold_patch=PROBE_PATCH,
                       fail_to_pass=passed[:5], pass_to_pass=passed[5:25],
                       problem_statement="probe: run the recorded tests through the agent tools")
        s.add(task)
        s.flush()
        return [task.id]


EXPLORER = [
    ("bash", {"command": "ls -la"}),
    ("bash", {"command": "git log -1 --format=fuller && git status --short | head -20"}),
    ("bash", {"command": "python -c 'import sys, os; print(sys.version); print(os.getcwd())'"}),
    ("bash", {"command": "pip list 2>/dev/null | head -15; date"}),
    ("run_tests", {"tests": "TASK_TESTS"}),
    ("bash", {"command": "python -m pytest -q -p no:cacheprovider --collect-only 2>&1 | tail -3"}),
    ("bash", {"command": "python -c 'import tempfile, time; print(tempfile.mkdtemp(), time.time())'"}),
]


def record_explorer(task_id: str) -> str:
    """Run the EXPLORER actions through the agent tools on the task and store the trajectory."""
    from forager.episode.environment import open_environment
    from forager.episode.reward import compute_reward
    from forager.episode.spec import task_spec
    from forager.trajectory import store as trajectory
    from forager.trajectory.schema import Action, Trajectory, Turn

    spec = task_spec(task_id)
    traj = Trajectory(task_id=task_id, image=spec.image, image_digest=spec.image_digest or None,
                      repository=spec.repository, kind="explorer", agent="scripted")
    with open_environment(spec.image, task=spec) as env:
        traj.meta["sandbox_user"] = env.user
        for i, (tool, args) in enumerate(EXPLORER):
            if args.get("tests") == "TASK_TESTS":
                args = {"tests": spec.fail_to_pass + spec.pass_to_pass}
            obs = env.execute(Action(tool=tool, args=args))
            traj.turns.append(Turn(index=i, action=Action(tool=tool, args=args), observation=obs.output,
                                   exit_code=obs.exit_code, duration_s=obs.duration_s))
        traj.reward = compute_reward(env, spec)
    traj.exit_reason = "scripted"
    return trajectory.save(traj)


def validated_build(source: str):  # type: ignore[no-untyped-def]
    """An earlier validated build of ``source`` in this home, so a second pass does not rebuild."""
    from sqlalchemy import select

    from forager.build.builder import BuildResult
    from forager.store import db

    with db.session() as s:
        row = s.scalars(select(db.Build).where(db.Build.source == source, db.Build.status == "validated")
                        .order_by(db.Build.created_at.desc())).first()
        if row is None or not row.image:
            return None
        return BuildResult(build_id=row.id, source=source, status="validated", image=row.image)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=10)
    ap.add_argument("--tasks", type=int, default=1, help="tasks (oracle trajectories) per repository")
    ap.add_argument("--list", type=Path, default=ROOT / "benchmarks" / "repos.txt")
    ap.add_argument("--home", type=Path, default=Path("/tmp/forager-replay-evidence"))
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON lines here")
    ap.add_argument("--task-source", choices=["probe", "generate"], default="probe")
    ap.add_argument("--explore", action="store_true",
                    help="also record and replay a scripted explorer trajectory per task (listings, git, "
                         "the task's tests, collection, dates, temporary paths): what agents often run")
    args = ap.parse_args()
    os.environ["FORAGER_HOME"] = str(args.home)

    from forager.build.builder import build
    from forager.episode.run import run_episode
    from forager.tasks import generate as tasks
    from forager.trajectory import replay

    rows: list[dict[str, object]] = []
    out = args.out.open("a") if args.out else None
    done = 0
    for source in sources(args.list):
        if done >= args.repos:
            break
        t0 = time.monotonic()
        b = validated_build(source) or build(source)
        if b.status != "validated" or not b.image:
            print(json.dumps({"source": source, "skipped": f"build {b.status}: {(b.error or '')[:200]}"}),
                  flush=True)
            continue
        if args.task_source == "generate":
            gen = tasks.generate(b.image, "mutate-fix", args.tasks)
            task_ids, error = [t["id"] for t in gen.tasks], gen.error
        else:
            task_ids, error = probe_tasks(b.build_id, b.image), "too few passing tests"
        if not task_ids:
            print(json.dumps({"source": source, "skipped": f"no task: {error or 'none validated'}"}),
                  flush=True)
            continue
        done += 1
        for task_id in task_ids:
            traj = run_episode(task_id, agent="oracle")
            report = replay.reexecute(traj.id or "")
            first = next((s for s in report.steps if s.index == report.first_divergence), None)
            row = {
                "source": source, "task": task_id, "kind": args.task_source, "trajectory": traj.id,
                "steps": len(traj.turns), "recorded_resolved": traj.resolved,
                "reproduces": report.reproduces, "counts": report.counts, "reward": report.reward,
                "first_divergence": report.first_divergence,
                "divergence": (first.action + "\n" + first.detail) if first else "",
                "notes": report.notes, "error": report.error, "replay_s": round(report.duration_s, 1),
                "repo_s": round(time.monotonic() - t0, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
            if args.explore:
                traj_id = record_explorer(task_id)
                report = replay.reexecute(traj_id)
                first = next((s for s in report.steps if s.index == report.first_divergence), None)
                row = {"source": source, "task": task_id, "kind": "explorer", "trajectory": traj_id,
                       "reproduces": report.reproduces, "counts": report.counts,
                       "first_divergence": report.first_divergence,
                       "divergence": (first.action + "\n" + first.detail) if first else "",
                       "error": report.error}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if out:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
    repos = {r["source"] for r in rows}
    for kind in ("oracle", "explorer"):
        some = [r for r in rows if (r["kind"] == "explorer") == (kind == "explorer")]
        if not some:
            continue
        ok = sum(bool(r["reproduces"]) for r in some)
        print(f"\n{len(some)} {kind} trajectories from {len(repos)} repositories: {ok} reproduce exactly, "
              f"{len(some) - ok} do not")
        reasons = Counter(str(r["divergence"]).splitlines()[0] if r["divergence"] else
                          (str(r.get("error") or "reward")) for r in some if not r["reproduces"])
        for reason, n in reasons.most_common():
            print(f"  {n} x {reason}")


if __name__ == "__main__":
    main()
