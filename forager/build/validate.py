"""Validation: the tests run in fresh containers with the network off and the sandbox limits;
tests whose outcome differs between two runs are flaky; the image is validated when tests ran
and at least ``pass_threshold`` of the non-skipped ones passed."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from forager.build.context import BuildContext
from forager.build.later import remove_later
from forager.build.steplog import tail
from forager.build.testrun import TestRun, run_tests
from forager.enums import BuildStatus
from forager.runtime import get_runtime
from forager.store.build_records import TestOutcome, add_test_results

NORMAL_EXITS = (0, 1, 5)
"""pytest's exit codes for: all passed, some failed, none collected."""
KILLED = (137, -9)


def run_suite(ctx: BuildContext, image: str, label: str, extra: str = "", part: str = "validate") -> TestRun:
    """One validation run of ``image`` in a fresh container (``extra``: pytest arguments for this
    run only)."""
    recipe = ctx.recipe
    command = f"{recipe.full_test_command()} {extra}".strip()
    box = get_runtime().start(image, name=ctx.container_name(part), limits=ctx.limits(network=False),
                              labels=ctx.labels("validate"))
    try:
        with ctx.watch(box):
            run = run_tests(box, command, timeout=ctx.settings.test_timeout_s, env=recipe.env)
    finally:
        remove_later(box)
    c = run.counts
    ctx.log.step(label, command, run.exec,
                 note=f"passed {c['passed']} failed {c['failed']} errors {c['error']} skipped {c['skipped']}")
    return run


HUNG = re.compile(r"Timeout \(?>\s*[\d.]+s\)?")
"""pytest-timeout's failure message."""


def hanging_tests(run: TestRun) -> list[str]:
    """Tests that pytest-timeout stopped (in the call, or a fixture's setup/teardown)."""
    return [t for t, r in run.results.items() if r.outcome in ("failed", "error") and not r.collection
            and HUNG.search(r.message)]


def _short_limit(ctx: BuildContext) -> int | None:
    short = ctx.settings.first_run_test_timeout_s
    return short if ctx.recipe.has_pytest_arg("--timeout=") and short < ctx.settings.per_test_timeout_s else None


def quick_run(ctx: BuildContext, image: str, label: str) -> TestRun:
    """A test run with the short per-test limit (when pytest-timeout is there): hanging tests
    cost seconds, not the whole-run limit."""
    short = _short_limit(ctx)
    if short is None:
        return run_suite(ctx, image, label)
    return run_suite(ctx, image, f"{label} (per-test limit {short}s)", f"--timeout={short}")


def settle_hangs(ctx: BuildContext, image: str, run: TestRun, commit: Callable[[], None]) -> TestRun:
    """After the quick runs: tests past the short limit are left out and named in the recipe, the
    image committed again (``commit``) and the suite run at the normal limits. Without such tests
    the quick run is the validation run (every test finished within either limit)."""
    short = _short_limit(ctx)
    hung = hanging_tests(run) if short else []
    if not hung or len(hung) == len(run.results):
        return run
    ctx.recipe.leave_out_hanging(hung, short or 0)
    ctx.log.step("leave out hanging tests", note=f"{len(hung)} past {short}s: {', '.join(hung[:10])}")
    commit()
    return run_suite(ctx, image, "validate (first run)")


class Overlapped:
    """A validation run started in the background, so it overlaps other work (the flaky-detection
    run beside the first; the first beside the build container's collection); dropped, its
    container removed, when the image changes after it started."""

    def __init__(self, ctx: BuildContext, image: str, label: str, extra: str = "", part: str = "validate2") -> None:
        self.ctx, self.part, self.stale = ctx, part, False
        self.pool = ThreadPoolExecutor(1, thread_name_prefix=f"forager-{part}")
        self.future = self.pool.submit(run_suite, ctx, image, label, extra, part)

    def drop(self) -> None:
        if not self.stale:
            self.stale = True
            with contextlib.suppress(Exception):
                get_runtime().remove_container(self.ctx.container_name(self.part))
            self.result()

    def result(self) -> TestRun | None:
        """The run, or None when it was dropped or could not finish."""
        try:
            run = self.future.result()
        except Exception:  # noqa: BLE001 - a dropped run's container went away under it
            run = None
        self.pool.shutdown(wait=False)
        return None if self.stale else run


def second_run(ctx: BuildContext, image: str) -> Overlapped:
    """The flaky-detection run, overlapping the first."""
    return Overlapped(ctx, image, "validate (second run)")


def first_run(ctx: BuildContext, image: str) -> Overlapped:
    """The first (quick) run in the background."""
    short = _short_limit(ctx)
    if short is None:
        return Overlapped(ctx, image, "validate (first run)", part="validate")
    return Overlapped(ctx, image, f"validate (first run) (per-test limit {short}s)", f"--timeout={short}", "validate")


def broken(run: TestRun) -> bool:
    """The run timed out or was killed: it decides the build, a second run would only repeat it."""
    return run.exec.timed_out or run.exec.exit_code not in NORMAL_EXITS


@dataclass
class Verdict:
    status: BuildStatus
    error: str | None
    tests: dict[str, int]
    flaky: list[str]


def _failure(first: TestRun, counts: dict[str, int], pass_threshold: float) -> str | None:
    """Why the first run does not validate the image, or None."""
    ran = counts["passed"] + counts["failed"] + counts["error"]
    if ran == 0:
        return "no tests ran (all skipped or none collected)"
    if first.exec.timed_out:
        return "the test suite timed out"
    code = first.exec.exit_code
    if code not in NORMAL_EXITS:
        return (f"the test run ended abnormally (exit {code}"
                + (": killed, out of memory or processes" if code in KILLED else "")
                + f"): {tail(first.exec.output, 500)}")
    rate = counts["passed"] / ran
    if rate < pass_threshold:
        return f"pass rate {rate:.0%} below the {pass_threshold:.0%} threshold"
    return None


def judge(first: TestRun, second: TestRun, pass_threshold: float, more: tuple[TestRun, ...] = ()) -> Verdict:
    """The build's status from its runs (the first decides; the others find flaky tests)."""
    ids = [k for k, v in first.results.items() if not v.collection]
    flaky = [t for t in ids if any(other.outcome(t) != first.outcome(t) for other in (second, *more))]
    counts = first.counts
    counts["flaky"] = len(flaky)
    counts["collection_errors"] = len(first.collection_errors)
    error = _failure(first, counts, pass_threshold)
    return Verdict(BuildStatus.FAILED if error else BuildStatus.VALIDATED, error, counts, flaky)


def record_results(build_id: str, first: TestRun, flaky: list[str]) -> None:
    """Per-test outcomes of the first run (collection errors left out), flaky ones marked."""
    add_test_results(build_id, [TestOutcome(t, r.outcome, t in flaky, r.duration)
                                for t, r in first.results.items() if not r.collection])
