"""Combined tasks: two to four validated single bugs in different functions joined into one task
and validated as one (every constituent bug must still break one of its own tests)."""

from __future__ import annotations

import random
import shlex
from dataclasses import dataclass, field

from forager.enums import TaskKind
from forager.tasks.candidates import Candidate
from forager.tasks.evaluate import Judged
from forager.tasks.screen import Screen
from forager.tasks.workspace import Workspace

MIN_PARTS, MAX_PARTS = 2, 4


def combined_candidate(parts: list[Candidate], setup: str, gold: str) -> Candidate:
    tests = sorted({t for p in parts for t in p.relevant_tests or []})
    depths = [p.depth for p in parts if p.depth is not None]
    swaps = [s for p in parts for s in p.swap or []]
    return Candidate(TaskKind.COMBINED, "combined: " + " + ".join(p.description for p in parts),
                     f"{len(parts)} bugs", None, "; ".join(f"{p.path}:{p.function}" for p in parts),
                     setup, gold, relevant_tests=tests, depth=min(depths) if depths else None,
                     parts=[p.description for p in parts],
                     swap=swaps if all(p.swap for p in parts) else None)


def merge_patches(ws: Workspace, patches: list[str]) -> tuple[str, str] | str:
    """(setup, gold) of the patches applied one after another in /repo (left clean again), or why
    they do not combine."""
    names = [f"/tmp/forager-part-{i}.patch" for i in range(len(patches))]
    ws.sandbox.put_files({n: p.encode() for n, p in zip(names, patches, strict=True)})
    # one line of context: bugs in neighbouring functions of one file, each diffed against the
    # image's file, still apply one after another (the result is re-diffed and judged as one)
    applies = " && ".join(f"git apply -C1 --whitespace=nowarn {shlex.quote(n)}" for n in names)
    res = ws.sh(f"({applies} && git diff > /tmp/forager-c.patch && git diff -R > /tmp/forager-g.patch); "
                "rc=$?; git checkout -q -f HEAD -- . ; exit $rc", 120)
    if not res.ok:
        return f"the bugs do not combine: {res.output.strip()[-300:]}"
    setup, gold = ws.sandbox.get_file("/tmp/forager-c.patch"), ws.sandbox.get_file("/tmp/forager-g.patch")
    if not setup or not gold:
        return "the bugs do not combine: empty diff"
    return setup.decode(), gold.decode()


@dataclass
class Combiner:
    """Collects validated single bugs (one per function) and joins them in groups of 2-4."""

    ws: Workspace
    seed: int
    pool: list[tuple[Candidate, Judged]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    rng: random.Random = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.size = self.rng.randint(MIN_PARTS, MAX_PARTS)

    def add(self, cand: Candidate, judged: Judged) -> None:
        key = f"{cand.path}:{cand.function}"
        if key not in self.used and all(f"{c.path}:{c.function}" != key for c, _ in self.pool):
            self.pool.append((cand, judged))

    def ready(self, screen: Screen) -> list[tuple[Candidate, Judged | str]]:
        """The next combined candidate and its verdict once enough single bugs are collected."""
        if len(self.pool) < self.size:
            return []
        group, self.pool = self.pool[:self.size], self.pool[self.size:]
        self.size = self.rng.randint(MIN_PARTS, MAX_PARTS)
        parts = [c for c, _ in group]
        merged = merge_patches(self.ws, [c.setup_patch for c in parts])
        if isinstance(merged, str):
            return [(combined_candidate(parts, "", ""), merged)]
        combo = combined_candidate(parts, *merged)
        verdict = screen.judge([combo])[0]
        if isinstance(verdict, Judged):
            broken = set(verdict.fail_to_pass)
            if not all(broken & set(j.fail_to_pass) for _, j in group):
                return [(combo, "a constituent bug no longer breaks any of its tests")]
            self.used.update(f"{c.path}:{c.function}" for c in parts)
        return [(combo, verdict)]
