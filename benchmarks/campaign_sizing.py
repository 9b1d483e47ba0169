"""A farm's size from a campaign's measured per-stage costs: machines, hours, disk and registry
storage for a target number of images and trajectories.

    FORAGER_HOME=... .venv/bin/python benchmarks/campaign_sizing.py NAME \
        [--images 35000] [--trajectories 3000000] [--steps 30] [--model-s-per-step 6] [--out FILE]

Measured (from the campaign's rows): each stage's *slot-seconds* per item (the time its job held a
worker slot, from the job's start to its end), the validated share of builds, tasks per image, the
disk its images add (``campaign_evidence.disk``) and the bytes of its stored trajectories.
Assumed (stated in the output): a model-driven episode takes ``--steps`` turns of
``--model-s-per-step`` seconds of model time each, on top of the measured fixed cost of an oracle
episode (container start, task setup, judging); a slot is one core of this machine's kind; the
registry holds as much as the engines (layers are shared the same way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forager.jobs.state import get_job  # noqa: E402
from forager.store import campaigns as rows  # noqa: E402
from forager.trajectory.store import stored_path  # noqa: E402

HOUR = 3600.0


def slot_seconds(campaign_id: str, stage: str) -> list[float]:
    """Seconds each finished item of ``stage`` held a worker slot (its last job's run)."""
    out = []
    for item in rows.items(campaign_id, stage, ["done", "failed"]):
        job = get_job(item.job_id or "")
        if job is not None and job.started_at and job.finished_at:
            out.append((job.finished_at - job.started_at).total_seconds())
    return out


def trajectory_bytes(campaign_id: str) -> list[int]:
    sizes = []
    for item in rows.items(campaign_id, "episode", ["done"]):
        tid = (item.result or {}).get("trajectory_id")
        path = stored_path(tid) if tid else None
        if path is not None and path.exists():
            sizes.append(path.stat().st_size)
    return sizes


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean": 0.0, "median": 0.0}
    return {"n": len(values), "mean": round(statistics.fmean(values), 1), "median": round(statistics.median(values), 1)}


def sizing(evidence: dict[str, Any], costs: dict[str, dict[str, float]], traj_bytes: list[int],
           images: int, trajectories: int, steps: int, model_s: float, cores: int) -> dict[str, Any]:
    validated = evidence["images_validated"] / max(evidence["images_validated"] + evidence["builds_failed"], 1)
    versions = images / max(validated, 1e-9)
    tasks_per_image = evidence["tasks"] / max(evidence["images_validated"], 1)
    tasks = images * tasks_per_image
    build_h = versions * costs["build"]["mean"] / HOUR
    tasks_h = images * costs["tasks"]["mean"] / HOUR
    episode_fixed = costs["episode"]["mean"]
    episode_h = trajectories * (episode_fixed + steps * model_s) / HOUR
    disk_per_image = evidence["disk"]["total_bytes_per_image"]
    oracle_turns = 3
    traj_mean = statistics.fmean(traj_bytes) if traj_bytes else 0.0
    traj_llm = traj_mean * steps / oracle_turns  # bytes grow with the turns; an assumption
    slot_h = build_h + tasks_h + episode_h
    engines_tb = images * disk_per_image / 1e12
    return {
        "assumptions": {"model_seconds_per_step": model_s, "steps_per_episode": steps,
                        "slot": f"one core of a {cores}-core machine of this kind",
                        "registry": "as much as the engines (layers shared the same way)",
                        "llm_trajectory_bytes": f"oracle trajectory bytes x {steps}/{oracle_turns} turns"},
        "measured": {"validated_share": round(validated, 3), "tasks_per_image": round(tasks_per_image, 2),
                     "slot_seconds": costs, "disk_bytes_per_image": disk_per_image,
                     "oracle_trajectory_bytes_mean": round(traj_mean)},
        "target": {"images": images, "trajectories": trajectories, "versions_to_build": round(versions),
                   "tasks": round(tasks)},
        "slot_hours": {"build": round(build_h), "tasks": round(tasks_h), "episodes": round(episode_h),
                       "total": round(slot_h)},
        "machines": {f"{n} machines of {cores} cores": f"{slot_h / (n * cores) / 24:.1f} days"
                     for n in (64, 256, 1024)},
        "disk": {"engines_tb": round(engines_tb, 2), "registry_tb": round(engines_tb, 2),
                 "trajectories_gb": round(trajectories * traj_llm / 1e9, 1)},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--evidence", default=str(ROOT / "benchmarks" / "results" / "campaign_evidence.json"))
    ap.add_argument("--images", type=int, default=35_000)
    ap.add_argument("--trajectories", type=int, default=3_000_000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--model-s-per-step", type=float, default=6.0)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "campaign_sizing.json"))
    args = ap.parse_args()
    evidence = json.loads(Path(args.evidence).read_text())
    camp = rows.get_campaign(args.name)
    costs = {s: _stats(slot_seconds(camp.id, s)) for s in ("build", "tasks", "episode")}
    out = sizing(evidence, costs, trajectory_bytes(camp.id), args.images, args.trajectories, args.steps,
                 args.model_s_per_step, args.cores)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
