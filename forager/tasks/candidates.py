"""Candidate tasks, in the order they are tried: mutations of covered functions (families taken in
turn), covered functions to stub, and past commits that change code and tests (whose patches are
made in the workspace, ``prepare_history``)."""

from __future__ import annotations

import random
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from forager.enums import TaskKind
from forager.paths import is_test_like_path
from forager.tasks.baseline import SourceFunction
from forager.tasks.errors import TaskError
from forager.tasks.mutations import FAMILIES, mutate_source, stub_function, unified_patch
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


def _by_file(functions: list[SourceFunction]) -> dict[str, list[SourceFunction]]:
    by_file: dict[str, list[SourceFunction]] = {}
    for fn in functions:
        by_file.setdefault(fn.path, []).append(fn)
    return by_file


def _file_mutations(path: str, text: str, fns: list[SourceFunction]) -> Iterator[Candidate]:
    """Every mutation of the covered functions of one file (module-level ones judged by all the
    tests that call into the file)."""
    wanted = {f.qualname: f for f in fns}
    module_tests = sorted({t for f in fns for t in f.tests})
    for m in mutate_source(text, functions=set(wanted)):
        tests = wanted[m.function].tests if m.function in wanted else module_tests
        yield Candidate(TaskKind.MUTATE_FIX, f"{path}: {m.description}", m.family, path, m.function,
                        unified_patch(path, text, m.source), unified_patch(path, m.source, text),
                        relevant_tests=tests)


def mutation_candidates(sources: dict[str, str], functions: list[SourceFunction],
                        seed: int) -> Iterator[Candidate]:
    """Mutations of covered functions, families taken in turn, each family's queue shuffled."""
    rng = random.Random(seed)
    queues: dict[str, list[Candidate]] = {f: [] for f in FAMILIES}
    for path, fns in _by_file(functions).items():
        for cand in _file_mutations(path, sources[path], fns):
            queues[str(cand.family)].append(cand)
    for q in queues.values():
        rng.shuffle(q)
    while any(queues.values()):
        for fam in FAMILIES:
            if queues[fam]:
                yield queues[fam].pop()


def stub_candidates(sources: dict[str, str], functions: list[SourceFunction],
                    seed: int) -> Iterator[Candidate]:
    """Covered functions (constructors aside) in a seeded order, each with its body removed."""
    rng = random.Random(seed)
    fns = [f for f in functions if f.qualname.rsplit(".", 1)[-1] not in ("__init__", "__new__")]
    rng.shuffle(fns)
    for fn in fns:
        text = sources[fn.path]
        stubbed = stub_function(text, fn.qualname)
        if stubbed is None:
            continue
        yield Candidate(TaskKind.IMPLEMENT_FEATURE, f"{fn.path}: implement {fn.qualname}", None, fn.path,
                        fn.qualname,
                        unified_patch(fn.path, text, stubbed), unified_patch(fn.path, stubbed, text),
                        relevant_tests=fn.tests)


def _changed_files(ws: Workspace, parent: str | None, commit: str | None) -> tuple[list[str], list[str]]:
    """The files a commit changes: (tests, everything else)."""
    files = ws.sh(f"git diff --no-renames --name-only {parent} {commit}", 60).output.split()
    return [f for f in files if is_test_like_path(f)], [f for f in files if not is_test_like_path(f)]


def history_candidates(ws: Workspace, limit: int = 200) -> Iterator[Candidate]:
    """Commits of the history (newest first, merged branches included) that change both tests and
    Python code."""
    count = ws.sh("git rev-list --count HEAD", 60)
    if not count.ok or int((count.output.strip() or "0").splitlines()[-1]) < 2:
        raise TaskError(f"the repository in {ws.image} has no history (one commit or none); "
                        "from-history needs a git source with its history")
    log = ws.sh(f"git log --no-merges --format='%H %P%x09%s' -n {limit} HEAD", 120)
    for line in log.output.splitlines():
        head, _, subject = line.partition("\t")
        shas = head.split()
        if len(shas) < 2 or not re.fullmatch(r"[0-9a-f]{40}", shas[0]):
            continue
        commit, parent = shas[0], shas[1]
        tests, code = _changed_files(ws, parent, commit)
        if not tests or not any(f.endswith(".py") for f in code):
            continue
        yield Candidate(TaskKind.FROM_HISTORY, f"commit {commit[:10]}: {subject[:80]}", None, None, None,
                        commit=commit, parent=parent, subject=subject)


def prepare_history(ws: Workspace, cand: Candidate) -> str | None:
    """Fill in a history candidate's patches and leave /repo in its task state (the parent with
    the commit's tests applied); the reason it cannot be used, if any."""
    p, c = cand.parent, cand.commit
    test_files, code_files = _changed_files(ws, p, c)
    tests = " ".join(shlex.quote(f) for f in test_files)
    code = " ".join(shlex.quote(f) for f in code_files)
    cand.test_patch = ws.sh(f"git diff --binary --no-renames {p} {c} -- {tests}", 120).output
    cand.gold_patch = ws.sh(f"git diff --binary --no-renames {p} {c} -- {code}", 120).output
    res = ws.checkout(str(p))
    if not res.ok:
        return f"cannot check out the parent: {res.output[-300:]}"
    err = ws.apply(cand.test_patch, index=True)
    if err:
        return f"the commit's tests do not apply to its parent: {err}"
    diff = ws.sh(f"git diff --binary --no-renames {ws.head}", 300)
    if not diff.ok:
        return f"git diff failed: {diff.output[-300:]}"
    cand.setup_patch = diff.output
    py_bytes = ws.sh(f"git diff --no-renames {ws.head} -- '*.py' | wc -c", 300).output.strip()
    distance = int(py_bytes) if py_bytes.isdigit() else len(cand.setup_patch)
    if distance > MAX_CODE_DISTANCE or len(cand.setup_patch) > MAX_SETUP_PATCH:
        return (f"too far from the image's commit: {distance} bytes of Python diff, "
                f"setup patch of {len(cand.setup_patch)} bytes")
    return None
