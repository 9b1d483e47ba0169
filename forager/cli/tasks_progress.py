"""Live progress of ``forager tasks generate``: candidates tried, kept, discarded by reason and
tasks per minute, redrawn as each candidate is judged (rich)."""

from __future__ import annotations

from typing import Any

from rich.live import Live
from rich.table import Table

from forager.cli.app import console, emit_json


def _table(res: Any) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_row("tried", str(res.candidates), "kept", str(len(res.tasks)),
                  "tasks/min", f"{res.per_minute():.1f}")
    reasons = ", ".join(f"{k} x{v}" for k, v in res.reasons.most_common(5)) or "-"
    table.add_row("discarded", str(len(res.discarded)), "reasons", reasons, "", "")
    return table


def generate_live(image: str, kind: str, max_tasks: int, max_candidates: int | None, seed: int,
                  as_json: bool, verbose: bool) -> Any:
    """Run ``generate`` with a live progress table on stderr (JSON lines stay on stdout)."""
    from forager.tasks.generate import GenerateResult, generate, task_line

    err = console
    with Live(_table(GenerateResult(image, kind)), console=err, refresh_per_second=4,
              transient=True) as live:
        def on_task(task: Any) -> None:
            if as_json:
                emit_json(task_line(task))

        def log(message: str) -> None:
            if verbose or not message.startswith(("discard ", "validated ")):
                live.console.print(message, markup=False, highlight=False)

        return generate(image, kind, max_tasks, max_candidates=max_candidates, seed=seed, progress=log,
                        on_task=on_task, on_progress=lambda r: live.update(_table(r)))
