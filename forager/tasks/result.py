"""What one ``tasks generate`` call reports: the tasks it stored, the candidates it discarded and
why, yield per family, and the seconds each phase took."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from forager.store import db

BEHAVIOUR_DUPLICATE = "behavioural duplicate"


@dataclass
class Discard:
    description: str
    family: str | None
    reason: str


@dataclass
class GenerateResult:
    image: str
    kind: str
    tasks: list[dict[str, Any]] = field(default_factory=list)
    discarded: list[Discard] = field(default_factory=list)
    candidates: int = 0
    duration_s: float = 0.0
    error: str | None = None
    tried_by_family: Counter[str] = field(default_factory=Counter)
    kept_by_family: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    callmap_cached: bool | None = None
    """Whether the call map came from an earlier generation on the image (None: none was needed)."""
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent per phase of the call (image lookup, container, call map, sources, screening...)."""
    controls_kept: int | None = None
    """Control runs of the fast judge that earlier generations on the image had kept."""
    controls_reused: int | None = None
    """Test selections judged without a new control run (kept, or run by an earlier batch)."""

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - start

    @property
    def kept_share(self) -> float:
        return len(self.tasks) / self.candidates if self.candidates else 0.0

    @property
    def reasons(self) -> Counter[str]:
        return Counter(d.reason.split(":")[0] for d in self.discarded)

    def per_minute(self) -> float:
        elapsed = self.duration_s or (time.monotonic() - self.started)
        return 60 * len(self.tasks) / elapsed if elapsed > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        fams = Counter(t.get("family") or "-" for t in self.tasks)
        yields = {f: round(self.kept_by_family[f] / n, 3) for f, n in self.tried_by_family.items() if n}
        return {
            "image": self.image, "kind": self.kind, "validated": len(self.tasks),
            "candidates": self.candidates, "kept_share": round(self.kept_share, 3),
            "duration_s": round(self.duration_s, 1),
            "s_per_task": round(self.duration_s / len(self.tasks), 2) if self.tasks else None,
            "tasks_per_hour": round(3600 * len(self.tasks) / self.duration_s, 1) if self.duration_s else 0.0,
            "families": dict(fams), "yield_by_family": yields, "discard_reasons": dict(self.reasons),
            "behaviour_duplicates": self.reasons.get(BEHAVIOUR_DUPLICATE, 0), "error": self.error,
            "callmap_cached": self.callmap_cached, "controls_kept": self.controls_kept,
            "controls_reused": self.controls_reused,
            "phases_s": {k: round(v, 2) for k, v in self.phases.items()},
        }


def task_line(task: db.Task) -> dict[str, Any]:
    """The ``--json`` line for one validated task."""
    return {"id": task.id, "image": task.image_id, "kind": task.kind,
            "fail_to_pass": list(task.fail_to_pass), "pass_to_pass_count": len(task.pass_to_pass),
            "problem_statement": task.problem_statement}
