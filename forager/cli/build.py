"""``forager build``: build and validate the image of one source."""

from __future__ import annotations

from typing import Annotated

import typer

from forager.cli.app import console, emit_json
from forager.enums import BuildStatus


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
        from forager.build.summary import summary_table

        console.print(summary_table(result.summary()))
    raise typer.Exit(0 if result.status == BuildStatus.VALIDATED else 1)
