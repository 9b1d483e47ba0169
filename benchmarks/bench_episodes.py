"""Oracle (or llm) episodes over the registry's tasks at several concurrency levels, side by side.

    .venv/bin/python benchmarks/bench_episodes.py [--tasks FILTER] [--concurrency 1,2] [--json]

Uses the tasks of the current ``FORAGER_HOME`` registry (``forager tasks generate`` makes them).
For each concurrency level it runs one episode per task and reports: the share resolved (every
valid task should resolve under the oracle), episodes per hour of wall time, the per-step
orchestration overhead (per episode: its turns' wall time minus the time spent executing actions
and waiting for the model, i.e. prompt building, trajectory checkpoints, bookkeeping; divided by
its steps; mean and p90 over episodes), the mean time of each episode
phase, and the unresolved tasks with their test outcomes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from typing import Any


def run_level(task_ids: list[str], concurrency: int, agent: str) -> dict[str, Any]:
    from forager.episode.batch import run_many
    from forager.trajectory.store import load

    start = time.monotonic()
    summaries = run_many(task_ids, concurrency=concurrency, agent=agent)
    wall = time.monotonic() - start
    ran = [s for s in summaries if s.complete]
    overheads: list[float] = []
    phases: dict[str, list[float]] = defaultdict(list)
    repos: set[str] = set()
    unresolved = []
    for s in ran:
        traj = load(s.trajectory_id or "").trajectory
        repos.add(traj.repository or "")
        if traj.turns:  # measured by the loop around each turn, checkpoint included
            overheads.append(traj.meta.get("orchestration_overhead_s", 0.0) / len(traj.turns))
        for name, value in (traj.meta.get("phases_s") or {}).items():
            phases[name].append(value)
        if not s.resolved:
            bad = {k: v for k, v in {**(traj.reward.fail_to_pass if traj.reward else {}),
                                     **(traj.reward.pass_to_pass if traj.reward else {})}.items()
                   if v != "passed"}
            unresolved.append({"task_id": s.task_id, "trajectory_id": s.trajectory_id,
                               "exit_reason": s.exit_reason, "not_passed": dict(list(bad.items())[:5])})
    turn_overhead = sorted(overheads)
    p90 = turn_overhead[int(0.9 * (len(turn_overhead) - 1))] if turn_overhead else 0.0
    return {
        "concurrency": concurrency, "episodes": len(summaries), "completed": len(ran),
        "errors": [{"task_id": s.task_id, "error": s.error} for s in summaries if not s.complete],
        "repositories": len(repos),
        "resolved": sum(s.resolved for s in ran),
        "resolved_share": round(sum(s.resolved for s in ran) / len(ran), 4) if ran else 0.0,
        "wall_s": round(wall, 1),
        "episodes_per_hour": round(len(ran) * 3600 / wall, 1) if ran else 0.0,
        "mean_episode_s": round(statistics.mean(s.duration_s for s in ran), 2) if ran else 0.0,
        "overhead_per_step_ms": {
            "mean": round(statistics.mean(turn_overhead) * 1000, 1) if turn_overhead else 0.0,
            "p90": round(p90 * 1000, 1),
            "episodes": len(turn_overhead)},
        "phase_mean_s": {k: round(statistics.mean(v), 2) for k, v in sorted(phases.items())},
        "unresolved": unresolved,
    }


def main() -> None:
    from forager.store.tasks_query import select_tasks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--concurrency", default="1,2")
    parser.add_argument("--agent", default="oracle")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    task_ids = select_tasks(args.tasks)
    levels = [run_level(task_ids, int(c), args.agent) for c in args.concurrency.split(",")]
    if args.json:
        print(json.dumps(levels, indent=2))
        return
    base = levels[0]
    print(f"{len(task_ids)} tasks from {base['repositories']} repositories, agent {args.agent}")
    print(f"{'concurrency':>11} {'resolved':>10} {'ep/hour':>8} {'vs c=' + str(base['concurrency']):>7} "
          f"{'episode s':>9} {'overhead/step ms':>17}  phases (mean s)")
    for lv in levels:
        ratio = lv["episodes_per_hour"] / base["episodes_per_hour"] if base["episodes_per_hour"] else 0
        print(f"{lv['concurrency']:>11} {lv['resolved']:>4}/{lv['completed']:<5} "
              f"{lv['episodes_per_hour']:>8.0f} "
              f"{ratio:>6.2f}x {lv['mean_episode_s']:>9.1f} "
              f"{lv['overhead_per_step_ms']['mean']:>8.1f} (p90 {lv['overhead_per_step_ms']['p90']:.0f})"
              f"  {lv['phase_mean_s']}")
        for u in lv["unresolved"]:
            print(f"    unresolved {u['task_id']} ({u['exit_reason']}): {u['not_passed']}")
        for e in lv["errors"]:
            print(f"    error {e['task_id']}: {e['error'][:200]}")


if __name__ == "__main__":
    main()
