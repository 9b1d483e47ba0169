"""A build's outcome as a person reads it: a few labelled lines (status and image, test counts,
the share of the suite run, duration, where the log is) instead of a raw dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from forager.config import get_settings


def log_path(build_id: str) -> Path:
    """The plain-text log of a build (also in the registry: ``GET /builds/{id}/logs``)."""
    return get_settings().home / "logs" / f"{build_id}.log"


def summary_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows of ``BuildResult.summary()``."""
    t = s.get("tests") or {}
    ok = s["status"] == "validated"
    rows = [("status", f"[{'green' if ok else 'red'}]{escape(str(s['status']))}[/] {escape(s['image'] or '')}"
             + (f"  python {s['python']}" if s.get("python") else ""))]
    if t:
        rows.append(("tests", f"{t.get('passed', 0)} passed, {t.get('failed', 0)} failed, {t.get('error', 0)} "
                              f"errors, {t.get('skipped', 0)} skipped, {t.get('flaky', 0)} flaky"))
    if "suite_share_pct" in t:
        rows.append(("suite", f"{t['suite_share_pct']}% of the test functions ran "
                              f"({t['functions_run']} of {t['test_functions']} found)"))
    hanging = (s.get("install") or {}).get("hanging") or []
    if hanging:
        rows.append(("left out", f"{len(hanging)} hanging test(s), named in the recipe"))
    rows.append(("time", f"{s['duration_s']:.0f}s"))
    if s.get("error"):
        rows.append(("error", f"[red]{escape(str(s['error'])[:500])}[/]"))
    rows.append(("log", escape(str(log_path(s["build_id"])))))
    return rows


def summary_table(s: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, text in summary_rows(s):
        table.add_row(label, text)
    return table
