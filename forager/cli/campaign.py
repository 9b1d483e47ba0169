"""``forager campaign``: create a campaign from a sources file, run it (live progress per stage),
see its funnel and its failure report, cancel it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from forager.cli.app import console, emit_json, fail
from forager.errors import InvalidInput, NotFound

app = typer.Typer(no_args_is_help=True, help="Farm campaigns: sources to images, tasks and trajectories.")
STATES = ("pending", "running", "done", "failed", "cancelled")


@app.command("create")
def create_cmd(
    name: str,
    sources: Annotated[Path, typer.Option(help="file with one source a line: git URL, path, pypi:NAME[==V]")],
    versions_per_source: Annotated[int, typer.Option(help="versions of each source to build")] = 1,
    tasks: Annotated[str, typer.Option(help="tasks per validated image: KIND=N,...")] = "mutate-fix=5",
    episodes_per_task: Annotated[int, typer.Option(help="episodes per task")] = 1,
    agent: Annotated[str, typer.Option(help="oracle or llm")] = "oracle",
    model: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (agent llm)")] = None,
    model_name: Annotated[str | None, typer.Option(help="model name sent to the endpoint")] = None,
    max_steps: Annotated[int | None, typer.Option(help="step budget of each episode")] = None,
    traces_per_image: Annotated[int, typer.Option(help="functions traced per validated image (0: no traces)")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a campaign: every source expanded into its versions, one build item per version."""
    from forager.campaign.funnel import funnel
    from forager.campaign.plan import create
    from forager.campaign.spec import parse_quotas, read_sources

    try:
        camp = create(name, {"sources": read_sources(sources), "versions_per_source": versions_per_source,
                             "tasks": parse_quotas(tasks), "episodes_per_task": episodes_per_task,
                             "agent": agent, "model_url": model, "model_name": model_name,
                             "max_steps": max_steps, "traces_per_image": traces_per_image})
    except InvalidInput as exc:
        fail(exc, 2)
    out = funnel(camp.id)
    if as_json:
        emit_json(out)
    else:
        console.print(f"[green]created[/] campaign {camp.name} ({camp.id}): {out['versions']} source versions")


def _table(f: dict[str, Any]) -> Group:
    t = Table("stage", *STATES, title=f"campaign {f['campaign']} ({f['state']})")
    for stage, counts in f["stages"].items():
        t.add_row(stage, *(str(counts.get(s, 0)) for s in STATES))
    line = (f"versions {f['versions']} → images {f['images_validated']} (failed {f['builds_failed']}, "
            f"infrastructure {f['builds_failed_infrastructure']}) → tasks {f['tasks']} → episodes "
            f"{f['episodes']} (resolved {f['episodes_resolved']})")
    return Group(t, line)


@app.command("run")
def run_cmd(
    name: str,
    concurrency: Annotated[int, typer.Option(help="items at once in each stage")] = 1,
    stage_concurrency: Annotated[str, typer.Option(help="per stage: build=N,tasks=N,episode=N")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print the final funnel as JSON")] = False,
) -> None:
    """Run (or resume) a campaign until every item is done, failed or cancelled. With
    FORAGER_EXECUTOR=celery the work is enqueued on workers; otherwise it runs in this process."""
    from forager.campaign.runner import limits_of, run, size_embedded
    from forager.campaign.spec import parse_quotas

    try:
        limits = limits_of(concurrency, parse_quotas(stage_concurrency))
        size_embedded(limits)
        with Live(console=console, refresh_per_second=2, transient=as_json) as live:
            out = run(name, limits, on_tick=lambda f: live.update(_table(f)), stop=threading.Event())
    except (InvalidInput, NotFound) as exc:
        fail(exc, 2)
    if as_json:
        emit_json(out)
    if out["state"] == "cancelled":
        raise typer.Exit(1)


@app.command("status")
def status_cmd(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The funnel: versions → images validated → tasks → episodes, and item states per stage."""
    from forager.campaign.funnel import funnel

    try:
        out = funnel(name)
    except NotFound as exc:
        fail(exc, 1)
    if as_json:
        emit_json(out)
    else:
        Console().print(_table(out))


@app.command("report")
def report_cmd(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Failures by cause, with counts and example sources, per stage."""
    from forager.campaign.funnel import report

    try:
        out = report(name)
    except NotFound as exc:
        fail(exc, 1)
    if as_json:
        emit_json(out)
        return
    out_console = Console()
    out_console.print(_table(out))
    for stage, causes in out["failures"].items():
        if not causes:
            continue
        t = Table("cause", "count", "examples", title=f"{stage} failures")
        for c in causes:
            ex = "; ".join(f"{e['source']} {e['version']}".strip() + (f" ({e['detail']})" if e["detail"] else "")
                           for e in c["examples"])
            t.add_row(c["cause"], str(c["count"]), ex)
        out_console.print(t)


@app.command("cancel")
def cancel_cmd(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stop new work; end running work cleanly (containers removed)."""
    from forager.campaign.cancel import cancel

    try:
        out = cancel(name)
    except NotFound as exc:
        fail(exc, 1)
    if as_json:
        emit_json(out)
    else:
        console.print(f"[yellow]cancelled[/] {out}")


@app.command("export")
def export_cmd(
    name: str,
    out: Annotated[Path | None, typer.Argument(help="file to write (default: FORAGER_HOME/campaigns/NAME)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="chat-jsonl or parquet")] = "chat-jsonl",
) -> None:
    """Export the campaign's trajectories as training records (de-duplicated per repository)."""
    from forager.campaign.export import export_campaign

    try:
        emit_json(export_campaign(name, out, fmt))
    except (InvalidInput, NotFound) as exc:
        fail(exc, 2)
