"""Task generation, old against new, side by side in one run: validated tasks per hour per kind.

    .venv/bin/python benchmarks/bench_tasks.py IMAGE [IMAGE ...] [--kinds mutate-fix,implement-feature]
        [--max-old 2] [--max-new 20] [--base 6aab4ba] [--out benchmarks/results/tasks.json]

IMAGE is a validated image of the registry at $FORAGER_HOME. "old" is the task generator at commit
``--base`` (checked out with ``git worktree add --detach`` into a temporary directory and run in a
subprocess with PYTHONPATH pointing at it); "new" is this tree, also in a subprocess. Each side
gets its own copy of $FORAGER_HOME (tasks one side stores are not duplicates for the other). Per
image the whole suite is also run once in a fresh container (start included), so a validated task's
cost can be compared with one whole-suite run. Old and new alternate per image and kind, so both
see the same machine load. On both sides every container is labelled with the generating process
as its owner: at the old commit a workspace container inherited its image's (dead) builder as
owner, and any other process's reaper of dead builders' containers removed it mid-run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forager.build.testrun import run_tests  # noqa: E402
from forager.config import get_settings  # noqa: E402
from forager.owner import OWNER_LABEL, this_process  # noqa: E402
from forager.runtime import Limits, get_runtime  # noqa: E402
from forager.tasks.baseline import load_image  # noqa: E402

RUN = """
import json, sys, time
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import docker as engine
from forager.tasks.generate import generate

start = engine.DockerRuntime.start


def owned(self, image, **kw):  # both sides' containers name this live process as their owner
    kw["labels"] = {**(kw.get("labels") or {}), OWNER_LABEL: this_process()}
    return start(self, image, **kw)


engine.DockerRuntime.start = owned
r = generate(sys.argv[1], sys.argv[2], int(sys.argv[3]), seed=0)
print("BENCH " + json.dumps(r.summary()))
"""


def suite_in_fresh_container(image: str) -> dict[str, Any]:
    """Seconds for one whole-suite run in a fresh container, the start of the container included."""
    img, passed, _ = load_image(image)
    env = {str(k): str(v) for k, v in ((img.recipe or {}).get("env") or {}).items()}
    start = time.monotonic()
    with get_runtime().start(img.id, limits=Limits.from_settings(network=False),
                             labels={"forager.role": "bench", OWNER_LABEL: this_process()}) as box:
        run = run_tests(box, img.test_command, timeout=float(get_settings().test_timeout_s), env=env or None)
    return {"suite_fresh_s": round(time.monotonic() - start, 2), "tests": len(passed),
            "passed": len(run.passed)}


def side(code_root: Path, home: Path, image: str, kind: str, n: int) -> dict[str, Any]:
    """One generate run of the code at ``code_root`` in a subprocess; its summary."""
    env = {**os.environ, "PYTHONPATH": str(code_root), "FORAGER_HOME": str(home)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", RUN, image, kind, str(n)], env=env, cwd=code_root,
                          capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - start
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        return {"error": (proc.stderr or proc.stdout)[-800:], "wall_s": round(wall, 1)}
    out: dict[str, Any] = json.loads(line[6:])
    out["wall_s"] = round(wall, 1)
    out["tasks_per_hour"] = round(3600 * out["validated"] / wall, 1) if wall else 0.0
    return out


def base_tree(commit: str, tmp: Path) -> Path:
    path = tmp / "bench-base"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def row_line(r: dict[str, Any]) -> str:
    old, new = r["old"], r["new"]
    ratio, same = r.get("ratio"), r.get("ratio_same_max")
    return (f"{r['image'][:40]:40} {r['kind']:18} {old.get('validated', '-')!s:>4} "
            f"{old.get('tasks_per_hour', '-')!s:>8} {r['new_same_max'].get('tasks_per_hour', '-')!s:>8} "
            f"{f'{same:.1f}x' if same else '-':>7} {new.get('validated', '-')!s:>4} "
            f"{new.get('tasks_per_hour', '-')!s:>8} {f'{ratio:.1f}x' if ratio else '-':>7} "
            f"{r['suite']['suite_fresh_s']!s:>7} {r.get('new_task_over_suite') or '-'!s:>6} "
            f"{new.get('kept_share', '-')!s:>5}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--kinds", default="mutate-fix,implement-feature")
    ap.add_argument("--max-old", type=int, default=2)
    ap.add_argument("--max-new", type=int, default=20)
    ap.add_argument("--base", default="6aab4ba")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tasks.json"))
    args = ap.parse_args()
    home = Path(get_settings().home)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as tmpdir:
        tmp = Path(tmpdir)
        old_root = base_tree(args.base, tmp)
        old_home, new_home = tmp / "home-old", tmp / "home-new"
        for h in (old_home, new_home):
            shutil.copytree(home, h, symlinks=True, ignore=shutil.ignore_patterns("sources"))
        try:
            for image in args.images:
                suite = suite_in_fresh_container(image)
                for kind in args.kinds.split(","):
                    old = side(old_root, old_home, image, kind, args.max_old)
                    same = side(ROOT, new_home, image, kind, args.max_old)
                    new = side(ROOT, new_home, image, kind, args.max_new)
                    row: dict[str, Any] = {"image": image, "kind": kind, "suite": suite, "old": old,
                                           "new_same_max": same, "new": new}
                    if old.get("tasks_per_hour") and new.get("tasks_per_hour"):
                        row["ratio"] = round(new["tasks_per_hour"] / old["tasks_per_hour"], 2)
                    if old.get("tasks_per_hour") and same.get("tasks_per_hour"):
                        row["ratio_same_max"] = round(same["tasks_per_hour"] / old["tasks_per_hour"], 2)
                    if new.get("validated"):
                        row["new_task_over_suite"] = round(new["wall_s"] / new["validated"] / suite["suite_fresh_s"], 2)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_root)], cwd=ROOT, capture_output=True)
    print(f"\n{'image':40} {'kind':18} {'old':>4} {'old t/h':>8} {'same t/h':>8} {'ratio':>7} "
          f"{'new':>4} {'new t/h':>8} {'ratio':>7} "
          f"{'suite s':>7} {'t/suite':>6} {'yield':>5}")
    for r in rows:
        print(row_line(r))
    note = ("old = forager tasks generate at commit " + args.base + " with --max-old, new_same_max = this "
            "tree with the same --max (ratio_same_max: the like-for-like ratio), new = this tree with "
            "--max-new (ratio: what a run at scale gives); tasks per hour = "
            "validated tasks / wall time of the whole generate call (container start, baseline and "
            "trace included); t/suite = new wall seconds per validated task / one whole-suite run in a "
            "fresh container (start included); same machine, same run, old and new alternating")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"note": note, "base": args.base, "max_old": args.max_old,
                                          "max_new": args.max_new, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
