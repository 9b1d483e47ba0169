"""The issue-14 past-commits table: the commits of ``benchmarks/past-commits.txt`` (1.5-3 years old,
picked by ``pick_past_commits.py``) as built by one or more campaigns, read from the campaigns'
registry (read only): each commit's date, age, how it was picked, campaign result, Python, the path
its dependencies took (as of the commit's date, or a lock file), the share of the repository's test
functions that validation ran, the repairs the builder made, the cause of each failure (read from
the build log by a person) and the result of the same commit re-built after the builder was fixed.

    .venv/bin/python benchmarks/past_commits_table.py --registry $FORAGER_HOME/forager.db \\
        --campaigns past,past2 --list benchmarks/past-commits.txt --rebuilds rebuilds.jsonl \\
        --causes causes.json --out benchmarks/results/builder_past_commits.json

``--rebuilds``: one ``forager build --json`` result a line; ``--causes``: {"SOURCE@COMMIT": "cause"}.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 26)
"""The day the commits were picked and built (their ages are counted to it)."""
SLIVER_PCT = 50
"""A validated image that runs less than this share of the repository's test functions is a sliver
validated as the whole: counted apart, and re-built when the builder was fixed."""


def picked(listing: str) -> dict[str, dict]:
    """SOURCE@COMMIT -> {set, date, how} from the list's comment lines (``# DATE HOW``)."""
    out: dict[str, dict] = {}
    which, note = 1, ("", "")
    for line in Path(listing).read_text().splitlines():
        if line.startswith("# Set "):
            which = int(line.split()[2].rstrip(":"))
        elif line.startswith("# 20"):
            day, _, how = line[2:].partition(" ")
            note = (day, how)
        elif line.startswith("/"):
            out[line] = {"set": which, "date": note[0], "how": note[1]}
    return out


def campaign_rows(registry: str, campaigns: list[str], listing: dict[str, dict]) -> list[dict]:
    con = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    rows = []
    for name in campaigns:
        for source, state, error, result, build_install in con.execute(
                "select i.source, i.state, i.error, i.result, b.install from campaign_items i "
                "join campaigns c on c.id = i.campaign_id left join builds b on b.id = json_extract(i.result, "
                "'$.build_id') where c.name = ? and i.stage = 'build' order by i.created_at", (name,)):
            r, install = json.loads(result or "{}"), json.loads(build_install or "{}")
            t, meta = r.get("tests") or {}, listing.get(source, {})
            when = date.fromisoformat(meta["date"]) if meta.get("date") else None
            rows.append({
                "source": source, "repository": source.split("/")[3].replace("+", "/"),
                "commit": source.rpartition("@")[2], "set": meta.get("set"), "picked_as": meta.get("how"),
                "commit_date": meta.get("date"), "age_years": round((TODAY - when).days / 365.25, 2) if when else None,
                "campaign": name, "status": r.get("status") or state, "python": r.get("python"),
                "resolution": install.get("resolution"), "passed": t.get("passed"), "failed": t.get("failed"),
                "error_tests": t.get("error"), "test_functions": t.get("test_functions"),
                "functions_run": t.get("functions_run"), "suite_share_pct": t.get("suite_share_pct"),
                "repairs": [f"{x.get('fix')} {x.get('value', '')}".strip() for x in install.get("repairs") or []],
                "error": (error or r.get("error") or "")[:400], "build_id": r.get("build_id"),
                "duration_s": r.get("duration_s")})
    return rows


def full(r: dict) -> bool:
    """Validated on at least SLIVER_PCT of the repository's test functions."""
    return r.get("status") == "validated" and (r.get("suite_share_pct") or 0) >= SLIVER_PCT


def summarise(rows: list[dict]) -> dict:
    done = [r for r in rows if r["status"] in ("validated", "failed")]
    ok = [r for r in done if r["status"] == "validated"]
    whole = [r for r in ok if full(r)]
    fixed = [r for r in done if full(r) or full(r.get("after_fix") or {})]
    shares = [(r.get("after_fix") or r)["suite_share_pct"] for r in fixed
              if (r.get("after_fix") or r).get("suite_share_pct") is not None]
    ages = [r["age_years"] for r in rows if r["age_years"] is not None]
    times = [r["duration_s"] for r in done if r.get("duration_s")]
    return {"versions": len(rows), "finished": len(done), "validated": len(ok),
            "validated_share": round(len(ok) / len(done), 3) if done else None,
            f"validated_on_{SLIVER_PCT}pct_of_suite": len(whole),
            "validated_after_fixes": len(fixed),
            "validated_share_after_fixes": round(len(fixed) / len(done), 3) if done else None,
            "median_suite_share_pct": statistics.median(shares) if shares else None,
            "min_suite_share_pct": min(shares) if shares else None,
            "median_build_s": round(statistics.median(times), 1) if times else None,
            "age_years": {"min": min(ages), "median": round(statistics.median(ages), 2), "max": max(ages)}
            if ages else None,
            "pythons": {p: sum(r["python"] == p for r in done) for p in sorted({str(r["python"]) for r in done})},
            "resolution": {p: sum(((r["resolution"] or {}).get("path")) == p for r in done)
                           for p in ("as_of", "lock", "latest")}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", required=True)
    ap.add_argument("--campaigns", required=True, help="comma-separated campaign names")
    ap.add_argument("--list", required=True)
    ap.add_argument("--rebuilds")
    ap.add_argument("--causes")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows = campaign_rows(args.registry, args.campaigns.split(","), picked(args.list))
    causes = json.loads(Path(args.causes).read_text()) if args.causes else {}
    rebuilt: dict[str, dict] = {}
    for line in Path(args.rebuilds).read_text().splitlines() if args.rebuilds else []:
        res = json.loads(line)
        if res.get("commit"):
            rebuilt[res["commit"]] = res
    for row in rows:
        row["cause"] = causes.get(row["source"], "")
        if not full(row) and (after := rebuilt.get(row["commit"])):
            t = after.get("tests") or {}
            row["after_fix"] = {"status": after.get("status"), "python": after.get("python"),
                                "passed": t.get("passed"), "failed": t.get("failed"),
                                "test_functions": t.get("test_functions"), "functions_run": t.get("functions_run"),
                                "suite_share_pct": t.get("suite_share_pct"), "error": (after.get("error") or "")[:400],
                                "repairs": [f"{x.get('fix')} {x.get('value', '')}".strip()
                                            for x in (after.get("install") or {}).get("repairs") or []],
                                "build_id": after.get("build_id")}
    summary = {"all": summarise(rows)}
    for which in sorted({r["set"] for r in rows if r["set"]}):
        summary[f"set{which}"] = summarise([r for r in rows if r["set"] == which])
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
