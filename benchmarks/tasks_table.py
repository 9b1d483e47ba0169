"""The README's table of a ``bench_tasks.py`` run: one markdown row per image and kind.

    .venv/bin/python benchmarks/tasks_table.py [benchmarks/results/tasks.json] [--key max30]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("| image (tests) | kind | old: tasks in s (t/h) | new: tasks in s (t/h) | new/old | old s/task after "
          "its first | new s to its first task | new s/task ÷ fresh whole-suite run | new kept | call map | "
          "≥10x | < 1 suite run |\n" + "|---" * 12 + "|")


def _side(side: dict[str, Any] | None) -> str:
    if not side:
        return "-"
    if side.get("error") and not side.get("validated"):
        return f"error after {side.get('wall_s', '?')} s"
    star = "*" if side.get("partial") else ""
    return f"{side.get('validated', 0)} in {side.get('wall_s')} ({side.get('tasks_per_hour')}{star})"


def _after_first(side: dict[str, Any] | None) -> str:
    times = (side or {}).get("task_times_s") or []
    if len(times) < 2:
        return "-"
    return f"{(times[-1] - times[0]) / (len(times) - 1):.1f}"


def row(r: dict[str, Any]) -> str:
    old, new, suite = r.get("old"), r["new"], r["suite"]
    name = r["image"].split("/", 1)[-1].split(":", 1)[0]
    ratio = r.get("ratio")
    if ratio is None and old and not old.get("validated") and new.get("validated"):
        ratio_s = "unbounded (old: none)"
    else:
        ratio_s = f"{ratio:.2f}x" if ratio else "-"
    first = (new.get("task_times_s") or [None])[0]
    over = r.get("new_task_over_suite")
    cached = new.get("callmap_cached")
    injected = r["kind"] in ("mutate-fix", "implement-feature")
    ten = ("yes" if (ratio and ratio >= 10) or ratio_s.startswith("unbounded") else "no") if injected and old else "-"
    below = ("yes" if over is not None and over < 1 else "no") if injected and old else "-"
    return (f"| {name} ({suite.get('passed')}) | {r['kind']} | {_side(old)} | {_side(new)} | {ratio_s} | "
            f"{_after_first(old)} | {first if first is not None else '-'} | "
            f"{over if over is not None else '-'} (suite {suite.get('suite_fresh_s')} s) | "
            f"{new.get('kept_share', '-')} | {'-' if cached is None else ('kept' if cached else 'traced')} | "
            f"{ten} | {below} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", default=str(ROOT / "benchmarks" / "results" / "tasks.json"))
    ap.add_argument("--key", default=None, help="a run kept under this key of the file (e.g. max30)")
    args = ap.parse_args()
    data = json.loads(Path(args.results).read_text())
    if args.key:
        data = data[args.key]
    print(HEADER)
    for r in data["rows"]:
        print(row(r))


if __name__ == "__main__":
    main()
