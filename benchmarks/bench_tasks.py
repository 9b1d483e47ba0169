"""Task generation, old against new, side by side in one run: validated tasks per hour per kind.

    .venv/bin/python benchmarks/bench_tasks.py IMAGE [IMAGE ...] [--kinds mutate-fix,implement-feature]
        [--max 10] [--side-timeout 180] [--extra-kinds combined,model-rewrite] [--extra-images N]
        [--base 6aab4ba] [--out benchmarks/results/tasks.json]

IMAGE is a validated image of the registry at $FORAGER_HOME. "old" is the task generator at commit
``--base`` (checked out with ``git worktree add --detach`` into a temporary directory and run in a
subprocess with PYTHONPATH pointing at it); "new" is this tree, also in a subprocess; both with the
same ``--max``. Each side gets its own copy of $FORAGER_HOME without its kept call maps (tasks one
side stores are not duplicates for the other; the first generation on an image traces it). Per
image the whole suite is also run once in a fresh container (start included), so a validated task's
cost can be compared with one whole-suite run. Old and new alternate per image and kind, so both
see the same machine load. A side that outlives ``--side-timeout`` is stopped (SIGTERM: its
workspace is removed) and counted by the tasks it had stored by then (``partial``). The extra kinds
(new only, on the first ``--extra-images`` images) are combined and model-rewrite, the latter
through the scripted model server of the tests (``tests/fake_model.py``), which answers every
prompt with the function's own header and a body that returns its first argument (or None).
Results are written after every row. On both sides every container is labelled with the
generating process as its owner: at the old commit a workspace container inherited its image's
(dead) builder as owner, and any other process's reaper of dead builders' containers removed it
mid-run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_model import FakeModel  # noqa: E402

from forager.build.testrun import run_tests  # noqa: E402
from forager.config import get_settings  # noqa: E402
from forager.owner import OWNER_LABEL, this_process  # noqa: E402
from forager.runtime import Limits, get_runtime  # noqa: E402
from forager.tasks.baseline import load_image  # noqa: E402

RUN = """
import json, signal, sys, time
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import docker as engine
from forager.tasks.generate import generate

start = engine.DockerRuntime.start


def owned(self, image, **kw):  # both sides' containers name this live process as their owner
    kw["labels"] = {**(kw.get("labels") or {}), OWNER_LABEL: this_process()}
    return start(self, image, **kw)


def stop(*_):  # the bench's timeout: leave through generate's cleanup (its workspace is removed)
    raise SystemExit(143)


engine.DockerRuntime.start = owned
signal.signal(signal.SIGTERM, stop)
t0 = time.monotonic()
r = generate(sys.argv[1], sys.argv[2], int(sys.argv[3]), seed=0,
             on_task=lambda t: print(f"TASK {time.monotonic() - t0:.1f}", flush=True))
print("BENCH " + json.dumps(r.summary()))
"""


class ScriptedRewriter(FakeModel):
    """The tests' scripted model server, answering a rewrite prompt with the function's header
    (decorators, def line, docstring) and a body that returns its first argument, or None."""

    def __init__(self) -> None:
        super().__init__([])

    def answer(self, step: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        prompt = str((body.get("messages") or [{}])[-1].get("content") or "")
        return super().answer({"content": f"```python\n{rewrite_answer(prompt)}\n```"}, body)


def rewrite_answer(prompt: str) -> str:
    match = re.search(r"```python\n(.*?)\n```", prompt, re.S)
    head = (match.group(1) if match else "").rstrip()
    head = head[:-3].rstrip() if head.endswith("...") else head
    try:
        fn = next(n for n in ast.walk(ast.parse(head + "\n    pass"))
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
        names = [a.arg for a in fn.args.posonlyargs + fn.args.args if a.arg not in ("self", "cls")]
    except (SyntaxError, StopIteration):
        names = []
    return head + f"\n    return {names[0] if names else 'None'}"


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


def side(code_root: Path, home: Path, image: str, kind: str, n: int, timeout: float,
         model_url: str | None = None) -> dict[str, Any]:
    """One generate run of the code at ``code_root`` in a subprocess; its summary (stopped at
    ``timeout``: the tasks it had stored by then)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORAGER_MODEL")}
    env.update({"PYTHONPATH": str(code_root), "FORAGER_HOME": str(home)})
    if model_url:
        env.update({"FORAGER_MODEL_URL": model_url, "FORAGER_MODEL_NAME": "scripted"})
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", RUN, image, kind, str(n)], env=env, cwd=code_root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        partial = True
        wall = time.monotonic() - start
        proc.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    if not partial:
        wall = time.monotonic() - start
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None and not partial:
        return {"error": (stderr or stdout)[-800:], "wall_s": round(wall, 1)}
    times = [float(ln.split()[1]) for ln in stdout.splitlines() if ln.startswith("TASK ")]
    out: dict[str, Any] = json.loads(line[6:]) if line else {"validated": len(times), "partial": True,
                                                            "stopped_after_s": round(timeout)}
    out["wall_s"] = round(wall, 1)
    out["tasks_per_hour"] = round(3600 * out["validated"] / wall, 1) if wall else 0.0
    out["task_times_s"] = times
    return out


def stamp_old_head(old_root: Path, home: Path) -> None:
    """Mark the old side's registry copy as being at the old tree's newest migration: later
    migrations only add tables, which the old code never reads, and it refuses a newer revision."""
    revs, downs = set(), set()
    for f in (old_root / "registry/versions").glob("*.py"):
        text = f.read_text()
        revs.update(re.findall(r"^revision = ['\"]([^'\"]+)", text, re.M))
        downs.update(re.findall(r"^down_revision = ['\"]([^'\"]+)", text, re.M))
    head = sorted(revs - downs)
    db = home / "forager.db"
    if len(head) == 1 and db.is_file():
        with sqlite3.connect(db) as con:
            con.execute("UPDATE alembic_version SET version_num = ?", (head[0],))


def base_tree(commit: str, tmp: Path) -> Path:
    path = tmp / "bench-base"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def row_line(r: dict[str, Any]) -> str:
    old, new = r.get("old") or {}, r["new"]
    ratio = r.get("ratio")
    old_th = f"{old['tasks_per_hour']}{'*' if old.get('partial') else ''}" if old else "-"
    return (f"{r['image'][:34]:34} {r['kind']:18} {old.get('validated', '-')!s:>4} {old_th:>8} "
            f"{new.get('validated', '-')!s:>4} {new.get('tasks_per_hour', '-')!s:>8} "
            f"{f'{ratio:.1f}x' if ratio else '-':>7} {r['suite']['suite_fresh_s']!s:>7} "
            f"{r.get('new_task_over_suite') or '-'!s:>6} {new.get('kept_share', '-')!s:>5}")


NOTE = ("old = forager tasks generate at commit {base}, new = this tree, both with --max {max} (like "
        "for like); a side still running after {timeout} s was stopped and is counted by the tasks it had "
        "stored by then (partial, marked *); tasks per hour = validated tasks / wall time of the whole "
        "generate call (container start, traced baseline included); the call map is kept per image, so "
        "the first new kind on an image traces it and later kinds reuse it (callmap_cached); "
        "new_task_over_suite = new wall seconds per validated task / one whole-suite run in a fresh "
        "container (start included); same machine, same run, old and new alternating; the new side "
        "judges in FORAGER_TASK_WORKERS containers side by side (default one per core, at most 4); combined and "
        "model-rewrite rows are new only (model-rewrite through the tests' scripted model server)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--kinds", default="mutate-fix,implement-feature")
    ap.add_argument("--max", type=int, default=10)
    ap.add_argument("--side-timeout", type=float, default=180.0)
    ap.add_argument("--new-timeout", type=float, default=900.0)
    ap.add_argument("--extra-kinds", default="combined,model-rewrite")
    ap.add_argument("--extra-images", type=int, default=2)
    ap.add_argument("--base", default="6aab4ba")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tasks.json"))
    ap.add_argument("--new-only", action="store_true", help="this tree only (a quick look; no ratio)")
    args = ap.parse_args()
    home = Path(get_settings().home)
    rows: list[dict[str, Any]] = []
    note = NOTE.format(base=args.base, max=args.max, timeout=round(args.side_timeout))

    def save() -> None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"note": note, "base": args.base, "max": args.max,
                                              "side_timeout_s": args.side_timeout, "rows": rows}, indent=1))

    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as tmpdir, ScriptedRewriter() as model:
        tmp = Path(tmpdir)
        old_root = base_tree(args.base, tmp)
        old_home, new_home = tmp / "home-old", tmp / "home-new"
        for h in (old_home, new_home):
            shutil.copytree(home, h, symlinks=True, ignore=shutil.ignore_patterns("sources", "callmaps"))
        stamp_old_head(old_root, old_home)
        try:
            for i, image in enumerate(args.images):
                suite = suite_in_fresh_container(image)
                extras = [k for k in args.extra_kinds.split(",") if k] if i < args.extra_images else []
                for kind in [*args.kinds.split(","), *extras]:
                    old = None if kind in extras or args.new_only else side(old_root, old_home, image, kind, args.max,
                                                           args.side_timeout)
                    new = side(ROOT, new_home, image, kind, args.max, args.new_timeout,
                               model.url if kind == "model-rewrite" else None)
                    row: dict[str, Any] = {"image": image, "kind": kind, "suite": suite, "old": old, "new": new}
                    if old and old.get("tasks_per_hour") and new.get("tasks_per_hour"):
                        row["ratio"] = round(new["tasks_per_hour"] / old["tasks_per_hour"], 2)
                    if new.get("validated"):
                        row["new_task_over_suite"] = round(new["wall_s"] / new["validated"] / suite["suite_fresh_s"], 2)
                    rows.append(row)
                    save()
                    print(json.dumps(row), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_root)], cwd=ROOT, capture_output=True)
    print(f"\n{'image':34} {'kind':18} {'old':>4} {'old t/h':>8} {'new':>4} {'new t/h':>8} {'ratio':>7} "
          f"{'suite s':>7} {'t/suite':>6} {'yield':>5}")
    for r in rows:
        print(row_line(r))
    save()


if __name__ == "__main__":
    main()
