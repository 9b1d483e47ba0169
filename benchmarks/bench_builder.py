"""Forager's builder against the naive recipe, side by side on the same repositories.

    .venv/bin/python benchmarks/bench_builder.py [--repos FILE...] [--limit N] [--per-file N]

The issue-14 run (the 20 repositories of the earlier table: the first 15 of repos.txt and the 5
of repos-git.txt, brought with the search tool's ``fetch``):

    .venv/bin/python benchmarks/bench_builder.py --per-file 15

For each repository:
  * naive  -- base image, `pip install -e .[test] pytest`, then `pytest` (no cache);
  * cold   -- `forager build` with an empty pip cache and no dependency layer to reuse;
  * warm   -- `forager build` of the same repository again (dependency layer and cache reused).
Both recipes are judged by the same rule: tests ran, network off, and at least 90% of the
non-skipped ones passed. Forager keeps its flaky detection (two validation runs, overlapping) and
the naive recipe runs the suite once. Reports validation counts, per-repository and median time
ratios (cold / naive, warm / naive: the goals are <= 1.0 and <= 0.6), the share of the suite
Forager's validation runs, and disk added per image; all rows and the summary go to the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forager.config import reset_settings  # noqa: E402


def naive(source: str) -> dict:
    """`pip install -e .[test] pytest` then `pytest`, on the same base and limits as Forager."""
    from forager.build import images
    from forager.build.sources import resolve
    from forager.build.testrun import install_plugin, run_tests
    from forager.runtime import Limits, get_runtime
    from forager.runtime.pipcache import discard_pip_overlay

    rt = get_runtime()
    start = time.monotonic()
    out: dict = {"status": "failed", "error": None}
    tag = f"forager-bench/naive:{uuid.uuid4().hex[:8]}"
    name = f"forager-bench-naive-{uuid.uuid4().hex[:8]}"
    try:
        src = resolve(source)
        base = images.ensure_base("3.11")
        with rt.start(base, name=name, limits=Limits.from_settings(network=True), build_mounts=True) as box:
            box.exec(f"rm -rf {'/root/.cache/pip'}/* 2>/dev/null; true", 60)
            box.put_dir(src.path, "/repo")
            res = box.exec("cd /repo && python -m pip install -q -e '.[test]' pytest", 1200)
            if not res.ok:
                out["error"] = "install failed: " + res.output.strip()[-300:]
                return out
            install_plugin(box)
            box.commit(tag, workdir="/repo")
        with rt.start(tag, limits=Limits.from_settings(network=False)) as box:
            run = run_tests(box, "python -m pytest -p no:cacheprovider", timeout=900)
        c = run.counts
        ran = c["passed"] + c["failed"] + c["error"]
        out["tests"] = c
        if ran and c["passed"] / ran >= 0.9:
            out["status"] = "validated"
        else:
            out["error"] = f"passed {c['passed']} of {ran}"
        out["disk_mb"] = (rt.image_size(tag) - rt.image_size(base)) / 1e6
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        out["duration_s"] = time.monotonic() - start
        from forager.runtime import get_runtime as _rt

        _rt().remove_image(tag)
        discard_pip_overlay(_rt(), name)  # the install container's private pip cache layer
    return out


def forager_build(source: str, cache_volume: str) -> dict:
    from forager.build import images
    from forager.build.builder import build
    from forager.runtime import get_runtime

    os.environ["FORAGER_PIP_CACHE_VOLUME"] = cache_volume
    reset_settings()
    source, _, commit = source.partition(" ")  # "SOURCE COMMIT": a past commit (--forager-only lists)
    r = build(source, commit=commit.strip() or None)
    rt = get_runtime()
    disk = 0.0
    if r.image:
        disk = (rt.image_size(r.image) - rt.image_size(images.base_tag(r.python or "3.11"))) / 1e6
    return {"status": r.status, "error": r.error, "tests": r.tests, "duration_s": r.duration_s,
            "disk_mb": disk, "image": r.image, "resolution": r.install.get("resolution"),
            "hanging": len(r.install.get("hanging") or []), "commit": r.commit,
            "path": "ci" if r.install.get("ci") else "static", "repairs": len(r.install.get("repairs") or [])}


def summarise(rows: list[dict]) -> dict:
    """Medians over the repositories both recipes validate: time ratios against the goals, disk,
    and the share of the suite Forager's validation runs."""
    med = statistics.median
    both = [r for r in rows if r["naive"]["status"] == "validated" and r["cold"]["status"] == "validated"
            and r["warm"]["status"] == "validated"]
    out: dict = {"repositories": len(rows), "validated_naive": sum(r["naive"]["status"] == "validated" for r in rows),
                 "validated_forager": sum(r["cold"]["status"] == "validated" for r in rows), "both": len(both)}
    if both:
        cold = [r["cold"]["duration_s"] / r["naive"]["duration_s"] for r in both]
        warm = [r["warm"]["duration_s"] / r["naive"]["duration_s"] for r in both]
        out |= {"median_cold_over_naive": round(med(cold), 2), "median_warm_over_naive": round(med(warm), 2),
                "sum_cold_over_naive": round(sum(r["cold"]["duration_s"] for r in both)
                                             / sum(r["naive"]["duration_s"] for r in both), 2),
                "sum_warm_over_naive": round(sum(r["warm"]["duration_s"] for r in both)
                                             / sum(r["naive"]["duration_s"] for r in both), 2),
                "goal_cold_le_1.0": med(cold) <= 1.0, "goal_warm_le_0.6": med(warm) <= 0.6,
                "median_disk_mb_naive": round(med(r["naive"]["disk_mb"] for r in both), 1),
                "median_disk_mb_forager": round(med(r["cold"]["disk_mb"] for r in both), 1)}
    shares = [r["cold"]["tests"].get("suite_share_pct") for r in rows if r["cold"]["status"] == "validated"]
    shares = [s for s in shares if s is not None]
    if shares:
        out["median_suite_share_pct"] = med(shares)
    return out


def _previous_summaries(out: Path) -> dict:
    """The summaries of the runs an earlier ``out`` holds (its own, then the ones it kept), so a
    new run keeps them beside its own under ``previous_summaries``, newest first."""
    try:
        old = json.loads(out.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict) or "summary" not in old:
        return {}
    return {"previous_summaries": [old["summary"], *old.get("previous_summaries", [])]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", nargs="+", default=[str(ROOT / "benchmarks" / "repos.txt"),
                                                   str(ROOT / "benchmarks" / "repos-git.txt")])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--per-file", type=int, default=0, help="the first N sources of each --repos file")
    ap.add_argument("--forager-only", action="store_true",
                    help="the validation survey: one Forager build per repository, no baseline")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "builder.json"))
    args = ap.parse_args()
    sources = []
    for f in args.repos:
        listed = [ln.strip() for ln in Path(f).read_text().splitlines()
                  if ln.strip() and not ln.startswith("#") and Path(ln.split()[0]).exists() | (":" in ln)]
        sources += listed[: args.per_file] if args.per_file else listed
    if args.limit:
        sources = sources[: args.limit]
    previous = _previous_summaries(Path(args.out)) if not args.forager_only else {}
    run_id = uuid.uuid4().hex[:8]
    os.environ["FORAGER_HOME"] = f"/tmp/forager-bench-{run_id}"
    if not args.forager_only:  # the survey shares the default prefix, so dependency layers are reused
        os.environ["FORAGER_IMAGE_PREFIX"] = f"forager-bench-{run_id}"
    reset_settings()
    from forager.build import images

    # the bench's own prefix: every base a build may choose (3.9 for old commits and classifiers,
    # 3.13 for requires-python >=3.12) made once, outside the timings
    for suite in images.PYTHON_OF_SUITE:  # the engine's root filesystems, when bootstrapped, are reused
        shared = f"forager/rootfs:{suite}"
        if subprocess.run(["docker", "image", "inspect", shared], capture_output=True).returncode == 0:
            subprocess.run(["docker", "tag", shared, images.rootfs_tag(suite)], check=True)
    for python in ("3.11", "3.9", "3.13"):
        images.ensure_base(python)
    rows = []
    for i, source in enumerate(sources):
        row: dict = {"source": source}
        if args.forager_only:
            row["cold"] = forager_build(source, "forager-pip-cache")
            print(f"{source:45s} forager {row['cold']['status']:9s} {row['cold']['duration_s']:6.1f}s "
                  f"{row['cold']['tests']} {(row['cold']['error'] or '')[:80]}", flush=True)
        else:
            row["naive"] = naive(source)
            row["cold"] = forager_build(source, f"forager-bench-cold-{run_id}-{i}")
            row["warm"] = forager_build(source, f"forager-bench-warm-{run_id}")
            print(f"{source:45s} naive {row['naive']['status']:9s} {row['naive']['duration_s']:6.1f}s | "
                  f"forager {row['cold']['status']:9s} cold {row['cold']['duration_s']:6.1f}s "
                  f"warm {row['warm']['duration_s']:6.1f}s | {(row['cold']['error'] or '')[:60]}", flush=True)
        rows.append(row)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows if args.forager_only else {
            "summary": summarise(rows), "rows": rows, **previous}, indent=1, default=str))
    n = len(rows)
    if args.forager_only:
        ok = sum(r["cold"]["status"] == "validated" for r in rows)
        print(f"\nvalidated {ok}/{n} ({ok / n:.0%}) with no per-repository configuration")
        return

    for key, value in summarise(rows).items():
        print(f"{key:28s} {value}")

    def share(key: str) -> int:
        return sum(r[key]["status"] == "validated" for r in rows)

    both = [r for r in rows if r["naive"]["status"] == "validated" and r["cold"]["status"] == "validated"]
    print(f"\nrepositories: {n}")
    print(f"validated    naive {share('naive')}/{n} ({share('naive') / n:.0%})   "
          f"forager {share('cold')}/{n} ({share('cold') / n:.0%})")
    med = statistics.median
    print(f"median time  naive {med(r['naive']['duration_s'] for r in rows):.1f}s   "
          f"forager cold {med(r['cold']['duration_s'] for r in rows):.1f}s   "
          f"forager warm {med(r['warm']['duration_s'] for r in rows):.1f}s")
    if both:
        print(f"on the {len(both)} both validate: forager cold / naive time = "
              f"{med(r['cold']['duration_s'] / r['naive']['duration_s'] for r in both):.2f}x, "
              f"warm / naive = {med(r['warm']['duration_s'] / r['naive']['duration_s'] for r in both):.2f}x, "
              f"warm / cold = {med(r['warm']['duration_s'] / r['cold']['duration_s'] for r in both):.2f}x")
        print(f"disk added per image (median MB): naive {med(r['naive']['disk_mb'] for r in both):.1f}, "
              f"forager {med(r['cold']['disk_mb'] for r in both):.1f}")


if __name__ == "__main__":
    main()
