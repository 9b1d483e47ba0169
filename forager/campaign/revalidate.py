"""``forager images revalidate``: run the tests of existing validated images again, as validation
did (a fresh container, network off, sandbox limits), and mark the images that no longer hold —
date bombs, expired certificates in fixtures, tests that depend on the time — ``drifted``, with
their tasks. An image holds when its pass rate still meets the threshold and every test that
passed at validation (flaky ones aside) still passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from forager.build.testrun import run_tests
from forager.clock import utcnow
from forager.config import get_settings
from forager.enums import BuildStatus
from forager.errors import EngineError, SandboxError
from forager.runtime import Limits, get_runtime
from forager.store import campaigns as rows
from forager.store import db
from forager.store.tasks_db import validation_results

MAX_NAMED = 20
"""Newly failing tests named per image."""


@dataclass
class Revalidation:
    image: str
    held: bool
    pass_rate: float | None = None
    newly_failing: list[str] = field(default_factory=list)
    tasks_marked: int = 0
    error: str = ""

    def summary(self) -> dict[str, Any]:
        return {"image": self.image, "held": self.held, "pass_rate": self.pass_rate,
                "newly_failing": self.newly_failing[:MAX_NAMED], "tasks_marked": self.tasks_marked,
                "error": self.error}


def check_image(img: db.Image) -> Revalidation:
    """Run ``img``'s tests once more and judge them against its validation."""
    s = get_settings()
    passed_before, _ = validation_results(img.build_id)
    env = (img.recipe or {}).get("env") or {}
    try:
        with get_runtime().start(img.id, limits=Limits.from_settings(network=False, settings=s),
                                 labels={"forager.role": "revalidate"}) as box:
            run = run_tests(box, img.test_command, timeout=s.test_timeout_s, env=env)
    except (EngineError, SandboxError) as exc:
        return Revalidation(img.id, held=True, error=f"not checked: {exc}")  # the machine's fault, not the image's
    c = run.counts
    ran = c["passed"] + c["failed"] + c["error"]
    rate = c["passed"] / ran if ran else 0.0
    failing = sorted(t for t in passed_before if run.outcome(t) != "passed")
    held = ran > 0 and rate >= s.pass_threshold and not failing and not run.exec.timed_out
    return Revalidation(img.id, held, round(rate, 4), failing)


def revalidate(older_than_days: float | None = None, campaign: str | None = None,
               progress: Callable[[Revalidation], None] | None = None) -> list[Revalidation]:
    """Re-check the chosen images; the drifted ones (and their tasks) are marked ``drifted``."""
    cutoff = utcnow() - timedelta(days=older_than_days) if older_than_days is not None else None
    campaign_id = rows.get_campaign(campaign).id if campaign else None
    out = []
    for img in rows.images_to_revalidate(cutoff, campaign_id):
        result = check_image(img)
        if not result.held:
            result.tasks_marked = rows.mark_drifted(img.id, BuildStatus.DRIFTED)
        out.append(result)
        if progress:
            progress(result)
    return out
