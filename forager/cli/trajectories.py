"""``forager trajectories list|show`` and ``forager export``: stored trajectories, read and exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from forager.cli.app import emit_json, fail
from forager.redact import redact_url

if TYPE_CHECKING:
    from forager.trajectory.fileformat import LoadResult

app = typer.Typer(no_args_is_help=True, help="Stored agent trajectories.")


def _rows(task: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` trajectories in the registry (of ``task`` only, if given)."""
    from forager.store.trajectories import Filters, list_trajectories

    rows, _ = list_trajectories(Filters(task_id=task or None), limit, None)
    return [{"id": r.id, "task_id": r.task_id, "agent": r.agent, "model": r.model,
            "resolved": r.resolved, "complete": r.complete, "steps": r.steps,
            "exit_reason": r.exit_reason, "duration_s": r.duration_s,
            "repository": redact_url(r.repository) if r.repository else r.repository,
            "created_at": r.created_at} for r in rows]


@app.command("list")
def trajectories_list(
    task: Annotated[str | None, typer.Option(help="only this task")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored trajectories, newest first."""
    rows = _rows(task, limit)
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "task", "agent", "model", "resolved", "steps", "exit", "s")
    for r in rows:
        resolved = "-" if r["resolved"] is None else ("yes" if r["resolved"] else "no")
        if not r["complete"]:
            resolved += " (incomplete)"
        table.add_row(r["id"], r["task_id"] or "", r["agent"] or "", r["model"] or "", resolved,
                      str(r["steps"]), r["exit_reason"] or "", f"{r['duration_s'] or 0:.0f}")
    Console().print(table)


@app.command("show")
def trajectories_show(
    trajectory: Annotated[str, typer.Argument(help="a trajectory id or file")],
    as_json: Annotated[bool, typer.Option("--json", help="the whole trajectory as JSON")] = False,
) -> None:
    """Show a trajectory's summary and turns (exit 1 when it is damaged or incomplete)."""
    from forager.trajectory.store import load

    try:
        loaded = load(trajectory)
    except LookupError as exc:
        fail(exc, 2)
    t = loaded.trajectory
    if as_json:
        emit_json({**t.model_dump(mode="json"), "load_error": loaded.error})
    else:
        _print_trajectory(loaded)
    raise typer.Exit(1 if loaded.error or not t.complete else 0)


def _print_trajectory(loaded: LoadResult) -> None:
    t = loaded.trajectory
    out = Console(highlight=False)
    out.print(f"{t.id}  task {t.task_id}  image {t.image}  agent {t.agent}  model {t.model.name}")
    out.print(f"exit {t.exit_reason}  resolved {t.resolved}  complete {t.complete}  "
              f"{len(t.turns)} turns  {t.duration_s:.1f}s", markup=False)
    for turn in t.turns:
        action = f"{turn.action.tool} {json.dumps(turn.action.args)[:200]}" if turn.action else "(none)"
        out.print(f"\n[{turn.index}] {action}", markup=False)
        out.print(f"    exit {turn.exit_code}  {turn.duration_s:.2f}s  "
                  f"{turn.observation[:300].rstrip()}", markup=False)
    if t.reward:
        out.print(f"\nreward: {t.reward.model_dump()}", markup=False)
    if loaded.error:
        out.print(f"[red]damaged or incomplete:[/] {loaded.error}")


def export_cmd(
    out: Annotated[str, typer.Argument(help="output file")],
    fmt: Annotated[str, typer.Option("--format", help="chat-jsonl or parquet")] = "chat-jsonl",
    resolved_only: Annotated[bool, typer.Option("--resolved-only")] = False,
    kind: Annotated[str | None, typer.Option(help="only this task kind")] = None,
    repository: Annotated[str | None, typer.Option(help="only repositories containing this")] = None,
    include_incomplete: Annotated[bool, typer.Option("--include-incomplete")] = False,
    threshold: Annotated[float, typer.Option(help="near-duplicate Jaccard threshold")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Export trajectories as training records (near-duplicates removed per repository)."""
    from forager.cli.app import console
    from forager.trajectory.export import export

    try:
        stats = export(Path(out), fmt, resolved_only=resolved_only, kind=kind, repository=repository,
                       include_incomplete=include_incomplete, threshold=threshold)
    except ValueError as exc:
        fail(exc, 2)
    if as_json:
        emit_json({**stats.summary(), "out": out})
    else:
        console.print(f"wrote {stats.written} records to {out} ({stats.summary()})")
