"""SWE-bench round trip on a farm's real tasks: export from one FORAGER_HOME, import into another
(holding the same images, no tasks), and compare task by task.

    .venv/bin/python benchmarks/swebench_roundtrip.py SOURCE_HOME FRESH_HOME [--tasks FILTER] [--source REPO=SPEC]

Both homes are used through the ``forager`` command line (each its own process and settings). Per
repository: tasks exported, imported, rejected (with the reasons), and whether each imported task
equals its original (image, kind, setup / gold / test patches, FAIL_TO_PASS, PASS_TO_PASS); then
the fresh home is exported again and its ``base_commit`` column compared, and both files are
loaded with ``datasets``. Writes ``benchmarks/results/swebench_roundtrip.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FORAGER = str(ROOT / ".venv" / "bin" / "forager")
FIELDS = ("image_id", "kind", "setup_patch", "gold_patch", "test_patch", "fail_to_pass", "pass_to_pass")


def forager(home: Path, *args: str) -> tuple[int, dict[str, Any], float]:
    start = time.monotonic()
    res = subprocess.run([FORAGER, *args, "--json"], capture_output=True, text=True,
                         env={**os.environ, "FORAGER_HOME": str(home)}, timeout=7200)
    lines = [x for x in res.stdout.splitlines() if x.startswith("{")]
    if not lines:
        sys.exit(f"forager {' '.join(args)} printed no summary: {res.stderr[-2000:]}")
    return res.returncode, json.loads(lines[-1]), time.monotonic() - start


def tasks(home: Path) -> dict[str, dict[str, Any]]:
    db = sqlite3.connect(f"file:{home / 'forager.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    out = {}
    for row in db.execute("select * from tasks"):
        task = dict(row)
        for key in ("fail_to_pass", "pass_to_pass", "meta"):
            task[key] = json.loads(task[key]) if task[key] else None
        out[task["id"]] = task
    return out


def rows(path: Path) -> dict[str, dict[str, Any]]:
    return {r["instance_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def load_with_datasets(path: Path) -> int:
    from datasets import load_dataset

    with tempfile.TemporaryDirectory() as cache:
        kind = "json" if path.suffix == ".jsonl" else "parquet"
        return int(load_dataset(kind, data_files=str(path), split="train", cache_dir=cache).num_rows)


def compare(original: dict[str, Any], imported: dict[str, Any]) -> list[str]:
    return [f for f in FIELDS if original[f] != imported[f]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source_home", type=Path)
    parser.add_argument("fresh_home", type=Path)
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--source", action="append", default=[], help="REPO=SPEC, passed to the import")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "swebench_roundtrip.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swebench-roundtrip-"))
    exported_file, parquet_file, again_file = work / "tasks.jsonl", work / "tasks.parquet", work / "again.jsonl"
    _, export, export_s = forager(args.source_home, "tasks", "export", str(exported_file), "--tasks", args.tasks)
    forager(args.source_home, "tasks", "export", str(parquet_file), "--tasks", args.tasks)
    sources = [x for pair in args.source for x in ("--source", pair)]
    _, imported, import_s = forager(args.fresh_home, "tasks", "import", str(exported_file), *sources)
    forager(args.fresh_home, "tasks", "export", str(again_file))
    before, after = tasks(args.source_home), tasks(args.fresh_home)
    out_rows, again_rows = rows(exported_file), rows(again_file)
    by_instance = {t["meta"].get("instance_id"): t for t in after.values() if t["meta"]}
    per_repo: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for outcome in imported["outcomes"]:
        row = out_rows[outcome["row"]]
        repo = per_repo[row["repo"]]
        repo["exported"] += 1
        repo[outcome["status"]] += 1
        if outcome["status"] != "imported":
            repo.setdefault("reasons", []).append(f"{outcome['row']}: {outcome['reason']}")
            continue
        original = before["task-" + row["instance_id"].rsplit("-task-", 1)[1]]
        new = by_instance[row["instance_id"]]
        differs = compare(original, new)
        repo["identical" if not differs else "different"] += 1
        if differs:
            repo.setdefault("differences", []).append(f"{row['instance_id']}: {differs}")
        again = next((r for r in again_rows.values() if r["instance_id"].endswith(new["id"])), None)
        repo["same_base_commit_on_re_export"] += int(again is not None and again["base_commit"] == row["base_commit"])
    result = {
        "source_home": str(args.source_home), "fresh_home": str(args.fresh_home),
        "exported": export["exported"], "skipped_at_export": export["skipped"],
        "export_s": round(export_s, 1), "import_s": round(import_s, 1),
        "import_s_per_row": round(import_s / max(1, len(out_rows)), 1),
        "imported": imported["imported"], "rejected": imported["rejected"], "duplicate": imported["duplicate"],
        "datasets_rows": {"jsonl": load_with_datasets(exported_file), "parquet": load_with_datasets(parquet_file)},
        "repositories": {k: dict(v) for k, v in sorted(per_repo.items())}, "files": str(work),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
