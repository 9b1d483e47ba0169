"""Which functions to trace and with which tests: from the call map of the baseline run
(``forager.tasks.baseline``: which passing tests call which function), functions are picked
across the repository's files in turn, in an order fixed by the seed; each gets up to K of the
tests that call it. Bounded: N functions, K tests each (so at most N×K traces of targets)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from forager.tasks.baseline import Baseline, is_source_path
from forager.tasks.mutations import list_functions

REPO = "/repo"


@dataclass(frozen=True)
class Target:
    """One function to trace: where it is (``first``: its first line, decorators included, as
    ``co_firstlineno`` reports it; ``def_line``: the ``def``), and the tests that drive it."""

    id: str
    path: str
    qualname: str
    first: int
    def_line: int
    end: int
    tests: list[str] = field(default_factory=list)

    def spec(self) -> dict[str, object]:
        """The target as the in-container tracer reads it."""
        return {"id": self.id, "file": f"{REPO}/{self.path}", "name": self.qualname.rsplit(".", 1)[-1],
                "first": self.first, "def": self.def_line, "tests": list(self.tests)}


def candidates(sources: dict[str, str], callers: dict[tuple[str, int], list[str]]) -> list[Target]:
    """Every function of the project's own files that a passing test calls, with those tests."""
    out: list[Target] = []
    for path in sorted(sources):
        if not is_source_path(path):
            continue
        for fn in list_functions(sources[path]):
            tests = sorted(set(callers.get((path, fn.lineno), [])))
            if tests and fn.body_statements > 0:
                out.append(Target("", path, fn.qualname, fn.lineno, fn.def_lineno, fn.end_lineno, tests))
    return out


def pick(found: list[Target], functions: int, per_function: int, seed: int) -> list[Target]:
    """``functions`` targets spread across files (a file at a time, in a seeded order), each with
    at most ``per_function`` of its tests (a seeded sample); the same inputs give the same plan."""
    rng = random.Random(seed)
    by_file: dict[str, list[Target]] = defaultdict(list)
    for t in sorted(found, key=lambda t: (t.path, t.first, t.qualname)):
        by_file[t.path].append(t)
    files = sorted(by_file)
    rng.shuffle(files)
    for f in files:
        rng.shuffle(by_file[f])
    chosen: list[Target] = []
    while len(chosen) < functions and any(by_file[f] for f in files):
        for f in files:
            if by_file[f] and len(chosen) < functions:
                t = by_file[f].pop()
                tests = sorted(rng.sample(t.tests, min(per_function, len(t.tests))))
                chosen.append(Target(f"f{len(chosen)}", t.path, t.qualname, t.first, t.def_line, t.end, tests))
    return chosen


def plan(sources: dict[str, str], baseline: Baseline, functions: int, per_function: int,
         seed: int) -> list[Target]:
    """The targets of one collection run."""
    if functions < 1 or per_function < 1:
        raise ValueError("functions and per_function must be at least 1")
    return pick(candidates(sources, baseline.callers), functions, per_function, seed)


def planned_tests(targets: list[Target]) -> list[str]:
    """The tests a collection run must run: every target's, once each, sorted."""
    return sorted({t for target in targets for t in target.tests})
