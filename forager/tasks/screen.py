"""The fast judge of injected candidates (mutations, stubs, combined bugs, model rewrites), as
mutation-testing tools do it: only the tests that execute the changed function (the call map of
the baseline), batches of candidates per ``docker exec``, pytest imported once and forked per
candidate, the whole suite never collected.

How each part of a task's guarantee is established:
  FAIL_TO_PASS fail in the task state   a real run: the covering tests with the setup patch applied
                                        (``git apply``); only tests that pass in a control run of
                                        the same selection without the patch are counted
  gold patch restores the image         a real check per candidate: ``git apply`` of the gold patch
                                        after the run, then ``git diff --quiet HEAD``
  FAIL_TO_PASS and PASS_TO_PASS pass    the baseline: the gold state is byte for byte the validated
  after the gold patch                  image, whose passing tests (flaky ones excluded at build
                                        validation, re-run with the tracer in this container) are known
``forager tasks verify`` re-checks a sample by full fresh runs in both states.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from forager.tasks.baseline import Baseline
from forager.tasks.candidates import Candidate
from forager.tasks.deal import deal
from forager.tasks.evaluate import Judged
from forager.tasks.fastrun import Probe, ProbeResult, Runner

CONTROL_CACHE = 4096
"""Control runs kept (per test selection)."""
TEST_LIMIT_FLOOR = 1.5
"""Seconds any one test gets in a candidate's run at least; past it (or ten times what the test took
at validation and a second, when longer) the candidate counts as hanging. A false hang can only
discard a candidate; a real one costs this much (at 3 s, 8 hangs of cachetools took half of a
50-task call)."""


def test_limit(baseline: Baseline, tests: list[str]) -> float:
    """How long one of ``tests`` may run in a session before its candidate counts as hanging."""
    slowest = max((baseline.durations.get(t, 0.3) for t in tests), default=0.3)
    return max(TEST_LIMIT_FLOOR, 10 * slowest + 1)


def probe_timeout(baseline: Baseline, tests: list[str], cap: float) -> float:
    """A few times what the tests took at validation, or in this container's baseline run (its
    share of it), whichever is longer (the machine may be busier now)."""
    est = sum(baseline.durations.get(t, 0.5) for t in tests)
    share = baseline.run_s * len(tests) / max(1, len(baseline.passed))
    return min(cap, max(20.0, 3 * est + 15, 2 * share + 15))


def _selection_key(tests: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(tests)).encode()).hexdigest()[:24]


@dataclass
class Screen:
    """Judges candidates in batches against one baseline; control runs cached per selection."""

    runner: Runner
    baseline: Baseline
    cap_s: float
    workers: list[Runner] = field(default_factory=list)
    """More runners (each its own container) that judge a share of every batch side by side."""
    controls: dict[str, set[str]] = field(default_factory=dict)
    control_s: dict[str, float] = field(default_factory=dict)
    """Seconds the control run of each selection took (in a session)."""
    seconds: float = 0.0
    """Time the driver spent (per-probe seconds summed)."""
    session: bool = True
    """Run candidates in one collected session, forked per candidate (``session_plugin``)."""
    controls_reused: int = 0
    """Selections judged on a control run made before (by an earlier batch, or kept for the image)."""
    fallbacks: int = 0
    """Candidates run in a fresh pytest process instead."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds by part: ``exec`` (wall time of the driver's execs), ``controls`` and ``candidates``
    (the probes' own seconds, as the driver measured them), ``setup`` (the rest of the execs:
    interpreter start, pytest's collection, the function index)."""

    def _tests(self, cand: Candidate) -> list[str]:
        return sorted(set(cand.relevant_tests or self.baseline.passed))

    def selections(self, cands: list[Candidate]) -> list[list[str]]:
        """The tests each candidate runs: those that cover it, or every passing test where that is
        cheaper. A selection with no control run yet costs its tests twice (the control, then the
        candidate); k candidates sharing it cost k + 1 times its size. Run whole, they share the
        whole suite's control instead (k times the whole), so a selection goes whole when it is
        more than k / (k + 1) of the passing tests."""
        whole = sorted(set(self.baseline.passed))
        chosen = [self._tests(c) for c in cands]
        keys = [_selection_key(t) for t in chosen]
        sharing = Counter(keys)
        return [whole if key not in self.controls and len(t) * (sharing[key] + 1) > len(whole) * sharing[key]
                else t for t, key in zip(chosen, keys, strict=True)]

    def judge(self, cands: list[Candidate]) -> list[Judged | str]:
        """Per candidate: what the tests said, or the reason to discard it."""
        chosen = self.selections(cands)
        selections = {}
        for tests in chosen:
            key = _selection_key(tests)
            if key not in self.controls:
                selections[key] = tests
        self.controls_reused += len({_selection_key(t) for t in chosen} - set(selections))
        probes = [Probe(tests, probe_timeout(self.baseline, tests, self.cap_s), id=f"control-{key}")
                  for key, tests in selections.items()]
        runs = [self._probe(c, t) for c, t in zip(cands, chosen, strict=True)]
        start = time.monotonic()
        results = self._spread(probes + runs)
        wall = time.monotonic() - start
        self.seconds += sum(r.seconds for r in results)
        control_s = sum(r.seconds for r in results[:len(probes)])
        cand_s = sum(r.seconds for r in results[len(probes):])
        for part, sec in (("exec", wall), ("controls", control_s), ("candidates", cand_s),
                          ("setup", max(0.0, wall - control_s - cand_s))):
            self.timings[part] = self.timings.get(part, 0.0) + sec
        for r in results:
            for part, sec in r.parts.items():
                self.timings[f"probe.{part}"] = self.timings.get(f"probe.{part}", 0.0) + sec
        if len(self.controls) > CONTROL_CACHE:
            self.controls.clear()
            self.control_s.clear()
        for p, r in zip(probes, results[:len(probes)], strict=True):
            key = p.id.removeprefix("control-")
            self.controls[key] = {t for t in p.tests if r.outcome(t) == "passed"}
            if r.ran and not r.timed_out:
                self.control_s[key] = r.seconds
        return [self._verdict(p, r) for p, r in zip(runs, results[len(probes):], strict=True)]

    def _probe(self, cand: Candidate, tests: list[str] | None = None) -> Probe:
        """The probe of a candidate; in a session its timeout is a few times what the control run
        of the same tests took (measured in an earlier batch, or in this one by the runner), plus a
        quarter second per test (failing tests format tracebacks; passing ones do not)."""
        tests = tests if tests is not None else self._tests(cand)
        key = _selection_key(tests)
        timeout = probe_timeout(self.baseline, tests, self.cap_s)
        if key in self.control_s and cand.swap:
            timeout = min(timeout, 4 * self.control_s[key] + 0.25 * len(tests) + 5)
        return Probe(tests, timeout, cand.setup_patch, cand.gold_patch, targets=cand.swap,
                     control=f"control-{key}", test_limit=min(timeout, test_limit(self.baseline, tests)))

    def _spread(self, probes: list[Probe]) -> list[ProbeResult]:
        """The probes over the runners side by side, dealt out by cost (tests to run), each runner's
        share in the batch's order (control runs first). A candidate whose control ran on another
        runner gets its timeout from the selection's estimate and each test its own limit."""
        runners = [self.runner, *self.workers]
        if len(runners) == 1:
            return self._run(self.runner, probes)
        controls = [i for i, p in enumerate(probes) if p.patch is None]
        rest = sorted((i for i, p in enumerate(probes) if p.patch is not None), key=lambda i: -len(probes[i].tests))
        order = [*controls, *rest]
        shares = deal([len(probes[i].tests) + 1 for i in order], len(runners))
        work = [(runners[w], [probes[i] for i in sorted(order[j] for j in share)]) for w, share in enumerate(shares)]
        with ThreadPoolExecutor(len(work), thread_name_prefix="forager-screen") as pool:
            done = list(pool.map(lambda pair: self._run(*pair), work))
        got = {r.id: r for results in done for r in results}
        return [got[p.id] for p in probes]

    def _run(self, runner: Runner, probes: list[Probe]) -> list[ProbeResult]:
        """In one forked session when the candidates allow it; the rest (changes outside function
        bodies, functions the session had not imported) in fresh pytest processes."""
        if not self.session or not runner.can_fork_sessions:
            return runner.run(probes)
        fast = [p for p in probes if p.targets or p.patch is None]
        got = {r.id: r for r in runner.session(fast)}
        slow = [p for p in probes if p.id not in got or not got[p.id].ran or got[p.id].ineligible]
        self.fallbacks += len([p for p in slow if p.patch is not None])
        got.update({r.id: r for r in runner.run(slow)})
        return [got[p.id] for p in probes]

    def _verdict(self, probe: Probe, res: ProbeResult) -> Judged | str:
        if not res.ran:
            return f"error: {res.error}"
        if not res.applied:
            return f"setup patch does not apply: {res.error}"
        if res.timed_out:
            return f"hangs the tests: timed out after {res.timeout or probe.timeout:.0f}s"
        if res.collection:
            return "the suite no longer collects"
        control = self.controls.get(_selection_key(probe.tests), set())
        missing = [t for t in probe.tests if t in control and res.outcome(t) == "missing"]
        if missing:  # a crash or an outside kill is not a failing test: never a FAIL_TO_PASS
            return f"incomplete results: {len(missing)} test(s) reported nothing"
        fail_to_pass = [t for t in probe.tests if t in control and res.outcome(t) in ("failed", "error")]
        if not fail_to_pass:
            return "no test fails"
        if not res.restored:
            return f"validation: the gold patch does not restore the image state {res.error}".strip()
        broken = set(fail_to_pass)
        pass_to_pass = [t for t in self.baseline.passed if t not in broken]
        messages = {t: res.results[t].message for t in fail_to_pass if t in res.results}
        return Judged(fail_to_pass, pass_to_pass, messages)
