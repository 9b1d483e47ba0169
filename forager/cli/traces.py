"""``forager traces collect|list|show|export``: execution traces from validated images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from forager.cli.app import console, emit_json, fail, missing
from forager.redact import redact_url

app = typer.Typer(no_args_is_help=True, help="Execution traces: the locals after every executed line.")


@app.command("collect")
def traces_collect(
    image: Annotated[str, typer.Argument(help="a validated image (see `forager images list`)")],
    functions: Annotated[int | None, typer.Option(min=1, help="functions to trace (FORAGER_TRACE_FUNCTIONS)")] = None,
    per_function: Annotated[int | None, typer.Option(min=1, help="tests (traces) per function")] = None,
    seed: Annotated[int, typer.Option(help="seed for which functions and tests")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="the summary as one JSON object")] = False,
) -> None:
    """Trace functions of IMAGE while its tests run (in the network-off sandbox) and store the traces."""
    from forager.traces.collect import collect_for_image

    result = collect_for_image(image, functions, per_function, seed,
                               progress=lambda m: console.print(m, markup=False, highlight=False))
    s = result.summary()
    if as_json:
        emit_json(s)
    else:
        if result.error:
            console.print(f"[red]error:[/] {result.error}", highlight=False)
        console.print(f"{s['stored']} traces stored ({s['already_stored']} already stored, {s['refused']} "
                      f"refused) from {s['functions']} functions and {s['tests']} tests in "
                      f"{s['duration_s']:.0f}s; frames median {s['frames_median']}, p90 {s['frames_p90']}; "
                      f"engine {s['engine'] or '-'}", highlight=False)
    raise typer.Exit(1 if result.error else 0)


def _row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "image": r.image_id, "repository": redact_url(r.repository), "path": r.path,
            "function": r.function, "test": r.test, "kind": r.kind, "status": r.status,
            "frames": r.n_frames, "bytes": r.size_bytes, "created_at": r.created_at}


@app.command("list")
def traces_list(
    image: Annotated[str | None, typer.Option(help="only traces of this image")] = None,
    function: Annotated[str | None, typer.Option(help="only this function (qualified name)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored traces, newest first."""
    from forager.store.traces import TraceFilters, list_traces

    rows, _ = list_traces(TraceFilters(image=image, function=function), limit, None)
    out = [_row(r) for r in rows]
    if as_json:
        emit_json(out)
        return
    table = Table("id", "function", "path", "test", "status", "frames")
    for r in out:
        table.add_row(r["id"], r["function"], r["path"], r["test"][-60:], r["status"], str(r["frames"]))
    Console().print(table)


@app.command("show")
def traces_show(
    trace_id: Annotated[str, typer.Argument(help="a trace id")],
    step: Annotated[int | None, typer.Option(min=0, help="show only this frame")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the stored trace as JSON")] = False,
) -> None:
    """Show a trace: the function's source, then each frame (or frame STEP) with its locals."""
    from forager.store.traces import find
    from forager.traces.export import record
    from forager.traces.frames import frame_views, parse_frames

    row = find(trace_id)
    if row is None:
        missing("trace", trace_id)
    if as_json:
        emit_json(record(row))
        return
    views = frame_views(parse_frames(row.frames))
    if step is not None and step >= len(views):
        fail(f"trace {row.id} has {len(views)} frames (steps 0 to {len(views) - 1})", 2)
    out = Console(highlight=False)
    out.print(f"[bold]{row.id}[/]  {row.function}  {row.path}:{row.first_line}  test {row.test}", markup=True)
    out.print(f"{row.status} · {row.n_frames} frames · {row.engine} · Python {row.python}", markup=False)
    for v in views if step is None else [views[step]]:
        out.print(Syntax(row.source, "python", line_numbers=True, start_line=row.first_line,
                         highlight_lines={v.line}) if step is not None else "", end="")
        value = f"  -> {v.arg}" if v.arg is not None else ""
        out.print(f"\n[{v.index}] {v.event:<9} line {v.line}: {v.source.strip()}{value}", markup=False)
        for name, text in v.locals.items():
            mark = "*" if name in v.changed else " "
            out.print(f"     {mark} {name} = {text}", markup=False)


@app.command("export")
def traces_export(
    out: Annotated[str, typer.Argument(help="output file")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or parquet")] = "jsonl",
    image: Annotated[str | None, typer.Option(help="only this image")] = None,
    repository: Annotated[str | None, typer.Option(help="only this repository (its source)")] = None,
    status: Annotated[str | None, typer.Option(help="complete | truncated | incomplete")] = None,
    exclude_contaminated: Annotated[bool, typer.Option("--exclude-contaminated",
                                                       help="leave out repositories of evaluation sets")] = False,
    threshold: Annotated[float, typer.Option(help="near-duplicate Jaccard threshold")] = 0.8,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Export traces (near-duplicates removed per repository, the contamination flag on each)."""
    from forager.errors import InvalidInput
    from forager.store.traces import TraceFilters
    from forager.traces.export import export

    try:
        stats = export(Path(out), fmt, TraceFilters(image=image, repository=repository, status=status),
                       threshold=threshold, include_contaminated=not exclude_contaminated)
    except InvalidInput as exc:
        fail(exc, 2)
    if as_json:
        emit_json({**stats.summary(), "out": out})
    else:
        console.print(f"wrote {stats.written} traces to {out} ({stats.summary()})", highlight=False)
