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
    from forager.builder import build as do_build

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
    from forager.images import bootstrap

    for s in suite or ["bookworm"]:
        tag = bootstrap(s, force=force, log=console.print)
        console.print(f"[green]ready[/] {tag}")


@images_app.command("list")
def images_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List built images."""
    from forager.images import list_images

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
    from forager.images import show_image

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
    from forager.tasks import generate, task_line

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
    from forager.tasks import list_tasks

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
    from forager.tasks import get_task

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

        from forager.api import openapi_document

        Path(openapi).write_text(openapi_document())
        console.print(f"wrote {openapi}")
        return
    import uvicorn

    uvicorn.run("forager.api:app", host=host, port=port, log_level="info")


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated: build, tasks, agent")] = "build,tasks,agent",
    concurrency: Annotated[int, typer.Option(help="jobs run at once by this worker")] = 1,
    name: Annotated[str | None, typer.Option(help="Celery node name (default forager-QUEUES@host)")] = None,
) -> None:
    """Run a Celery worker for the given queues (Redis broker at FORAGER_REDIS_URL)."""
    from forager.jobs import run_worker

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
    from forager.tokens import create

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
    from forager.tokens import list_tokens

    emit_json([t.__dict__ for t in list_tokens()])


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token by its id (tok-...)."""
    from forager.tokens import revoke

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
    from forager import replay as rp

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
