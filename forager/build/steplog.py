"""A build's log: every step, with its command, exit code and output, goes to the registry
(redacted, long output cut to its head and tail) and, for a console, to the screen."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from forager.redact import redact_text
from forager.runtime import ExecResult
from forager.store.build_records import add_log
from forager.text import truncate

LOG_LIMIT = 20000
"""Characters of output kept per step."""


def tail(text: str, n: int = 1500) -> str:
    """The end of a command's output, for error messages."""
    text = text.strip()
    return text[-n:] if len(text) > n else text


class StepLog:
    def __init__(self, build_id: str, progress: Console | None) -> None:
        self.build_id = build_id
        self.progress = progress

    def step(self, step: str, command: str = "", res: ExecResult | None = None, note: str = "") -> None:
        """Record one step: a command and its result, or only a note."""
        add_log(self.build_id, step, redact_text(command), res.exit_code if res else None,
                redact_text(truncate(res.output if res else note, LOG_LIMIT)), res.duration_s if res else 0.0)
        if self.progress is not None:
            mark = "" if res is None else (" [green]ok[/]" if res.ok else f" [red]exit {res.exit_code}[/]")
            extra = f" ({res.duration_s:.1f}s)" if res else ""
            self.progress.print(f"[cyan]{escape(step)}[/]{mark}{extra} {escape(note)}".rstrip())

    def info(self, message: str) -> None:
        """A line for the console only."""
        if self.progress is not None:
            self.progress.print(f"  {escape(message)}")
