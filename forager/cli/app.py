"""The Typer app every command hangs on, its start-up callback, and the output helpers commands share."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Forager: a repository-environment farm.")
console = Console(stderr=True)
"""Progress, errors and human summaries go to stderr; ``emit_json`` and tokens go to stdout."""


@app.callback()
def _main() -> None:
    """SIGTERM unwinds every command like Ctrl-C does: builds, task generation and episodes remove
    their containers on the way out, and an episode's trajectory is saved as incomplete. What a
    command killed with SIGKILL left behind is reaped by the next one (``forager.jobs.reaper``)."""

    def on_sigterm(*_: object) -> None:
        raise SystemExit(143)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    from forager.jobs.reaper import reap

    reap()  # what an earlier command killed with SIGKILL left: containers, rows left 'running'


def emit_json(obj: object) -> None:
    """One JSON document on one stdout line (dates and other objects as strings)."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def fail(message: object, code: int) -> NoReturn:
    """Print ``error: MESSAGE`` on stderr and end the command with exit status ``code``."""
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def missing(what: str, name: str) -> NoReturn:
    """Print ``no such WHAT: NAME`` on stderr and end the command with exit status 1."""
    console.print(f"[red]no such {what}:[/] {name}")
    raise typer.Exit(1)
