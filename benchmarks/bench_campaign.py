"""A campaign against a plain sequential loop of `forager build`, side by side in one run.

    .venv/bin/python benchmarks/bench_campaign.py [--repos benchmarks/repos.txt] [--limit 4] [--no-warmup]

The same PyPI sources are built three ways, each in a fresh FORAGER_HOME (a new farm: every image
is built again, none reused):
  * loop   -- `forager build SOURCE --json`, one after the other (the baseline);
  * c1     -- `forager campaign create` + `campaign run --concurrency 1` (builds only: no task quota);
  * c2     -- the same campaign at `--concurrency 2`.
A warm-up pass first builds every source once in a throw-away farm, so that no configuration pays
alone for the dependency layers and the pip cache the three share on the engine. Reports images
per hour of each and the ratios to the loop; writes benchmarks/results/campaign.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORAGER = str(Path(sys.executable).parent / "forager")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "FORAGER_HOME": str(home), "FORAGER_CAMPAIGN_POLL_S": "1"}


def loop(sources: list[str], home: Path) -> dict:
    start = time.monotonic()
    statuses = []
    for src in sources:
        proc = subprocess.run([FORAGER, "build", src, "--json"], env=_env(home), capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        statuses.append(json.loads(lines[-1])["status"] if lines else "error")
    return {"wall_s": time.monotonic() - start, "validated": statuses.count("validated"), "versions": len(sources)}


def campaign(sources: list[str], home: Path, concurrency: int) -> dict:
    listing = home / "sources.txt"
    home.mkdir(parents=True, exist_ok=True)
    listing.write_text("\n".join(sources) + "\n")
    start = time.monotonic()
    subprocess.run([FORAGER, "campaign", "create", "bench", "--sources", str(listing), "--tasks", "mutate-fix=0"],
                   env=_env(home), check=True, capture_output=True)
    proc = subprocess.run([FORAGER, "campaign", "run", "bench", "--concurrency", str(concurrency), "--json"],
                          env=_env(home), capture_output=True, text=True)
    out = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    return {"wall_s": time.monotonic() - start, "validated": out["images_validated"], "versions": out["versions"]}


def per_hour(r: dict) -> float:
    return round(r["validated"] / (r["wall_s"] / 3600), 1) if r["wall_s"] else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", default=str(ROOT / "benchmarks" / "repos.txt"))
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--no-warmup", action="store_true")
    args = ap.parse_args()
    lines = Path(args.repos).read_text().splitlines()
    sources = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")][:args.limit]
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        base = Path(tmp)
        if not args.no_warmup:
            loop(sources, base / "warmup")
        results = {"loop": loop(sources, base / "loop"),
                   "c1": campaign(sources, base / "c1", 1),
                   "c2": campaign(sources, base / "c2", 2)}
    for r in results.values():
        r["images_per_hour"] = per_hour(r)
        r["wall_s"] = round(r["wall_s"], 1)
    base_rate = results["loop"]["images_per_hour"] or 1.0
    report = {"sources": sources, "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
              "results": results,
              "ratio_to_loop": {k: round(v["images_per_hour"] / base_rate, 2) for k, v in results.items()}}
    out = ROOT / "benchmarks" / "results" / "campaign.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'config':<6} {'validated':>9} {'wall s':>8} {'images/h':>9} {'x loop':>7}")
    for k, v in results.items():
        print(f"{k:<6} {v['validated']:>6}/{v['versions']:<2} {v['wall_s']:>8} {v['images_per_hour']:>9} "
              f"{report['ratio_to_loop'][k]:>7}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
