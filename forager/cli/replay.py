"""``forager replay``: a trajectory shown turn by turn, followed live, or re-executed and compared."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from forager.cli.app import console, emit_json, fail


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

    try:
        if execute:
            raise typer.Exit(_reexecute(trajectory, as_json))
        out = Console(highlight=False)
        if follow:
            result = rp.follow(trajectory, out, full=full)
        else:
            result = rp.open_trajectory(trajectory)
            rp.show(result, out, step=step, full=full)
    except rp.ReplayError as exc:
        fail(exc, 2)
    raise typer.Exit(1 if result.error else 0)


def _reexecute(trajectory: str, as_json: bool) -> int:
    """Re-run the trajectory's actions; the exit status: 0 reproduces, 1 diverges, 2 cannot replay."""
    from forager.trajectory import replay as rp

    report = rp.reexecute(trajectory, progress=None if as_json else
                          lambda s: console.print(f"step {s.index} {s.status}", highlight=False))
    if as_json:
        emit_json(report.to_dict())
    else:
        Console(highlight=False).print(rp.render_report(report))
    return 2 if report.error else (0 if report.reproduces else 1)
