"""``forager run``: one agent episode on a task, or a batch of episodes over a task filter."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from forager.cli.app import console, emit_json, fail


def run(
    task_id: Annotated[str | None, typer.Argument(help="the task to run (or use --tasks)")] = None,
    tasks: Annotated[str | None, typer.Option(
        help="many tasks: 'all' or comma-separated kind=, repo=, image=, status=, limit= terms")] = None,
    model: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint URL (base or full)")] = None,
    model_name: Annotated[str | None, typer.Option(help="model name sent to the endpoint")] = None,
    agent: Annotated[str, typer.Option(help="llm or oracle")] = "llm",
    max_steps: Annotated[int | None, typer.Option(help="step budget")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="token budget (prompt + completion)")] = None,
    max_wall: Annotated[float | None, typer.Option(help="wall-time budget in seconds")] = None,
    tool_mode: Annotated[str, typer.Option(help="native (tool calls) or text (plain-text actions)")
                         ] = "native",
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 0.0,
    concurrency: Annotated[int, typer.Option(help="episodes at once (with --tasks)")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Run an agent episode on a task (or on many tasks at once) and store its trajectory.

    Exit status 0 when every episode ran to an end, resolved or not; 1 otherwise; 2 on bad input."""
    if (task_id is None) == (tasks is None):
        fail("give either TASK_ID or --tasks FILTER", 2)
    options: dict[str, Any] = dict(
        agent=agent, model_url=model, model_name=model_name, max_steps=max_steps, max_tokens=max_tokens,
        max_wall_s=max_wall, tool_mode=tool_mode, temperature=temperature)
    if task_id is not None:
        _run_one(task_id, options, as_json)
    else:
        _run_batch(tasks or "", options, concurrency, as_json)


def _run_one(task_id: str, options: dict[str, Any], as_json: bool) -> None:
    """One episode: exit 0 when it ran to an end, 1 when it did not, 2 on bad input."""
    from forager.episode.batch import EpisodeSummary
    from forager.episode.run import EpisodeError, run_episode

    try:
        traj = run_episode(task_id, **options)
    except (LookupError, ValueError) as exc:
        fail(exc, 2)
    except EpisodeError as exc:
        if as_json:
            emit_json({"trajectory_id": exc.trajectory_id, "task_id": task_id, "error": str(exc)})
        fail(exc, 1)
    summary = EpisodeSummary.of(traj)
    if as_json:
        emit_json(summary.public())
    else:
        style = "green" if summary.resolved else "yellow"
        console.print(f"[{style}]{'resolved' if summary.resolved else 'unresolved'}[/] "
                      f"{summary.trajectory_id}  {summary.exit_reason}  {summary.steps} steps  "
                      f"{summary.duration_s:.1f}s")


def _run_batch(spec: str, options: dict[str, Any], concurrency: int, as_json: bool) -> None:
    """Episodes for every task matching ``spec``: exit 0 when all ran to an end, 1 otherwise."""
    from forager.episode.batch import EpisodeSummary, run_many
    from forager.store.tasks_query import select_tasks

    try:
        ids = select_tasks(spec)
    except ValueError as exc:
        fail(exc, 2)
    if not ids:
        console.print("[yellow]no task matches[/]")
    start = time.monotonic()

    def progress(s: EpisodeSummary) -> None:
        if not as_json:
            mark = "[green]resolved[/]" if s.resolved else "[yellow]unresolved[/]"
            console.print(f"{mark} {s.task_id} {s.trajectory_id} {s.exit_reason} {s.steps} steps "
                          f"{s.duration_s:.1f}s {s.error}", highlight=False)

    summaries = run_many(ids, concurrency=concurrency, progress=progress, **options)
    report = batch_report(summaries, time.monotonic() - start, concurrency)
    if as_json:
        emit_json({**report, "results": [{**s.public(), "error": s.error} for s in summaries]})
    else:
        console.print(report)
    raise typer.Exit(0 if report["completed"] == len(summaries) else 1)


def batch_report(summaries: list[Any], wall: float, concurrency: int) -> dict[str, Any]:
    """The numbers of a batch: episodes, completed, resolved and its share, throughput, overhead."""
    ran = [s for s in summaries if s.complete]
    steps = sum(s.steps for s in ran)
    return {
        "episodes": len(summaries), "completed": len(ran), "resolved": sum(s.resolved for s in ran),
        "resolved_share": round(sum(s.resolved for s in ran) / len(ran), 4) if ran else 0.0,
        "wall_s": round(wall, 1), "concurrency": concurrency,
        "episodes_per_hour": round(len(ran) * 3600 / wall, 1) if wall and ran else 0.0,
        "overhead_per_step_s": round(sum(s.overhead_per_step_s * s.steps for s in ran) / steps, 4)
        if steps else 0.0,
    }
