"""The ``forager`` command line. Each section belongs to one part of the farm; the work itself
lives in that part's module, the CLI only parses, calls and prints."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Forager: a repository-environment farm.")
images_app = typer.Typer(no_args_is_help=True, help="Base and built images.")
app.add_typer(images_app, name="images")
console = Console(stderr=True)


@app.callback()
def _main() -> None:
    """SIGTERM unwinds every command like Ctrl-C does: builds, task generation and episodes remove
    their containers on the way out, and an episode's trajectory is saved as incomplete. What a
    command killed with SIGKILL left behind is reaped by the next one (``forager.reaper``)."""
    import signal
    import threading

    def on_sigterm(*_: object) -> None:
        raise SystemExit(143)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    from forager.jobs.reaper import reap

    reap()  # what an earlier command killed with SIGKILL left: containers, rows left 'running'


def emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- builder (issue 2)
@app.command()
def build(
    source: Annotated[str, typer.Argument(help="git URL, local directory, or pypi:NAME[==VERSION]")],
    commit: Annotated[str | None, typer.Option(help="git commit to pin")] = None,
    python: Annotated[str | None, typer.Option(help="Python X.Y (default: detected)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Build a Docker image for SOURCE whose tests run, and validate it."""
    from forager.build.builder import build as do_build

    result = do_build(source, commit=commit, python=python, progress=None if as_json else console)
    if as_json:
        emit_json(result.summary())
    else:
        t = result.summary()
        style = "green" if t["status"] == "validated" else "red"
        console.print(f"[{style}]{t['status']}[/] {t['image'] or ''}  python {t['python']}  "
                      f"tests {t['tests']}  {t['duration_s']:.0f}s")
        if t["error"]:
            console.print(f"[red]error:[/] {t['error']}")
    raise typer.Exit(0 if result.status == "validated" else 1)


@images_app.command("bootstrap")
def images_bootstrap(
    suite: Annotated[list[str] | None, typer.Option(help="Debian suite(s): bullseye, bookworm, trixie")] = None,
    force: bool = False,
) -> None:
    """Build base images from Debian suites (debootstrap + docker import), no registry needed."""
    from forager.build.images import bootstrap

    for s in suite or ["bookworm"]:
        tag = bootstrap(s, force=force, log=console.print)
        console.print(f"[green]ready[/] {tag}")


@images_app.command("list")
def images_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List built images."""
    from forager.build.images import list_images

    rows = list_images()
    if as_json:
        emit_json(rows)
        return
    table = Table("image", "source", "commit", "python", "status", "tests", "size MB")
    for r in rows:
        table.add_row(r["id"], r["source"], (r["commit"] or "")[:10], r["python"], r["status"],
                      f"{r['passed']}/{r['total']}", f"{r['size_bytes'] / 1e6:.0f}")
    Console().print(table)


@images_app.command("show")
def images_show(image: str) -> None:
    """Show an image's recipe, test command and test results."""
    from forager.build.images import show_image

    info = show_image(image)
    if info is None:
        console.print(f"[red]no such image:[/] {image}")
        raise typer.Exit(1)
    emit_json(info)


# ----------------------------------------------------------------------------- tasks (issue 3)
tasks_app = typer.Typer(no_args_is_help=True, help="Tasks: broken states of an image, judged by its tests.")
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("generate")
def tasks_generate(
    image: Annotated[str, typer.Argument(help="a validated image (see `forager images list`)")],
    kind: Annotated[str, typer.Option(help="mutate-fix | implement-feature | from-history")] = "mutate-fix",
    max_tasks: Annotated[int, typer.Option("--max", help="stop after this many validated tasks")] = 5,
    max_candidates: Annotated[int | None, typer.Option(help="candidates to try (default 8 x --max)")] = None,
    seed: Annotated[int, typer.Option(help="seed for the candidate order")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per validated task")] = False,
) -> None:
    """Generate tasks of KIND from IMAGE, validate them in containers and store them."""
    from forager.tasks.generate import generate, task_line

    def on_task(task: object) -> None:
        if as_json:
            emit_json(task_line(task))  # type: ignore[arg-type]

    result = generate(image, kind, max_tasks, max_candidates=max_candidates, seed=seed,
                      progress=lambda m: console.print(m, markup=False, highlight=False), on_task=on_task)
    s = result.summary()
    if result.error:
        console.print(f"[red]error:[/] {result.error}")
    console.print(f"{s['validated']} validated of {s['candidates']} candidates "
                  f"({s['kept_share']:.0%} kept) in {s['duration_s']:.0f}s"
                  + (f", {s['s_per_task']:.1f}s per task" if s["s_per_task"] else ""))
    if s["discard_reasons"]:
        console.print("discarded: " + ", ".join(f"{k} x{v}" for k, v in s["discard_reasons"].items()),
                      markup=False)
    if not as_json and result.tasks:
        table = Table("task", "kind", "family", "F2P", "P2P")
        for t in result.tasks:
            table.add_row(t["id"], t["kind"], t.get("family") or "", str(len(t["fail_to_pass"])),
                          str(t["pass_to_pass_count"]))
        Console().print(table)
    raise typer.Exit(0 if result.tasks else 1)


@tasks_app.command("list")
def tasks_list(
    image: Annotated[str | None, typer.Option(help="only tasks of this image")] = None,
    kind: Annotated[str | None, typer.Option(help="only tasks of this kind")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored tasks."""
    from forager.tasks.generate import list_tasks

    rows = list_tasks(image, kind)
    if as_json:
        emit_json(rows)
        return
    table = Table("task", "image", "kind", "family", "F2P", "P2P", "description")
    for r in rows:
        table.add_row(r["id"], r["image"], r["kind"], r["family"] or "", str(r["fail_to_pass"]),
                      str(r["pass_to_pass"]), r["description"][:60])
    Console().print(table)


@tasks_app.command("show")
def tasks_show(task_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show a task: problem statement, patches, FAIL_TO_PASS and PASS_TO_PASS."""
    from forager.tasks.generate import get_task

    task = get_task(task_id)
    if task is None:
        console.print(f"[red]no such task:[/] {task_id}")
        raise typer.Exit(1)
    info = {"id": task.id, "image": task.image_id, "kind": task.kind, "family": task.family,
            "status": task.status, "problem_statement": task.problem_statement,
            "setup_patch": task.setup_patch, "gold_patch": task.gold_patch, "test_patch": task.test_patch,
            "fail_to_pass": task.fail_to_pass, "pass_to_pass": task.pass_to_pass, "meta": task.meta}
    if as_json:
        emit_json(info)
        return
    out = Console(highlight=False)
    out.print(f"[bold]{task.id}[/]  {task.kind} {task.family or ''}  image {task.image_id}")
    out.print("\n[bold]Problem statement[/]")
    out.print(task.problem_statement, markup=False)
    for title, patch in (("Setup patch (creates the task)", task.setup_patch),
                         ("Gold patch (the fix)", task.gold_patch), ("Test patch", task.test_patch)):
        if patch:
            out.print(f"\n[bold]{title}[/]")
            out.print(patch, markup=False)
    out.print(f"\n[bold]FAIL_TO_PASS[/] ({len(task.fail_to_pass)})")
    for t in task.fail_to_pass:
        out.print(f"  {t}", markup=False)
    out.print(f"\n[bold]PASS_TO_PASS[/] ({len(task.pass_to_pass)})")
    for t in task.pass_to_pass:
        out.print(f"  {t}", markup=False)


# ----------------------------------------------------------------------------- orchestrator (issue 4)
trajectories_app = typer.Typer(no_args_is_help=True, help="Stored agent trajectories.")
app.add_typer(trajectories_app, name="trajectories")


@app.command()
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
    import time

    from forager.episode import agent as ag

    if (task_id is None) == (tasks is None):
        console.print("[red]error:[/] give either TASK_ID or --tasks FILTER")
        raise typer.Exit(2)
    kwargs = dict(agent=agent, model_url=model, model_name=model_name, max_steps=max_steps,
                  max_tokens=max_tokens, max_wall_s=max_wall, tool_mode=tool_mode, temperature=temperature)
    if task_id is not None:
        try:
            traj = ag.run_episode(task_id, **kwargs)  # type: ignore[arg-type]
        except (KeyError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        except ag.EpisodeError as exc:
            if as_json:
                emit_json({"trajectory_id": exc.trajectory_id, "task_id": task_id, "error": str(exc)})
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from None
        summary = ag.EpisodeSummary.of(traj)
        if as_json:
            emit_json(summary.public())
        else:
            style = "green" if summary.resolved else "yellow"
            console.print(f"[{style}]{'resolved' if summary.resolved else 'unresolved'}[/] "
                          f"{summary.trajectory_id}  {summary.exit_reason}  {summary.steps} steps  "
                          f"{summary.duration_s:.1f}s")
        return
    try:
        ids = ag.select_tasks(tasks or "")
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if not ids:
        console.print("[yellow]no task matches[/]")
    start = time.monotonic()

    def progress(s: ag.EpisodeSummary) -> None:
        if not as_json:
            mark = "[green]resolved[/]" if s.resolved else "[yellow]unresolved[/]"
            console.print(f"{mark} {s.task_id} {s.trajectory_id} {s.exit_reason} {s.steps} steps "
                          f"{s.duration_s:.1f}s {s.error}", highlight=False)

    summaries = ag.run_many(ids, concurrency=concurrency, progress=progress, **kwargs)
    wall = time.monotonic() - start
    ran = [s for s in summaries if s.complete]
    steps = sum(s.steps for s in ran)
    report = {
        "episodes": len(summaries), "completed": len(ran), "resolved": sum(s.resolved for s in ran),
        "resolved_share": round(sum(s.resolved for s in ran) / len(ran), 4) if ran else 0.0,
        "wall_s": round(wall, 1), "concurrency": concurrency,
        "episodes_per_hour": round(len(ran) * 3600 / wall, 1) if wall and ran else 0.0,
        "overhead_per_step_s": round(sum(s.overhead_per_step_s * s.steps for s in ran) / steps, 4)
        if steps else 0.0,
    }
    if as_json:
        emit_json({**report, "results": [{**s.public(), "error": s.error} for s in summaries]})
    else:
        console.print(report)
    raise typer.Exit(0 if len(ran) == len(summaries) else 1)


@trajectories_app.command("list")
def trajectories_list(
    task: Annotated[str | None, typer.Option(help="only this task")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored trajectories, newest first."""
    from sqlalchemy import select

    from forager.store import db

    with db.session() as s:
        q = select(db.Trajectory).order_by(db.Trajectory.created_at.desc()).limit(limit)
        if task:
            q = q.where(db.Trajectory.task_id == task)
        rows = [{"id": r.id, "task_id": r.task_id, "agent": r.agent, "model": r.model,
                 "resolved": r.resolved, "complete": r.complete, "steps": r.steps,
                 "exit_reason": r.exit_reason, "duration_s": r.duration_s, "repository": r.repository,
                 "created_at": r.created_at} for r in s.scalars(q)]
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


@trajectories_app.command("show")
def trajectories_show(
    trajectory: Annotated[str, typer.Argument(help="a trajectory id or file")],
    as_json: Annotated[bool, typer.Option("--json", help="the whole trajectory as JSON")] = False,
) -> None:
    """Show a trajectory's summary and turns (exit 1 when it is damaged or incomplete)."""
    from forager.trajectory.store import load

    try:
        loaded = load(trajectory)
    except LookupError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    t = loaded.trajectory
    if as_json:
        emit_json({**t.model_dump(mode="json"), "load_error": loaded.error})
    else:
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
    raise typer.Exit(1 if loaded.error or not t.complete else 0)


@app.command("export")
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
    from pathlib import Path

    from forager.trajectory.export import export

    try:
        stats = export(Path(out), fmt, resolved_only=resolved_only, kind=kind, repository=repository,
                       include_incomplete=include_incomplete, threshold=threshold)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        emit_json({**stats.summary(), "out": out})
    else:
        console.print(f"wrote {stats.written} records to {out} ({stats.summary()})")



# ----------------------------------------------------------------------------- api, workers (issue 5)
tokens_app = typer.Typer(no_args_is_help=True, help="API bearer tokens.")
app.add_typer(tokens_app, name="tokens")


@app.command()
def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    openapi: Annotated[str | None, typer.Option(help="write the OpenAPI schema here, then exit")] = None,
) -> None:
    """Serve the REST API (uvicorn); docs at /docs."""
    if openapi:
        from pathlib import Path

        from forager.api.app import openapi_document

        Path(openapi).write_text(openapi_document())
        console.print(f"wrote {openapi}")
        return
    import uvicorn

    uvicorn.run("forager.api.app:app", host=host, port=port, log_level="info")


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated: build, tasks, agent")] = "build,tasks,agent",
    concurrency: Annotated[int, typer.Option(help="jobs run at once by this worker")] = 1,
    name: Annotated[str | None, typer.Option(help="Celery node name (default forager-QUEUES@host)")] = None,
) -> None:
    """Run a Celery worker for the given queues (Redis broker at FORAGER_REDIS_URL)."""
    from forager.jobs.core import run_worker

    try:
        run_worker([q.strip() for q in queues.split(",") if q.strip()], concurrency, name)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@tokens_app.command("create")
def tokens_create(
    name: str,
    scope: Annotated[str, typer.Option(help="read, write or admin")] = "read",
) -> None:
    """Make a token; it is printed once, on the last line of the output."""
    from forager.store.tokens import create

    try:
        token, info = create(name, scope)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"token {info.id} ({info.scope}) for {info.name}; it is shown only now:")
    sys.stdout.write(token + "\n")


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (never the secret)."""
    from forager.store.tokens import list_tokens

    emit_json([t.__dict__ for t in list_tokens()])


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (tok-...)."""
    from forager.store.tokens import revoke

    if not revoke(token_id):
        console.print(f"[red]no such token:[/] {token_id}")
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- replay (issue 6)
@app.command()
def replay(
    trajectory: Annotated[str, typer.Argument(help="a trajectory id or a trajectory file")],
    step: Annotated[int | None, typer.Option(help="show only step N")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="show new steps as they come")] = False,
    full: Annotated[bool, typer.Option("--full", help="do not fold long observations")] = False,
    execute: Annotated[bool, typer.Option("--execute", help="re-run the actions in a fresh container "
                                          "and compare the observations and the reward")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --execute: print one JSON report")] = False,
) -> None:
    """Show a trajectory turn by turn, or re-execute it and report where it diverges.

    Exit status: view 0 (1 when the file is damaged or incomplete); --execute 0 when the trajectory
    reproduces, 1 when it diverges, 2 when it cannot be replayed at all."""
    from forager.trajectory import replay as rp

    out = Console(highlight=False)
    try:
        if execute:
            report = rp.reexecute(trajectory, progress=None if as_json else
                                  lambda s: console.print(f"step {s.index} {s.status}", highlight=False))
            if as_json:
                emit_json(report.to_dict())
            else:
                out.print(rp.render_report(report))
            raise typer.Exit(2 if report.error else (0 if report.reproduces else 1))
        if follow:
            result = rp.follow(trajectory, out, full=full)
        else:
            result = rp.open_trajectory(trajectory)
            rp.show(result, out, step=step, full=full)
    except rp.ReplayError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    raise typer.Exit(1 if result.error else 0)


if __name__ == "__main__":
    app()
