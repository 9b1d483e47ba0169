"""A build's log: every step, with its command, exit code and output, goes to the registry
(redacted, long output cut to its head and tail) and, for a console, to the screen."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from forager.config import get_settings
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
        self.file = get_settings().home / "logs" / f"{build_id}.log"
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text("")  # a build started again starts its log afresh

    def _write(self, step: str, command: str, res: ExecResult | None, text: str) -> None:
        """The plain-text copy of the log a person can open (``summary.log_path``)."""
        head = f"== {step}" + (f"  [exit {res.exit_code}, {res.duration_s:.1f}s]" if res else "")
        with self.file.open("a") as f:
            f.write("\n".join(x for x in (head, f"$ {command}" if command else "", text.rstrip()) if x) + "\n")

    def step(self, step: str, command: str = "", res: ExecResult | None = None, note: str = "") -> None:
        """Record one step: a command and its result, or only a note."""
        text = redact_text(truncate(res.output if res else note, LOG_LIMIT))
        add_log(self.build_id, step, redact_text(command), res.exit_code if res else None, text,
                res.duration_s if res else 0.0)
        self._write(step, redact_text(command), res, text if res is None or not note else f"{note}\n{text}")
        if self.progress is not None:
            mark = "" if res is None else (" [green]ok[/]" if res.ok else f" [red]exit {res.exit_code}[/]")
            extra = f" ({res.duration_s:.1f}s)" if res else ""
            self.progress.print(f"[cyan]{escape(step)}[/]{mark}{extra} {escape(note)}".rstrip())

    def info(self, message: str) -> None:
        """A line for the console only."""
        if self.progress is not None:
            self.progress.print(f"  {escape(message)}")
