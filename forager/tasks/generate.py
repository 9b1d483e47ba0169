"""Tasks: broken states of a validated image that an agent must repair, with the tests that judge it.

Three kinds:
  mutate-fix         one AST mutation (``forager.mutations``) in a function the passing tests call
  implement-feature  a tested function's body replaced by ``raise NotImplementedError``
  from-history       a past commit's parent with the commit's tests applied, its code withheld

One container per image serves a whole batch of candidates (reset with git between them). A
candidate is kept when previously passing tests now fail, the suite still collects, and it is not a
duplicate; it is then validated (gold patch applied: FAIL_TO_PASS all pass, PASS_TO_PASS still pass)
and stored as a ``db.Task``. Discarded candidates come back with their reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shlex
import tarfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from forager.build.testrun import TestRun, run_tests
from forager.config import get_settings
from forager.errors import EngineError, ForagerError
from forager.runtime import Limits, Sandbox, get_runtime
from forager.store import db
from forager.tasks.mutations import FAMILIES, list_functions, mutate_source, stub_function, unified_patch

KINDS = ("mutate-fix", "implement-feature", "from-history")
REPO = "/repo"
TRACE_PLUGIN = "forager_trace"
TRACE_PATH = "/tmp/forager-trace.json"
TRACE_SOURCE = '''\
"""Forager's call collector: which tests call which functions under /repo (sys.settrace, calls only)."""
import json
import sys
import threading

import pytest

_calls = {}
_current = [None]
_root = "/repo/"


def _tracer(frame, event, arg):
    if event == "call" and _current[0] is not None:
        code = frame.f_code
        if code.co_filename.startswith(_root):
            key = code.co_filename[len(_root):] + ":" + str(code.co_firstlineno)
            _calls.setdefault(key, set()).add(_current[0])
    return None


def pytest_addoption(parser):
    parser.addoption("--forager-trace", default=None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    sys.settrace(_tracer)
    threading.settrace(_tracer)
    try:
        yield
    finally:
        sys.settrace(None)
        threading.settrace(None)
        _current[0] = None


def pytest_sessionfinish(session):
    path = session.config.getoption("--forager-trace")
    if path:
        with open(path, "w") as fh:
            json.dump({k: sorted(v) for k, v in _calls.items()}, fh)
'''
TEST_DIRS = {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "benchmark"}
MAX_CODE_DISTANCE = 300_000
"""Largest diff of Python files between the image's commit and a from-history task state."""
MAX_SETUP_PATCH = 5_000_000
Progress = Callable[[str], None]


class TaskError(ForagerError):
    """A request that cannot produce tasks at all (unknown image, no history, ...)."""


def is_test_path(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (any(p in TEST_DIRS for p in parts[:-1]) or name.startswith("test_") or name.endswith("_test.py")
            or name == "conftest.py")


def is_source_path(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (path.endswith(".py") and not is_test_path(path)
            and name not in ("setup.py", "noxfile.py", "fabfile.py", "tasks.py", "conftest.py"))


def fingerprint(patch: str) -> str:
    """Hash of a patch's substance: per file, the removed and added lines, whitespace-normalised,
    with lines removed and added again (a diff tool's choice, not a change) cancelled out."""
    files: dict[str, tuple[Counter[str], Counter[str]]] = {}
    current = ""
    for line in patch.splitlines():
        if line.startswith("diff --git"):
            current = line
        elif line[:1] in ("+", "-") and not line.startswith(("+++", "---")):
            removed, added = files.setdefault(current, (Counter(), Counter()))
            (removed if line[0] == "-" else added)[" ".join(line[1:].split())] += 1
    keep = []
    for name in sorted(files):
        removed, added = files[name]
        keep.append(name)
        keep += sorted(f"-{k}" for k in (removed - added).elements())
        keep += sorted(f"+{k}" for k in (added - removed).elements())
    return hashlib.sha256("\n".join(keep).encode()).hexdigest()


def changed_lines(patch: str) -> list[str]:
    return [line[1:].strip() for line in patch.splitlines()
            if line[:1] in ("+", "-") and not line.startswith(("+++", "---")) and line[1:].strip()]


# ------------------------------------------------------------------------------------- results
@dataclass
class Candidate:
    kind: str
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

    @property
    def kept_share(self) -> float:
        return len(self.tasks) / self.candidates if self.candidates else 0.0

    def summary(self) -> dict[str, Any]:
        reasons = Counter(d.reason.split(":")[0] for d in self.discarded)
        fams = Counter(t.get("family") or "-" for t in self.tasks)
        return {
            "image": self.image, "kind": self.kind, "validated": len(self.tasks),
            "candidates": self.candidates, "kept_share": round(self.kept_share, 3),
            "duration_s": round(self.duration_s, 1),
            "s_per_task": round(self.duration_s / len(self.tasks), 1) if self.tasks else None,
            "families": dict(fams), "discard_reasons": dict(reasons), "error": self.error,
        }


def task_line(task: db.Task) -> dict[str, Any]:
    """The ``--json`` line for one validated task."""
    return {"id": task.id, "image": task.image_id, "kind": task.kind,
            "fail_to_pass": list(task.fail_to_pass), "pass_to_pass_count": len(task.pass_to_pass),
            "problem_statement": task.problem_statement}


# ------------------------------------------------------------------------------------- container
class Workspace:
    """One container of an image; /repo is reset between candidates."""

    def __init__(self, image: str, test_command: str, progress: Progress,
                 env: dict[str, str] | None = None) -> None:
        self.image = image
        self.test_command = test_command
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.progress = progress
        self.box: Sandbox | None = None
        self.head = ""
        self.suspect = False
        """A command timed out: the container may have been killed."""
        self.start()

    def start(self) -> None:
        if self.box is not None:
            self.box.remove()
        self.box = get_runtime().start(
            self.image, name=f"forager-tasks-{uuid.uuid4().hex[:10]}",
            limits=Limits.from_settings(network=False), env={"PYTHONDONTWRITEBYTECODE": "1"},
            labels={"forager.role": "tasks"})
        res = self.sh("git rev-parse HEAD", 60)
        if not res.ok:
            raise TaskError(f"/repo in {self.image} is not a git repository: {res.output[-300:]}")
        self.head = res.output.strip().splitlines()[-1]
        # Pin pytest's rootdir to the one a plain run finds: an existing path among the options
        # (the select file in /tmp) would otherwise widen it to "/" and change every test id.
        probe = self.sh(f"{self.test_command} --collect-only 2>&1 | grep -m1 '^rootdir: '", 600)
        rootdir = probe.output.strip().removeprefix("rootdir: ").split(",")[0].strip() if probe.ok else ""
        if rootdir.startswith("/") and "--rootdir" not in self.test_command:
            self.test_command = f"{self.test_command} --rootdir={shlex.quote(rootdir)}"
        # files the build left untracked (egg-info, generated modules) survive every reset
        self.sh("git ls-files -z --others --exclude-standard | tr '\\0' '\\n' | sed 's|^|/|' "
                ">> .git/info/exclude", 60)

    def sh(self, command: str, timeout: float = 120):  # type: ignore[no-untyped-def]
        assert self.box is not None
        return self.box.exec(command, timeout, workdir=REPO, env=self.env or None)

    def alive(self) -> bool:
        return self.sh("true", 30).ok

    def reset(self) -> None:
        """Back to the image state; a container that stopped (a command outlived its timeout and
        the backstop killed it, or the engine lost it) is replaced instead of failing every
        candidate after it."""
        if self.suspect and not self.alive():
            self.progress("container stopped (a command outlived its timeout); starting a new one")
            self.start()
        res = self.sh(f"git checkout -q -f --detach {self.head} && git clean -fdq", 120)
        if not res.ok and not self.alive():
            self.progress("container stopped; starting a new one")
            self.start()
            res = self.sh(f"git checkout -q -f --detach {self.head} && git clean -fdq", 120)
        self.suspect = False
        if not res.ok:
            raise EngineError(f"could not reset /repo: {res.output[-500:]}")

    def apply(self, patch: str, index: bool = False) -> str | None:
        """Apply a patch in /repo; the error text when it does not apply."""
        if not patch:
            return None
        assert self.box is not None
        self.box.put_files({"/tmp/forager-task.patch": patch.encode()})
        flag = "--index " if index else ""
        res = self.sh(f"git apply {flag}--whitespace=nowarn /tmp/forager-task.patch", 120)
        return None if res.ok else (res.output.strip()[-500:] or f"git apply exited {res.exit_code}")

    def run(self, test_ids: list[str] | None, timeout: float, extra: str = "") -> TestRun:
        assert self.box is not None
        command = f"{self.test_command} {extra}".strip()
        run = run_tests(self.box, command, timeout=timeout, test_ids=test_ids, workdir=REPO,
                         env=self.env or None)
        self.suspect = self.suspect or run.exec.timed_out or run.exec.exit_code == -1
        return run

    def read_files(self, paths: list[str]) -> dict[str, str]:
        """Text of files under /repo (undecodable ones left out)."""
        if not paths:
            return {}
        assert self.box is not None
        self.box.put_files({"/tmp/forager-files.txt": "\n".join(paths).encode()})
        res = self.sh("tar -cf /tmp/forager-files.tar -T /tmp/forager-files.txt", 300)
        raw = self.box.get_file("/tmp/forager-files.tar") if res.ok else None
        out: dict[str, str] = {}
        if not raw:
            return out
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar.getmembers():
                f = tar.extractfile(member) if member.isfile() else None
                if f is None:
                    continue
                try:
                    out[member.name] = f.read().decode("utf-8")
                except UnicodeDecodeError:
                    continue
        return out

    def remove(self) -> None:
        if self.box is not None:
            self.box.remove()
            self.box = None


# ------------------------------------------------------------------------------------- baseline
@dataclass
class Baseline:
    passed: list[str]
    durations: dict[str, float]
    callers: dict[tuple[str, int], list[str]]
    """(path, first line of a function) -> tests that call it."""
    run_s: float


def load_image(image: str) -> tuple[db.Image, list[str], dict[str, float]]:
    with db.session() as s:
        img = s.get(db.Image, image)
        if img is None:
            matches = s.scalars(select(db.Image).where(db.Image.id.startswith(image))).all()
            img = matches[0] if len(matches) == 1 else None
        if img is None:
            raise TaskError(f"no image {image!r} in the registry (see `forager images list`)")
        if img.status != "validated":
            raise TaskError(f"image {img.id} is {img.status}, not validated; tasks need a validated image")
        rows = s.scalars(select(db.TestResult).where(db.TestResult.build_id == img.build_id)).all()
        passed = sorted({r.test_id for r in rows if r.outcome == "passed" and not r.flaky})
        durations = {r.test_id: r.duration_s for r in rows}
        s.expunge(img)
    if not passed:
        raise TaskError(f"image {img.id} has no passing tests recorded; nothing can judge a task")
    if not get_runtime().image_exists(img.id):
        raise TaskError(f"image {img.id} is in the registry but not in the Docker engine")
    return img, passed, durations


def collect_baseline(ws: Workspace, passed: list[str], durations: dict[str, float]) -> Baseline:
    """Run the passing tests once with the call collector: who calls what, and do they still pass."""
    res = ws.sh("python -c \"import sysconfig; print(sysconfig.get_paths()['purelib'])\"", 60)
    traced = False
    if res.ok and ws.box is not None:
        purelib = res.output.strip().splitlines()[-1]
        ws.box.put_files({f"{purelib}/{TRACE_PLUGIN}.py": TRACE_SOURCE.encode()})
        traced = True
    timeout = get_settings().test_timeout_s
    extra = f"-p {TRACE_PLUGIN} --forager-trace={TRACE_PATH}" if traced else ""
    start = time.monotonic()
    run = ws.run(passed, timeout, extra)
    if traced and not run.results:  # the collector itself got in the way: run plainly
        run = ws.run(passed, timeout)
        traced = False
    run_s = time.monotonic() - start
    still = [t for t in passed if run.outcome(t) == "passed"]
    if not still:
        raise TaskError(f"the baseline tests do not pass in a fresh container of {ws.image}: "
                        f"{run.exec.output[-500:]}")
    callers: dict[tuple[str, int], list[str]] = {}
    raw = ws.box.get_file(TRACE_PATH) if traced and ws.box is not None else None
    if raw:
        try:
            for key, tests in json.loads(raw).items():
                path, _, line = key.rpartition(":")
                callers[(path, int(line))] = [t for t in tests if t in set(still)]
        except (ValueError, AttributeError):
            callers = {}
    return Baseline(still, durations, callers, run_s)


def _timeout(baseline: Baseline, tests: list[str] | None) -> float:
    cap = get_settings().test_timeout_s
    if tests is None:
        return min(cap, max(60.0, 3 * baseline.run_s + 20))
    est = sum(baseline.durations.get(t, 0.5) for t in tests)
    return min(cap, max(30.0, 3 * est + 20, baseline.run_s + 20))


# ------------------------------------------------------------------------------------- candidates
@dataclass
class SourceFunction:
    path: str
    qualname: str
    lineno: int
    tests: list[str]
    statements: int


def covered_functions(ws: Workspace, baseline: Baseline) -> tuple[dict[str, str], list[SourceFunction]]:
    """Source files and the functions the passing tests exercise (name matching as a fallback)."""
    res = ws.sh("git ls-files -z -- '*.py'", 60)
    paths = [p for p in res.output.split("\0") if p and is_source_path(p)] if res.ok else []
    if baseline.callers:
        traced_paths = {p for p, _ in baseline.callers}
        paths = [p for p in paths if p in traced_paths]
    sources = ws.read_files(paths)
    out: list[SourceFunction] = []
    lowered = [(t, t.lower()) for t in baseline.passed]
    for path, text in sources.items():
        for fn in list_functions(text):
            if baseline.callers:
                tests = baseline.callers.get((path, fn.lineno), [])
            else:
                name = fn.qualname.rsplit(".", 1)[-1].lower().strip("_")
                tests = [t for t, low in lowered if name and len(name) > 2 and name in low]
            if tests and fn.body_statements > 0:
                out.append(SourceFunction(path, fn.qualname, fn.lineno, tests, fn.body_statements))
    return sources, out


def mutation_candidates(sources: dict[str, str], functions: list[SourceFunction],
                        seed: int) -> Iterator[Candidate]:
    """Mutations of covered functions, families taken in turn, each family's queue shuffled."""
    rng = random.Random(seed)
    queues: dict[str, list[Candidate]] = {f: [] for f in FAMILIES}
    by_file: dict[str, list[SourceFunction]] = {}
    for fn in functions:
        by_file.setdefault(fn.path, []).append(fn)
    for path, fns in by_file.items():
        text = sources[path]
        wanted = {f.qualname: f for f in fns}
        module_tests = sorted({t for f in fns for t in f.tests})
        for m in mutate_source(text, functions=set(wanted)):
            tests = wanted[m.function].tests if m.function in wanted else module_tests
            queues[m.family].append(Candidate(
                "mutate-fix", f"{path}: {m.description}", m.family, path, m.function,
                unified_patch(path, text, m.source), unified_patch(path, m.source, text),
                relevant_tests=tests))
    for q in queues.values():
        rng.shuffle(q)
    while any(queues.values()):
        for fam in FAMILIES:
            if queues[fam]:
                yield queues[fam].pop()


def stub_candidates(sources: dict[str, str], functions: list[SourceFunction],
                    seed: int) -> Iterator[Candidate]:
    rng = random.Random(seed)
    fns = [f for f in functions if f.qualname.rsplit(".", 1)[-1] not in ("__init__", "__new__")]
    rng.shuffle(fns)
    for fn in fns:
        text = sources[fn.path]
        stubbed = stub_function(text, fn.qualname)
        if stubbed is None:
            continue
        yield Candidate("implement-feature", f"{fn.path}: implement {fn.qualname}", None, fn.path,
                        fn.qualname,
                        unified_patch(fn.path, text, stubbed), unified_patch(fn.path, stubbed, text),
                        relevant_tests=fn.tests)


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
        files = ws.sh(f"git diff --no-renames --name-only {parent} {commit}", 60).output.split()
        tests = [f for f in files if is_test_path(f)]
        code = [f for f in files if not is_test_path(f)]
        if not tests or not any(f.endswith(".py") for f in code):
            continue
        yield Candidate("from-history", f"commit {commit[:10]}: {subject[:80]}", None, None, None,
                        commit=commit, parent=parent, subject=subject)


def prepare_history(ws: Workspace, cand: Candidate) -> str | None:
    """Fill in a history candidate's patches; the reason it cannot be used, if any."""
    p, c = cand.parent, cand.commit
    files = ws.sh(f"git diff --no-renames --name-only {p} {c}", 60).output.split()
    tests = " ".join(shlex.quote(f) for f in files if is_test_path(f))
    code = " ".join(shlex.quote(f) for f in files if not is_test_path(f))
    cand.test_patch = ws.sh(f"git diff --binary --no-renames {p} {c} -- {tests}", 120).output
    cand.gold_patch = ws.sh(f"git diff --binary --no-renames {p} {c} -- {code}", 120).output
    res = ws.sh(f"git checkout -q -f --detach {p} && git clean -fdq", 120)
    if not res.ok:
        return f"cannot check out the parent: {res.output[-300:]}"
    err = ws.apply(cand.test_patch, index=True)
    if err:
        return f"the commit's tests do not apply to its parent: {err}"
    diff = ws.sh(f"git diff --binary --no-renames {ws.head}", 300)
    if not diff.ok:
        return f"git diff failed: {diff.output[-300:]}"
    cand.setup_patch = diff.output
    code = ws.sh(f"git diff --no-renames {ws.head} -- '*.py' | wc -c", 300).output.strip()
    distance = int(code) if code.isdigit() else len(cand.setup_patch)
    if distance > MAX_CODE_DISTANCE or len(cand.setup_patch) > MAX_SETUP_PATCH:
        return (f"too far from the image's commit: {distance} bytes of Python diff, "
                f"setup patch of {len(cand.setup_patch)} bytes")
    return None


# ------------------------------------------------------------------------------------- statements
def _error_lines(message: str, leaks: list[str], limit: int = 3) -> list[str]:
    lines = [ln[1:].strip() for ln in message.splitlines() if ln.startswith("E ")]
    if not lines:
        lines = [ln.strip() for ln in message.splitlines() if ln.strip()][-1:]
    safe = [ln for ln in lines if ln and not any(leak in ln for leak in leaks)]
    return [ln[:300] for ln in safe[:limit]]


def template_statement(cand: Candidate, fail_to_pass: list[str], messages: dict[str, str]) -> str:
    leaks = [ln for ln in changed_lines(cand.setup_patch) + changed_lines(cand.gold_patch) if len(ln) >= 6]
    n = len(fail_to_pass)
    if cand.kind == "implement-feature":
        head = (f"The function `{cand.function}` in `{cand.path}` is not implemented yet: it raises "
                "NotImplementedError. Implement it so that it behaves as the tests below expect.")
    elif cand.kind == "from-history":
        head = ("The test suite has been updated for a change that the code does not have yet"
                + (f" ({cand.subject.strip()})" if cand.subject.strip() else "")
                + f". {n} test{'s' if n != 1 else ''} fail.")
    else:
        head = (f"Something in this repository is broken: {n} test{'s' if n != 1 else ''} that used to pass "
                f"now fail{'s' if n == 1 else ''}.")
    parts = [head, "", "Failing tests:"]
    for i, test in enumerate(fail_to_pass[:20]):
        parts.append(f"- {test}")
        if i < 5:
            parts += [f"    {ln}" for ln in _error_lines(messages.get(test, ""), leaks)]
    if n > 20:
        parts.append(f"- ... and {n - 20} more")
    parts += ["", "Change the source code, not the tests, so that these tests pass and the other tests "
              "keep passing."]
    return "\n".join(parts)


def model_statement(cand: Candidate, fail_to_pass: list[str], template: str) -> str | None:
    """An issue-style statement written by the configured model; None when there is none or it leaks."""
    s = get_settings()
    if not s.model_url:
        return None
    import httpx

    prompt = (
        "Write a short GitHub issue (3-8 sentences) reporting the bug described below, as a user who "
        "noticed the symptoms would. Describe the wrong behaviour and the expected one. Do NOT mention "
        "the fix, the diff, file line numbers, or which code was changed.\n\n"
        f"{template}\n\nFor your eyes only (never quote it), the change that caused it:\n"
        f"{cand.setup_patch[:4000]}")
    headers = {"Authorization": f"Bearer {s.model_api_key}"} if s.model_api_key else {}
    try:
        resp = httpx.post(f"{s.model_url.rstrip('/')}/chat/completions", headers=headers, timeout=120,
                          json={"model": s.model_name or "default", "temperature": 0.2,
                                "messages": [{"role": "user", "content": prompt}]})
        resp.raise_for_status()
        text = str(resp.json()["choices"][0]["message"]["content"] or "").strip()
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
        return None
    leaks = [ln for ln in changed_lines(cand.setup_patch) + changed_lines(cand.gold_patch) if len(ln) >= 8]
    if not text or any(leak in text for leak in leaks) or "diff --git" in text:
        return None
    return text


# ------------------------------------------------------------------------------------- pipeline
def _failed(run: TestRun, tests: list[str]) -> list[str]:
    return [t for t in tests if run.outcome(t) != "passed"]


def _timed_out(run: TestRun) -> bool:
    return run.exec.timed_out


def evaluate(ws: Workspace, cand: Candidate, baseline: Baseline,
             seen: set[str]) -> tuple[dict[str, Any] | None, str]:
    """Run one candidate; the task fields when it validates, else the reason to discard it."""
    ws.reset()
    if cand.kind == "from-history":
        reason = prepare_history(ws, cand)
        if reason:
            return None, reason
    fp = fingerprint(cand.setup_patch)
    if fp in seen:
        return None, "duplicate of an earlier task"
    if not cand.setup_patch.strip() or not cand.gold_patch.strip():
        return None, "empty patch"

    if cand.kind == "from-history":
        before = ws.run(None, _timeout(baseline, None))
        if _timed_out(before):
            return None, "test suite timed out in the task state"
        err = ws.apply(cand.gold_patch)
        if err:
            return None, f"gold patch does not apply: {err}"
        after = ws.run(None, _timeout(baseline, None))
        if _timed_out(after):
            return None, "test suite timed out with the gold patch"
        fail_to_pass = sorted(t for t in after.passed if before.outcome(t) != "passed")
        pass_to_pass = sorted(t for t in after.passed if before.outcome(t) == "passed")
        if not fail_to_pass:
            return None, "no test fails before and passes after"
        messages = {t: before.results[t].message for t in fail_to_pass if t in before.results}
        if not messages:  # tests missing before: their file did not collect; show why
            why = " ".join(e.message for e in before.collection_errors)[-1000:]
            messages = {t: why for t in fail_to_pass}
    else:
        err = ws.apply(cand.setup_patch)
        if err:
            return None, f"setup patch does not apply: {err}"
        quick_ids = cand.relevant_tests or baseline.passed
        suite_s = sum(baseline.durations.get(t, 0.0) for t in baseline.passed)
        if len(quick_ids) * 2 <= len(baseline.passed) and suite_s > 5:  # a first look, cheaper than all
            quick = ws.run(quick_ids, _timeout(baseline, quick_ids))
            if _timed_out(quick):
                return None, f"hangs the tests: timed out after {quick.exec.duration_s:.0f}s"
            if quick.collection_errors:
                return None, "the suite no longer collects"
            if not _failed(quick, quick_ids):
                return None, "no test fails"
        full = ws.run(baseline.passed, _timeout(baseline, None))
        if _timed_out(full):
            return None, f"hangs the suite: timed out after {full.exec.duration_s:.0f}s"
        if full.collection_errors:
            return None, "the suite no longer collects"
        fail_to_pass = _failed(full, baseline.passed)
        pass_to_pass = [t for t in baseline.passed if t not in set(fail_to_pass)]
        if not fail_to_pass:
            return None, "no test fails"
        messages = {t: full.results[t].message for t in fail_to_pass if t in full.results}

    # validation: from the image's state, setup patch then gold patch; every judged test must pass
    ws.reset()
    for label, patch in (("setup", cand.setup_patch), ("gold", cand.gold_patch)):
        err = ws.apply(patch)  # plain `git apply`, as any consumer of the task would
        if err:
            return None, f"validation: {label} patch does not apply: {err}"
    check = ws.run(fail_to_pass + pass_to_pass, _timeout(baseline, None))
    broken = _failed(check, fail_to_pass + pass_to_pass)
    if _timed_out(check) or broken:
        return None, f"validation failed: {len(broken)} test(s) do not pass with the gold patch"
    seen.add(fp)
    template = template_statement(cand, fail_to_pass, messages)
    statement = model_statement(cand, fail_to_pass, template)
    return {
        "kind": cand.kind, "family": cand.family, "setup_patch": cand.setup_patch,
        "gold_patch": cand.gold_patch, "test_patch": cand.test_patch, "fail_to_pass": fail_to_pass,
        "pass_to_pass": pass_to_pass, "problem_statement": statement or template, "fingerprint": fp,
        "meta": {"description": cand.description, "path": cand.path, "function": cand.function,
                 "commit": cand.commit, "parent": cand.parent, "base_commit": ws.head,
                 "statement_source": "model" if statement else "template"},
    }, ""


def known_fingerprints(image: str) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(db.Task.fingerprint).where(db.Task.image_id == image)).all())


def generate(
    image: str,
    kind: str,
    max_tasks: int = 5,
    *,
    max_candidates: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    on_task: Callable[[db.Task], None] | None = None,
) -> GenerateResult:
    """Make up to ``max_tasks`` validated tasks of ``kind`` from ``image`` and store them."""
    log = progress or (lambda _: None)
    start = time.monotonic()
    result = GenerateResult(image, kind)
    ws: Workspace | None = None
    try:
        if kind not in KINDS:
            raise TaskError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        img, passed, durations = load_image(image)
        result.image = img.id
        budget = max_candidates or max(10, max_tasks * 8)
        ws = Workspace(img.id, img.test_command, log, (img.recipe or {}).get("env") or {})
        if kind == "from-history":
            candidates: Iterator[Candidate] = history_candidates(ws)
            timing = ws.run(passed, get_settings().test_timeout_s)
            baseline = Baseline(passed, durations, {}, timing.exec.duration_s)
        else:
            log("running the passing tests once to see which functions they call")
            baseline = collect_baseline(ws, passed, durations)
            sources, functions = covered_functions(ws, baseline)
            log(f"{len(functions)} functions in {len(sources)} files are exercised by "
                f"{len(baseline.passed)} passing tests")
            if not functions:
                raise TaskError(f"no source function of {img.id} is exercised by its passing tests")
            candidates = (mutation_candidates(sources, functions, seed) if kind == "mutate-fix"
                          else stub_candidates(sources, functions, seed))
        seen = known_fingerprints(img.id)
        for cand in candidates:
            if len(result.tasks) >= max_tasks or result.candidates >= budget:
                break
            result.candidates += 1
            try:
                fields, reason = evaluate(ws, cand, baseline, seen)
            except Exception as exc:  # noqa: BLE001 - one bad candidate never ends the batch
                fields, reason = None, f"error: {type(exc).__name__}: {exc}"
            if fields is None:
                result.discarded.append(Discard(cand.description, cand.family, reason))
                log(f"discard   {cand.description}: {reason}")
                continue
            with db.session() as s:
                task = db.Task(image_id=img.id, **fields)
                s.add(task)
            result.tasks.append({**task_line(task), "family": task.family})
            log(f"validated {task.id} {cand.description} (F2P {len(task.fail_to_pass)}, "
                f"P2P {len(task.pass_to_pass)})")
            if on_task:
                on_task(task)
    except (TaskError, EngineError) as exc:
        result.error = str(exc)
    finally:
        if ws is not None:
            ws.remove()
        result.duration_s = time.monotonic() - start
    return result


# ------------------------------------------------------------------------------------- queries
def list_tasks(image: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(db.Task).order_by(db.Task.created_at.desc())
        if image:
            q = q.where(db.Task.image_id == image)
        if kind:
            q = q.where(db.Task.kind == kind)
        return [{"id": t.id, "image": t.image_id, "kind": t.kind, "family": t.family, "status": t.status,
                 "fail_to_pass": len(t.fail_to_pass), "pass_to_pass": len(t.pass_to_pass),
                 "description": (t.meta or {}).get("description", ""),
                 "created_at": t.created_at.isoformat()} for t in s.scalars(q).all()]


def get_task(task_id: str) -> db.Task | None:
    with db.session() as s:
        task = s.get(db.Task, task_id)
        if task is not None:
            s.expunge(task)
        return task
