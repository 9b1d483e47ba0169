"""The issue-14 survey table: the fetched repositories of an evidence campaign (at HEAD and at a
past release tag), each version's campaign result read from the campaign's registry (read only),
its cause when it failed, and the result of the same version re-built with the fixed builder.

    .venv/bin/python benchmarks/survey_table.py --registry /work/evidence/home/forager.db \\
        --rebuilds /work/homes/builder14/rebuilds.jsonl --causes causes.json \\
        --out benchmarks/results/builder_survey2.json

``--rebuilds``: one JSON object a line, ``{"label", "result": forager build --json}``;
``--causes``: {"SOURCE@REF": "cause"} written by the person who read each failure's log.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
from pathlib import Path


def campaign_rows(registry: str) -> list[dict]:
    con = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    rows = []
    for source, params, state, cause, error, result in con.execute(
            "select source, params, state, cause, error, result from campaign_items where stage='build' "
            "and source like '/work/.mirror/%' order by created_at"):
        p, r = json.loads(params or "{}"), json.loads(result or "{}")
        rows.append({"source": source, "repository": source.split("/")[3].replace("+", "/"),
                     "version": source.rpartition("@")[2], "commit": p.get("commit", ""),
                     "group": "head" if source.endswith("@HEAD") else "past",
                     "campaign": r.get("status") or state, "campaign_error": (error or r.get("error") or "")[:300],
                     "campaign_cause": cause, "python": r.get("python"),
                     "suite_share_pct": (r.get("tests") or {}).get("suite_share_pct")})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", required=True)
    ap.add_argument("--rebuilds", required=True)
    ap.add_argument("--causes", required=True)
    ap.add_argument("--known", help="earlier failures re-built: [{label, source, before, cause}]")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows = campaign_rows(args.registry)
    causes = json.loads(Path(args.causes).read_text())
    rebuilt: dict[str, dict] = {}
    for line in Path(args.rebuilds).read_text().splitlines():
        rec = json.loads(line)
        res = rec.get("result") or {}
        rebuilt[rec["label"]] = res
        if res.get("commit"):
            rebuilt[res["commit"]] = res
    for row in rows:
        row["cause"] = causes.get(row["source"], "")
        after = rebuilt.get(row["commit"])
        if after:
            t = after.get("tests") or {}
            row["after_fix"] = {"status": after.get("status"), "python": after.get("python"),
                                "passed": t.get("passed"), "failed": t.get("failed"),
                                "suite_share_pct": t.get("suite_share_pct"), "error": (after.get("error") or "")[:300],
                                "build_id": after.get("build_id")}
    summary = {}
    for group in ("head", "past"):
        done = [r for r in rows if r["group"] == group and r["campaign"] in ("validated", "failed")]
        ok = [r for r in done if r["campaign"] == "validated"]
        fixed = [r for r in done if r["campaign"] == "validated"
                 or (r.get("after_fix") or {}).get("status") == "validated"]
        shares = [r["suite_share_pct"] for r in ok if r["suite_share_pct"] is not None]
        summary[group] = {"versions": sum(r["group"] == group for r in rows), "finished": len(done),
                          "validated": len(ok), "validated_share": round(len(ok) / len(done), 3) if done else None,
                          "validated_after_fixes": len(fixed),
                          "validated_share_after_fixes": round(len(fixed) / len(done), 3) if done else None,
                          "median_suite_share_pct": statistics.median(shares) if shares else None}
    extra = [{"label": k, **{f: v.get(f) for f in ("source", "commit", "status", "python", "error")}}
             for k, v in rebuilt.items() if not any(r["commit"] == k for r in rows) and len(k) < 40]
    known = json.loads(Path(args.known).read_text()) if args.known else []
    for k in known:
        after = rebuilt.get(k["label"]) or {}
        t = after.get("tests") or {}
        k["after_fix"] = {"status": after.get("status"), "python": after.get("python"), "passed": t.get("passed"),
                          "failed": t.get("failed"), "suite_share_pct": t.get("suite_share_pct"),
                          "error": (after.get("error") or "")[:300]} if after else None
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows, "earlier_failures": known,
                                          "other_rebuilds": extra}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
