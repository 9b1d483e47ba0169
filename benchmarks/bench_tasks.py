"""Task generation: time per validated task, Forager's pipeline against the naive one, side by side.

    .venv/bin/python benchmarks/bench_tasks.py IMAGE [IMAGE ...] [--kinds mutate-fix,implement-feature]
        [--max 3] [--naive] [--out benchmarks/results/tasks.json]

IMAGE is a validated image of the registry at $FORAGER_HOME (``forager images list``); ``all``
takes every validated image. For each image and kind it reports validated tasks, candidates tried,
the share kept, seconds per validated task and discard reasons.

With ``--naive`` (mutate-fix only) the same candidates, in the same order, also go through the
naive pipeline: a fresh container per candidate, the whole suite on every candidate (no call
tracing, no first look at the tests that call the function) and a second fresh container for
validation. The ratio naive / forager is the saving of one container per image, reset with git,
and running the tests that call the mutated function first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forager.build.testrun import run_tests  # noqa: E402
from forager.config import get_settings  # noqa: E402
from forager.runtime import Limits, get_runtime  # noqa: E402
from forager.store import db  # noqa: E402
from forager.tasks.baseline import collect_baseline, covered_functions, load_image  # noqa: E402
from forager.tasks.candidates import mutation_candidates  # noqa: E402
from forager.tasks.generate import generate  # noqa: E402
from forager.tasks.workspace import Workspace  # noqa: E402


def validated_images() -> list[str]:
    from sqlalchemy import select

    with db.session() as s:
        return list(s.scalars(select(db.Image.id).where(db.Image.status == "validated")).all())


def naive(image: str, max_tasks: int, candidates_limit: int, seed: int) -> dict[str, object]:
    """The obvious pipeline: fresh container per candidate, full suite, fresh container to validate."""
    img, passed, durations = load_image(image)
    env = (img.recipe or {}).get("env") or {}
    timeout = get_settings().test_timeout_s
    start = time.monotonic()
    ws = Workspace(img.id, img.test_command, lambda _: None, env)
    try:  # the same candidates in the same order as Forager's run
        baseline = collect_baseline(ws, passed, durations)
        sources, functions = covered_functions(ws, baseline)
        cands = list(mutation_candidates(sources, functions, seed))[:candidates_limit]
    finally:
        ws.remove()
    rt = get_runtime()
    kept = tried = 0
    for cand in cands:
        if kept >= max_tasks:
            break
        tried += 1
        with rt.start(img.id, limits=Limits.from_settings()) as box:
            box.put_files({"/tmp/p.diff": cand.setup_patch.encode()})
            if not box.exec("git apply /tmp/p.diff", 60, workdir="/repo").ok:
                continue
            run = run_tests(box, img.test_command, timeout=timeout, env=env)
        failing = [t for t in passed if run.outcome(t) != "passed"]
        if not failing or run.exec.timed_out or run.collection_errors:
            continue
        with rt.start(img.id, limits=Limits.from_settings()) as box:
            check = run_tests(box, img.test_command, timeout=timeout, env=env)
        if all(check.outcome(t) == "passed" for t in passed):
            kept += 1
    dur = time.monotonic() - start
    return {"validated": kept, "candidates": tried, "duration_s": round(dur, 1),
            "s_per_task": round(dur / kept, 1) if kept else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--kinds", default="mutate-fix,implement-feature")
    ap.add_argument("--max", type=int, default=3)
    ap.add_argument("--max-candidates", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--naive", action="store_true", help="also run the naive pipeline (mutate-fix)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tasks.json"))
    args = ap.parse_args()
    images = validated_images() if args.images == ["all"] else args.images
    rows: list[dict[str, object]] = []
    for image in images:
        for kind in args.kinds.split(","):
            res = generate(image, kind, args.max, max_candidates=args.max_candidates, seed=args.seed)
            row: dict[str, object] = res.summary()
            if args.naive and kind == "mutate-fix" and res.tasks:
                row["naive"] = naive(image, len(res.tasks), res.candidates, args.seed)
            rows.append(row)
            print(json.dumps(row), flush=True)

    print(f"\n{'image':44} {'kind':18} {'valid':>5} {'cands':>5} {'kept':>5} {'s/task':>7} "
          f"{'naive s/task':>12} {'ratio':>6}")
    for r in rows:
        nv = r.get("naive") or {}
        ratio = (nv.get("s_per_task") / r["s_per_task"]  # type: ignore[operator]
                 if nv.get("s_per_task") and r["s_per_task"] else None)
        print(f"{str(r['image'])[:44]:44} {r['kind']!s:18} {r['validated']!s:>5} {r['candidates']!s:>5} "
              f"{r['kept_share']:>5.0%} {r['s_per_task'] or '-'!s:>7} {nv.get('s_per_task') or '-'!s:>12} "
              f"{f'{ratio:.1f}x' if ratio else '-':>6}"
              + (f"  error: {r['error']}" if r.get("error") else ""))
    for kind in args.kinds.split(","):
        ok = [r for r in rows if r["kind"] == kind and r["validated"]]
        if ok:
            print(f"{kind}: {len(ok)}/{len([r for r in rows if r['kind'] == kind])} images with tasks, "
                  f"{sum(r['validated'] for r in ok)} tasks, median "  # type: ignore[misc]
                  f"{statistics.median(r['s_per_task'] for r in ok):.1f}s per task, "  # type: ignore[type-var]
                  f"kept {sum(r['validated'] for r in ok) / sum(r['candidates'] for r in ok):.0%}")  # type: ignore[misc]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
