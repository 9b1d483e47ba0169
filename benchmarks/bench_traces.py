"""Execution traces on real images: the traced test run against the plain run of the same tests
(ratio), traces per hour, and what the traces are like (frames, bytes, reproducible share).

For each validated image of FORAGER_HOME (or ``--images``): one network-off workspace, the
baseline run with the call collector, the plan (``--functions`` × ``--per-function``, ``--seed``),
then the selected tests run four times alternating plain / traced / plain / traced. The ratio is
traced over plain (medians of the two), both for the whole pytest run and for the time pytest
reports inside the tests (without start-up and collection). The two traced runs are compared
after normalising: the reproducible share is the share of traces of the first run whose
fingerprint the second run reproduced. The first run's traces are stored (``--store``) so the
viewer can show them. Traces per hour count the traces of the first traced run over the time a
whole collection of the image takes (baseline + traced run), one pytest process (one core).

    FORAGER_HOME=... .venv/bin/python benchmarks/bench_traces.py [--images A,B] [--functions 20]
        [--per-function 3] [--seed 0] [--store] [--out benchmarks/results/traces.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ATTEMPTS = 3
sys.path.insert(0, str(ROOT))


def validated_images() -> list[str]:
    from forager.store import db

    with db.session() as s:
        return [i.id for i in s.query(db.Image).filter(db.Image.status == "validated").order_by(db.Image.id)]


def pct(values: list[int], q: float) -> int:
    v = sorted(values)
    return v[int(q * (len(v) - 1))] if v else 0


def in_test_seconds(run: Any) -> float:
    return sum(r.duration for r in run.results.values() if not r.collection)


def bench_image(image: str, functions: int, per_function: int, seed: int, store: bool) -> dict[str, Any]:
    from forager.config import get_settings
    from forager.store.traces import add_traces
    from forager.tasks.baseline import timeout_for
    from forager.traces.collect import CollectConfig, open_workspace, rows_of, trace_targets
    from forager.traces.plan import plan, planned_tests

    s = get_settings()
    ws, img, baseline, sources = open_workspace(image, lambda _: None, s)
    try:
        targets = plan(sources, baseline, functions, per_function, seed)
        tests = planned_tests(targets)
        timeout = 3 * timeout_for(baseline, tests)
        cfg = CollectConfig.from_settings(s)
        plain, traced = [], []
        for _ in range(2):
            t0 = time.monotonic()
            run = ws.run(tests, timeout)
            plain.append((time.monotonic() - t0, in_test_seconds(run), len(run.passed)))
            traced.append(trace_targets(ws, targets, cfg, timeout))
        first, second = traced
        if not first.run.results or not second.run.results or not all(p[2] for p in plain):
            raise RuntimeError(f"a run produced no results: {second.run.exec.output[-300:]}")
        rows, unmatched = rows_of(first, targets, sources, ws)
        again, _ = rows_of(second, targets, sources, ws)
        key = lambda r: (r["path"], r["function"], r["test"], r["kind"])  # noqa: E731
        prints = {key(r): r["fingerprint"] for r in again}
        reproduced = sum(prints.get(key(r)) == r["fingerprint"] for r in rows)
        if store and rows:
            add_traces(img.id, img.source, seed, rows)
    finally:
        ws.remove()
    plain_s = statistics.median(p[0] for p in plain)
    traced_s = statistics.median(t.seconds for t in traced)
    plain_in = statistics.median(p[1] for p in plain)
    traced_in = statistics.median(in_test_seconds(t.run) for t in traced)
    frames = [int(r["n_frames"]) for r in rows]
    sizes = [int(r["size_bytes"]) for r in rows]
    collection_s = baseline.run_s + first.seconds
    return {
        "image": img.id, "repository": img.source, "functions": len(targets), "tests": len(tests),
        "tests_passed_plain": plain[0][2], "tests_passed_traced": len(first.run.passed),
        "traces": len(rows), "refused": first.refused, "unmatched": unmatched,
        "engine": first.traces[0].engine if first.traces else "",
        "statuses": {st: sum(r["status"] == st for r in rows) for st in ("complete", "truncated", "incomplete")},
        "frames_median": statistics.median(frames) if frames else 0, "frames_p90": pct(frames, 0.9),
        "bytes_median": statistics.median(sizes) if sizes else 0,
        "bytes_mean": round(statistics.mean(sizes)) if sizes else 0,
        "reproducible": reproduced, "reproducible_share": round(reproduced / len(rows), 3) if rows else None,
        "plain_s": round(plain_s, 2), "traced_s": round(traced_s, 2), "ratio_wall": round(traced_s / plain_s, 2),
        "plain_in_tests_s": round(plain_in, 3), "traced_in_tests_s": round(traced_in, 3),
        "ratio_in_tests": round(traced_in / plain_in, 2) if plain_in > 0 else None,
        "baseline_s": round(baseline.run_s, 2), "collection_s": round(collection_s, 2),
        "traces_per_hour": round(len(rows) / collection_s * 3600) if collection_s else 0,
    }


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r and r["traces"]]
    traces = sum(r["traces"] for r in ok)
    secs = sum(r["collection_s"] for r in ok)
    in_tests = [r["ratio_in_tests"] for r in ok if r["ratio_in_tests"]]
    return {
        "images": len(ok), "traces": traces,
        "frames_median_of_medians": statistics.median(r["frames_median"] for r in ok) if ok else 0,
        "reproducible_share": round(sum(r["reproducible"] for r in ok) / traces, 3) if traces else None,
        "ratio_wall_median": statistics.median(r["ratio_wall"] for r in ok) if ok else None,
        "ratio_wall_max": max((r["ratio_wall"] for r in ok), default=None),
        "ratio_in_tests_median": statistics.median(in_tests) if in_tests else None,
        "ratio_in_tests_max": max(in_tests, default=None),
        "images_within_5x_wall": sum(r["ratio_wall"] <= 5 for r in ok),
        "traces_per_hour_per_core": round(traces / secs * 3600) if secs else 0,
    }


def attempt(image: str, args: argparse.Namespace, tries: int = ATTEMPTS) -> dict[str, Any]:
    """One image's row; a container killed from outside (the engine is shared) is tried again."""
    row: dict[str, Any] = {}
    for n in range(1, tries + 1):
        try:
            row = bench_image(image, args.functions, args.per_function, args.seed, args.store)
            row["attempts"] = n
            return row
        except Exception as exc:  # noqa: BLE001 - one image failing is reported, the others go on
            row = {"image": image, "error": f"{type(exc).__name__}: {exc}"[:500], "attempts": n}
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="")
    ap.add_argument("--functions", type=int, default=20)
    ap.add_argument("--per-function", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "traces.json"))
    args = ap.parse_args()
    images = [i for i in args.images.split(",") if i] or validated_images()
    rows: list[dict[str, Any]] = []
    for image in images:
        start = time.monotonic()
        row = attempt(image, args)
        row["bench_s"] = round(time.monotonic() - start, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"settings": {"functions": args.functions, "per_function": args.per_function, "seed": args.seed},
              "summary": aggregate(rows), "images": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
