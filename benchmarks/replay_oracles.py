"""Evidence for replay: build real repositories, make tasks, run the oracle agent, re-execute.

For each source (``benchmarks/repos.txt`` by default) until ``--repos`` repositories are done: build
and validate its image, generate ``--tasks`` mutate-fix tasks, run the oracle agent on each (its
trajectory is stored), then ``replay.reexecute`` it in a fresh container and record whether it
reproduces exactly and, when not, the first divergence. Prints one JSON line per trajectory and a
summary; uses its own ``FORAGER_HOME`` (``--home``) so it never touches a user's registry.

    .venv/bin/python benchmarks/replay_oracles.py --repos 10 --tasks 1 --home /tmp/forager-replay-evidence
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=10)
    ap.add_argument("--tasks", type=int, default=1, help="tasks (oracle trajectories) per repository")
    ap.add_argument("--list", type=Path, default=ROOT / "benchmarks" / "repos.txt")
    ap.add_argument("--home", type=Path, default=Path("/tmp/forager-replay-evidence"))
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON lines here")
    args = ap.parse_args()
    os.environ["FORAGER_HOME"] = str(args.home)

    from forager import agent, replay, tasks
    from forager.builder import build

    rows: list[dict[str, object]] = []
    out = args.out.open("a") if args.out else None
    done = 0
    for source in sources(args.list):
        if done >= args.repos:
            break
        t0 = time.monotonic()
        b = build(source)
        if b.status != "validated" or not b.image:
            print(json.dumps({"source": source, "skipped": f"build {b.status}: {(b.error or '')[:200]}"}),
                  flush=True)
            continue
        gen = tasks.generate(b.image, "mutate-fix", args.tasks)
        if not gen.tasks:
            print(json.dumps({"source": source, "skipped": f"no task: {gen.error or 'none validated'}"}),
                  flush=True)
            continue
        done += 1
        for task in gen.tasks:
            traj = agent.run_episode(task["id"], agent="oracle")
            report = replay.reexecute(traj.id or "")
            first = next((s for s in report.steps if s.index == report.first_divergence), None)
            row = {
                "source": source, "task": task["id"], "family": task.get("family"), "trajectory": traj.id,
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
    repos = {r["source"] for r in rows}
    ok = sum(bool(r["reproduces"]) for r in rows)
    print(f"\n{len(rows)} oracle trajectories from {len(repos)} repositories: {ok} reproduce exactly, "
          f"{len(rows) - ok} do not")
    reasons = Counter(str(r["divergence"]).splitlines()[0] if r["divergence"] else
                      ("reward" if not r["reproduces"] else "-") for r in rows if not r["reproduces"])
    for reason, n in reasons.most_common():
        print(f"  {n} x {reason}")


if __name__ == "__main__":
    main()
