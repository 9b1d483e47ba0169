"""Candidate tasks, in the order they are tried: mutations of covered functions (families taken in
turn), covered functions to stub, and past commits that change code and tests (whose patches are
made in the workspace, ``prepare_history``)."""

from __future__ import annotations

import heapq
import io
import random
import re
import shlex
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

from forager.enums import TaskKind
from forager.paths import is_test_like_path
from forager.tasks.baseline import SourceFunction
from forager.tasks.errors import TaskError
from forager.tasks.mutations import FAMILIES, Mutation, list_functions, unified_patch
from forager.tasks.mutations.families import Proposal
from forager.tasks.mutations.mutate import Proposed, plan_stub, propose
from forager.tasks.mutations.patch import common_ends
from forager.tasks.swap import swap_target
from forager.tasks.workspace import Workspace

MAX_CODE_DISTANCE = 300_000
"""Largest diff of Python files between the image's commit and a from-history task state."""
MAX_SETUP_PATCH = 5_000_000
"""Largest setup patch of a from-history task (bytes)."""


@dataclass
class Candidate:
    kind: TaskKind
    description: str
    family: str | None = None
    path: str | None = None
    function: str | None = None
    setup_patch: str = ""
    gold_patch: str = ""
    test_patch: str = ""
    relevant_tests: list[str] | None = None
    """Tests to run first (None: the whole baseline)."""
    commit: str | None = None
    parent: str | None = None
    subject: str = ""
    depth: int | None = None
    """Call depth of the changed function from the tests (None: unknown)."""
    parts: list[str] | None = None
    """A combined task's constituent bugs (their descriptions)."""
    files: tuple[list[str], list[str]] | None = None
    """A past commit's changed files: (tests, everything else); None: not listed yet."""
    swap: list[tuple[str, str]] | None = None
    """(path, function) whose code object the session runner replaces to run the candidate; None:
    the change reaches outside function bodies, run it in a fresh pytest process."""


def swap_targets(path: str, target: str, qualname: str) -> list[tuple[str, str]]:
    """The outermost function, and for a nested one also the nested function itself (closures
    made before the swap, e.g. methods a factory made at import, get the new code too)."""
    return [(path, target)] + ([(path, qualname)] if qualname != target else [])


def _swap(path: str, before: str, after: str, fn: SourceFunction) -> list[tuple[str, str]] | None:
    """Where a session can swap the change in; None for a function called while the tests were
    imported (objects built then keep the old behaviour: only a fresh process shows the change)."""
    target = None if fn.import_time else swap_target(before, after, fn.qualname)
    return swap_targets(path, target, fn.qualname) if target else None


def _by_file(functions: list[SourceFunction]) -> dict[str, list[SourceFunction]]:
    by_file: dict[str, list[SourceFunction]] = {}
    for fn in functions:
        by_file.setdefault(fn.path, []).append(fn)
    return by_file


def rank_functions(functions: list[SourceFunction], durations: dict[str, float]) -> list[SourceFunction]:
    """Functions most likely to give a task cheaply first: called by more tests (up to ten: a bug
    there is caught), then the cheaper the tests that call them; functions called while the tests
    are imported (judged by the whole suite) last."""
    def score(fn: SourceFunction) -> tuple[bool, int, float, str, str]:
        cost = sum(durations.get(t, 0.05) for t in fn.tests)
        return (fn.import_time, -min(len(fn.tests), 10), cost, fn.path, fn.qualname)
    return sorted(functions, key=score)


def _changed_span(before: str, after: str) -> tuple[int, int]:
    """First and last line (1-based, of ``before``) that differ."""
    a = before.splitlines()
    head, tail = common_ends(a, after.splitlines())
    return head + 1, len(a) - tail


@dataclass
class _Slot:
    """One function's (or one file's module-level) mutations, taken lazily."""

    path: str
    fn: SourceFunction | None
    tests: list[str]
    queue: list[Proposal] | None = None
    proposed: Proposed | None = None
    body: tuple[int, int] | None = None
    """Lines of the function's body (its swap target's), where a change can be swapped in."""

    def fill(self, text: str, rng: random.Random, offset: int) -> None:
        qual = self.fn.qualname if self.fn else "<module>"
        self.proposed = propose(text, qual)
        props = self.proposed.proposals if self.proposed else []
        self.queue = _interleave(props, rng, offset)
        if self.fn is not None:
            self.body = _body_lines(text, qual.split(".<locals>.", 1)[0])

    def next(self) -> Candidate | None:
        while self.queue and self.proposed is not None:
            m = self.proposed.take(self.queue.pop(0))
            if m is not None:
                return self._candidate(m)
        return None

    def _candidate(self, m: Mutation) -> Candidate:
        text, path = self.proposed.source if self.proposed else "", self.path
        first, last = _changed_span(text, m.source)
        swap = None
        if self.body and self.body[0] <= first and last <= self.body[1] and not self.fn.import_time:  # type: ignore[union-attr]
            swap = swap_targets(path, m.function.split(".<locals>.", 1)[0], m.function)
        return Candidate(TaskKind.MUTATE_FIX, f"{path}: {m.description}", m.family, path, m.function,
                         unified_patch(path, text, m.source), unified_patch(path, m.source, text),
                         relevant_tests=self.tests, depth=self.fn.depth if self.fn else None, swap=swap)


def _body_lines(text: str, qualname: str) -> tuple[int, int] | None:
    """First and last line of a function's body (its docstring included)."""
    info = next((f for f in list_functions(text) if f.qualname == qualname), None)
    return (info.body_lineno, info.end_lineno) if info else None


def _interleave(props: list[Proposal], rng: random.Random, offset: int) -> list[Proposal]:
    """One function's proposals, shuffled, the families taken in turn (starting at ``offset``)."""
    queues: dict[str, list[Proposal]] = {}
    for p in props:
        queues.setdefault(p[0], []).append(p)
    for q in queues.values():
        rng.shuffle(q)
    order = FAMILIES[offset % len(FAMILIES):] + FAMILIES[:offset % len(FAMILIES)]
    out: list[Proposal] = []
    while any(queues.values()):
        for fam in order:
            if queues.get(fam):
                out.append(queues[fam].pop())
    return out


PROBE_OVERHEAD_S = 0.3
"""Seconds a candidate costs beyond its tests' own durations (fork, patches, checks)."""


def _slot_cost(slot: _Slot, durations: dict[str, float]) -> float:
    cost = sum(durations.get(t, 0.05) for t in slot.tests) + PROBE_OVERHEAD_S
    return cost * (3 if slot.fn is None else 1)


def mutation_candidates(sources: dict[str, str], functions: list[SourceFunction],
                        seed: int, durations: dict[str, float] | None = None) -> Iterator[Candidate]:
    """Mutations of covered functions, cheapest expected task first: the k-th mutation of a
    function comes at priority k x (its tests' durations + a probe's overhead), ties broken by
    the coverage rank (``rank_functions``); at most 2 + 2 x (tests, up to 10) per function (more
    would break the same tests the same way: behavioural duplicates). Each file's module-level
    mutations cost three times as much. A function is mutated only when its turn first comes."""
    rng, durations = random.Random(seed), durations or {}
    slots = [_Slot(f.path, f, f.tests) for f in rank_functions(functions, durations)]
    everything = sorted({t for f in functions for t in f.tests})  # a module-level change reaches any importer
    slots += [_Slot(path, None, everything) for path in _by_file(functions)]
    costs = [_slot_cost(slot, durations) for slot in slots]
    heap = [(cost, i, 0) for i, cost in enumerate(costs)]
    heapq.heapify(heap)
    while heap:
        _, i, taken = heapq.heappop(heap)
        slot = slots[i]
        if slot.queue is None:
            slot.fill(sources[slot.path], rng, i)
        cand = slot.next()
        if cand is None or taken + 1 >= 2 + 2 * min(len(slot.tests), 10):
            slot.queue, slot.proposed = [], None  # used up: its copy of the file goes
        else:
            heapq.heappush(heap, ((taken + 2) * costs[i], i, taken + 1))
        if cand is not None:
            yield cand


def session_first(cands: Iterator[Candidate], group: int) -> Iterator[Candidate]:
    """``cands`` with the ones a session cannot run (``swap`` None: a fresh pytest process each, in
    an exec of their own) held back and let out ``group`` at a time, so such an exec carries a
    whole batch instead of the two or three a mixed batch would give it (at most ``group`` held)."""
    held: list[Candidate] = []
    for cand in cands:
        if cand.swap is not None:
            yield cand
            continue
        held.append(cand)
        if len(held) >= group:
            yield from held
            held = []
    yield from held


def stub_candidates(sources: dict[str, str], functions: list[SourceFunction],
                    seed: int, durations: dict[str, float] | None = None) -> Iterator[Candidate]:
    """Covered functions (constructors aside) ranked by coverage, each with its body removed."""
    fns = [f for f in functions if f.qualname.rsplit(".", 1)[-1] not in ("__init__", "__new__")]
    random.Random(seed).shuffle(fns)
    slow: list[Candidate] = []
    for fn in rank_functions(fns, durations or {}):
        text = sources[fn.path]
        stub = plan_stub(text, fn.qualname)
        if stub is None:
            continue
        swap = None if fn.import_time or not stub.swappable else swap_targets(fn.path, stub.outer, fn.qualname)
        cand = Candidate(TaskKind.IMPLEMENT_FEATURE, f"{fn.path}: implement {fn.qualname}", None, fn.path,
                         fn.qualname,
                         unified_patch(fn.path, text, stub.source), unified_patch(fn.path, stub.source, text),
                         relevant_tests=fn.tests, depth=fn.depth, swap=swap)
        if cand.swap or fn.import_time:
            yield cand
        else:  # a stub the session cannot swap in (a method's ``super()`` goes): fresh processes, later
            slow.append(cand)
    yield from slow


def _split_files(files: list[str]) -> tuple[list[str], list[str]]:
    """A commit's changed files as (tests, everything else)."""
    return [f for f in files if is_test_like_path(f)], [f for f in files if not is_test_like_path(f)]


def _changed_files(ws: Workspace, parent: str | None, commit: str | None) -> tuple[list[str], list[str]]:
    """The files a commit changes: (tests, everything else)."""
    return _split_files(ws.sh(f"git diff --no-renames --name-only {parent} {commit}", 60).output.split())


def history_candidates(ws: Workspace, limit: int = 200) -> Iterator[Candidate]:
    """Commits of the history (newest first, merged branches included) that change both tests and
    Python code (one ``git log`` lists them with their changed files)."""
    count = ws.sh("git rev-list --count HEAD", 60)
    if not count.ok or int((count.output.strip() or "0").splitlines()[-1]) < 2:
        raise TaskError(f"the repository in {ws.image} has no history (one commit or none); "
                        "from-history needs a git source with its history")
    log = ws.sh(f"git log --no-merges --no-renames --name-only --format='%x01%H %P%x09%s' -n {limit} HEAD", 120)
    for block in log.output.split("\x01")[1:]:
        header, _, names = block.partition("\n")
        head, _, subject = header.partition("\t")
        shas = head.split()
        if len(shas) < 2 or not re.fullmatch(r"[0-9a-f]{40}", shas[0]):
            continue
        commit, parent = shas[0], shas[1]
        tests, code = _split_files(names.split())
        if not tests or not any(f.endswith(".py") for f in code):
            continue
        yield Candidate(TaskKind.FROM_HISTORY, f"commit {commit[:10]}: {subject[:80]}", None, None, None,
                        commit=commit, parent=parent, subject=subject, files=(tests, code))


HISTORY_DIR = "/tmp/forager-history"
_HISTORY_FAILED = {11: "git diff failed", 12: "cannot check out the parent",
                   13: "the commit's tests do not apply to its parent", 14: "git diff failed"}


def prepare_history(ws: Workspace, cand: Candidate) -> str | None:
    """Fill in a history candidate's patches and leave /repo in its task state (the parent with
    the commit's tests applied, in the index); the reason it cannot be used, if any. One exec makes
    the patches and the state, one copy brings the patches back."""
    p, c, d = cand.parent, cand.commit, HISTORY_DIR
    test_files, code_files = cand.files or _changed_files(ws, p, c)
    tests = " ".join(shlex.quote(f) for f in test_files)
    code = " ".join(shlex.quote(f) for f in code_files)
    res = ws.sh(f"rm -rf {d} {d}.tar && mkdir -p {d} && "
                f"git diff --binary --no-renames {p} {c} -- {tests} > {d}/test.patch && "
                f"git diff --binary --no-renames {p} {c} -- {code} > {d}/gold.patch || exit 11; "
                f"git checkout -q -f --detach {p} && git clean -fdq || exit 12; "
                f"if [ -s {d}/test.patch ]; then git apply --index --whitespace=nowarn {d}/test.patch || exit 13; fi; "
                f"git diff --binary --no-renames {ws.head} > {d}/setup.patch && "
                f"git diff --no-renames {ws.head} -- '*.py' | wc -c > {d}/distance || exit 14; "
                f"tar -cf {d}.tar -C {d} .", 300)
    if not res.ok:
        return f"{_HISTORY_FAILED.get(res.exit_code, 'preparing the task state failed')}: {res.output[-300:]}"
    raw = ws.sandbox.get_file(f"{d}.tar")
    parts: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(raw or b"")) as tar:
        for member in tar.getmembers():
            f = tar.extractfile(member) if member.isfile() else None
            if f is not None:
                parts[member.name.removeprefix("./")] = f.read().decode("utf-8", errors="replace")
    if not {"test.patch", "gold.patch", "setup.patch", "distance"} <= set(parts):
        return "preparing the task state failed: its patches did not come back"
    cand.test_patch, cand.gold_patch, cand.setup_patch = parts["test.patch"], parts["gold.patch"], parts["setup.patch"]
    py_bytes = parts["distance"].strip()
    distance = int(py_bytes) if py_bytes.isdigit() else len(cand.setup_patch)
    if distance > MAX_CODE_DISTANCE or len(cand.setup_patch) > MAX_SETUP_PATCH:
        return (f"too far from the image's commit: {distance} bytes of Python diff, "
                f"setup patch of {len(cand.setup_patch)} bytes")
    return None
