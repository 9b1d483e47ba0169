"""``forager tasks``: generate tasks from an image, list and show stored tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from forager.cli.app import console, emit_json, fail, missing
from forager.enums import TaskKind

if TYPE_CHECKING:
    from forager.store.models import Task

app = typer.Typer(no_args_is_help=True, help="Tasks: broken states of an image, judged by its tests.")


@app.command("generate")
def tasks_generate(
    image: Annotated[str, typer.Argument(help="a validated image (see `forager images list`)")],
    kind: Annotated[str, typer.Option(help="mutate-fix | implement-feature | combined | model-rewrite | "
                                           "from-history")] = TaskKind.MUTATE_FIX,
    max_tasks: Annotated[int, typer.Option("--max", help="stop after this many validated tasks")] = 5,
    max_candidates: Annotated[int | None, typer.Option(help="candidates to try (default 8 x --max)")] = None,
    seed: Annotated[int, typer.Option(help="seed for the candidate order")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per validated task")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="a line per candidate")] = False,
) -> None:
    """Generate tasks of KIND from IMAGE, validate them in containers and store them as they
    validate, with live progress (candidates tried, kept, discarded by reason, tasks per minute)."""
    from forager.cli.tasks_progress import generate_live

    result = generate_live(image, kind, max_tasks, max_candidates, seed, as_json, verbose)
    if result.error:
        console.print(f"[red]error:[/] {result.error}")
    _print_generation_summary(result.summary())
    if not as_json and result.tasks:
        table = Table("task", "kind", "family", "F2P", "P2P")
        for t in result.tasks:
            table.add_row(t["id"], t["kind"], t.get("family") or "", str(len(t["fail_to_pass"])),
                          str(t["pass_to_pass_count"]))
        Console().print(table)
    raise typer.Exit(0 if result.tasks else 1)


def _print_generation_summary(s: dict[str, Any]) -> None:
    console.print(f"{s['validated']} validated of {s['candidates']} candidates "
                  f"({s['kept_share']:.0%} kept) in {s['duration_s']:.0f}s"
                  + (f", {s['s_per_task']:.1f}s per task" if s["s_per_task"] else ""))
    if s["discard_reasons"]:
        console.print("discarded: " + ", ".join(f"{k} x{v}" for k, v in s["discard_reasons"].items()),
                      markup=False)
    if s.get("yield_by_family"):
        console.print("yield by family: " + ", ".join(f"{k} {v:.0%}" for k, v in s["yield_by_family"].items()),
                      markup=False)


@app.command("list")
def tasks_list(
    image: Annotated[str | None, typer.Option(help="only tasks of this image")] = None,
    kind: Annotated[str | None, typer.Option(help="only tasks of this kind")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored tasks."""
    from forager.store.tasks_db import list_tasks

    rows = list_tasks(image, kind)
    if as_json:
        emit_json(rows)
        return
    table = Table("task", "image", "kind", "family", "F2P", "P2P", "description")
    for r in rows:
        table.add_row(r["id"], r["image"], r["kind"], r["family"] or "", str(r["fail_to_pass"]),
                      str(r["pass_to_pass"]), r["description"][:60])
    Console().print(table)


@app.command("show")
def tasks_show(task_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show a task: problem statement, patches, FAIL_TO_PASS and PASS_TO_PASS."""
    from forager.store.tasks_db import get_task

    task = get_task(task_id)
    if task is None:
        missing("task", task_id)
    if as_json:
        emit_json({"id": task.id, "image": task.image_id, "kind": task.kind, "family": task.family,
                   "status": task.status, "problem_statement": task.problem_statement,
                   "setup_patch": task.setup_patch, "gold_patch": task.gold_patch,
                   "test_patch": task.test_patch, "fail_to_pass": task.fail_to_pass,
                   "pass_to_pass": task.pass_to_pass, "meta": task.meta})
        return
    _print_task(task)


def _print_task(task: Task) -> None:
    out = Console(highlight=False)
    out.print(f"[bold]{task.id}[/]  {task.kind} {task.family or ''}  image {task.image_id}")
    out.print("\n[bold]Problem statement[/]")
    out.print(task.problem_statement, markup=False)
    for title, patch in (("Setup patch (creates the task)", task.setup_patch),
                         ("Gold patch (the fix)", task.gold_patch), ("Test patch", task.test_patch)):
        if patch:
            out.print(f"\n[bold]{title}[/]")
            out.print(patch, markup=False)
    for title, tests in (("FAIL_TO_PASS", task.fail_to_pass), ("PASS_TO_PASS", task.pass_to_pass)):
        out.print(f"\n[bold]{title}[/] ({len(tests)})")
        for t in tests:
            out.print(f"  {t}", markup=False)


@app.command("verify")
def tasks_verify(
    image: Annotated[str | None, typer.Option(help="only tasks of this image (id or prefix)")] = None,
    kind: Annotated[str | None, typer.Option(help="only tasks of this kind")] = None,
    sample: Annotated[int, typer.Option(help="tasks to re-check (a seeded sample)")] = 10,
    seed: Annotated[int, typer.Option(help="seed of the sample")] = 0,
    task_ids: Annotated[list[str] | None, typer.Option("--task", help="re-check these tasks")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="a test path left out of every run (its tests are reported unchecked)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-check stored tasks by full fresh runs in both states (FAIL_TO_PASS fail with the setup
    patch; FAIL_TO_PASS and PASS_TO_PASS pass with the gold patch); exit 1 on any disagreement."""
    from forager.tasks.verify import verify

    report = verify(sample, image, kind, seed, task_ids or None,
                    progress=None if as_json else lambda m: console.print(m, markup=False, highlight=False),
                    exclude=exclude or None)
    if as_json:
        emit_json(report)
    else:
        console.print(f"{report['checked']} task(s) re-checked by full fresh runs: "
                      f"{report['disagreements']} disagreement(s); PASS_TO_PASS tests failing in the task "
                      f"state: {report['p2p_failing_in_task_state']}; unchecked (excluded) tests: "
                      f"{report['unchecked_tests']}")
    raise typer.Exit(1 if report["disagreements"] else 0)


@app.command("export")
def tasks_export(
    out: Annotated[str, typer.Argument(
        help="OUT.jsonl or OUT.parquet; '-' (the default) writes forager JSON lines to standard output")] = "-",
    fmt: Annotated[str | None, typer.Option(
        "--format", help="swebench (SWE-bench instances; the default for a file) or forager (task rows with "
                         "their metadata, JSON lines; the default for standard output)")] = None,
    tasks: Annotated[str, typer.Option(help="which tasks: all, or kind=, repo=, image=, limit= terms")] = "all",
    image: Annotated[str | None, typer.Option(help="only tasks of this image (id or prefix)")] = None,
    kind: Annotated[str | None, typer.Option(help="only tasks of this kind")] = None,
    family: Annotated[str | None, typer.Option(help="only tasks of this mutation family")] = None,
    exclude_contaminated: Annotated[bool, typer.Option(
        "--exclude-contaminated", help="leave out repositories of public evaluation sets")] = False,
    min_fail_to_pass: Annotated[int, typer.Option(help="at least this many FAIL_TO_PASS tests")] = 0,
    max_lines: Annotated[int | None, typer.Option(help="at most this many lines changed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON line")] = False,
) -> None:
    """Write stored tasks, filtered: as SWE-bench instances (loadable with `datasets`) or as Forager's
    own rows with the metadata training needs."""
    from pathlib import Path

    from forager.errors import InvalidInput
    from forager.store.tasks_query import select_tasks
    from forager.tasks.export import ExportFilter, export_tasks
    from forager.tasks.swebench_export import export_swebench

    fmt = fmt or ("forager" if out == "-" else "swebench")
    if fmt not in ("swebench", "forager"):
        fail(f"unknown format {fmt!r}; use swebench or forager", 2)
    try:
        ids = None if tasks == "all" else frozenset(select_tasks(tasks))
        flt = ExportFilter(image, kind, family, exclude_contaminated, min_fail_to_pass, max_lines, ids)
        if fmt == "forager":
            count = export_tasks(out, flt)
            if out != "-":
                console.print(f"{count} task(s) written to {out}", markup=False)
            return
        if out == "-":
            fail("the swebench format is written to a .jsonl or .parquet file, not standard output", 2)
        result = export_swebench(Path(out), tasks, exclude_contaminated, keep=flt.keeps)
    except InvalidInput as exc:
        fail(exc, 2)
    summary = result.summary()
    if as_json:
        emit_json(summary)
    else:
        console.print(f"{summary['exported']} task(s) written to {out}; "
                      f"{summary['excluded_contaminated']} left out as contaminated", markup=False)
        for task_id, reason in result.skipped.items():
            console.print(f"skipped {task_id}: {reason}", markup=False, highlight=False)
    raise typer.Exit(0 if not result.skipped else 1)


def _sources(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        repo, eq, spec = pair.partition("=")
        if not eq or not repo.strip() or not spec.strip():
            fail(f"--source takes REPO=SPEC (e.g. owner/name=https://github.com/owner/name), not {pair!r}", 2)
        out[repo.strip()] = spec.strip()
    return out


@app.command("import")
def tasks_import(
    file: Annotated[str, typer.Argument(help="SWE-bench instances: .jsonl, .json or .parquet")],
    source: Annotated[list[str] | None, typer.Option(
        help="REPO=SPEC: build the repository REPO from SPEC (git URL, local path, pypi:NAME==VERSION)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON line")] = False,
) -> None:
    """Import SWE-bench instances as Forager tasks, each validated in its image (exit 1 when a row
    was rejected)."""
    from pathlib import Path

    from forager.errors import InvalidInput
    from forager.tasks.swebench_import import import_swebench

    sources = _sources(source or [])
    try:
        result = import_swebench(Path(file), sources,
                                 progress=lambda m: console.print(m, markup=False, highlight=False))
    except InvalidInput as exc:
        fail(exc, 2)
    summary = result.summary()
    if as_json:
        emit_json(summary)
    else:
        console.print(f"{summary['imported']} imported, {summary['duplicate']} already stored, "
                      f"{summary['rejected']} rejected of {summary['rows']} row(s)", markup=False)
        for o in result.outcomes:
            if o.status == "rejected":
                console.print(f"rejected {o.row}: {o.reason}", markup=False, highlight=False)
    raise typer.Exit(0 if result.count("rejected") == 0 else 1)
