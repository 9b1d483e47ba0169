"""Comparing a replay with the record: one observation and exit status, and the reward."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from forager.trajectory.replay.normalise import normalise
from forager.trajectory.schema import Reward


@dataclass
class Comparison:
    same: bool
    detail: str = ""
    """For a divergence: the first differing lines (recorded ``-`` / replayed ``+``), normalised."""


def compare_observation(recorded: str, replayed: str, recorded_exit: int | None = None,
                        replayed_exit: int | None = None, context: int = 1,
                        max_lines: int = 12) -> Comparison:
    """Compare one recorded observation and exit status with the replayed ones, after normalising.
    An unknown recorded exit status (``None``, as outside agents often leave it) is not compared."""
    problems: list[str] = []
    if recorded_exit is not None and replayed_exit != recorded_exit:
        problems.append(f"exit status {recorded_exit} recorded, {replayed_exit} replayed")
    a, b = normalise(recorded), normalise(replayed)
    if a != b:
        diff = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "recorded", "replayed",
                                         n=context, lineterm=""))
        shown = diff[2:2 + max_lines]
        more = len(diff) - 2 - len(shown)
        problems.append("\n".join(shown + ([f"[... {more} more diff lines]"] if more > 0 else [])))
    return Comparison(not problems, "\n".join(problems))


def compare_reward(recorded: Reward | None, replayed: Reward | None) -> Comparison:
    """Same resolved flag and the same outcome for every FAIL_TO_PASS and PASS_TO_PASS test."""
    if recorded is None:
        return Comparison(True, "no reward recorded: nothing to compare")
    if replayed is None:
        return Comparison(False, "the reward could not be re-run")
    problems = []
    if recorded.resolved != replayed.resolved:
        problems.append(f"resolved {recorded.resolved} recorded, {replayed.resolved} replayed")
    for group, rec, rep in (("FAIL_TO_PASS", recorded.fail_to_pass, replayed.fail_to_pass),
                            ("PASS_TO_PASS", recorded.pass_to_pass, replayed.pass_to_pass)):
        for test in sorted(set(rec) | set(rep)):
            if rec.get(test) != rep.get(test):
                problems.append(f"{group} {test}: {rec.get(test, 'missing')} recorded, "
                                f"{rep.get(test, 'missing')} replayed")
    return Comparison(not problems, "\n".join(problems[:20]))
