"""The session runner, a pytest plugin put into a workspace's virtualenv: collect once, then fork
per candidate, as mutation-testing tools do.

The parent collects the test files of a batch once and indexes the project's function objects by
(file, qualified name). Per job a child is forked: it applies the setup patch to /repo with
``git apply``, compiles the patched file, and gives every live function object of the target the
patched code object (``f.__code__ = new``: every reference to the function, imported names and
wrappers included, runs the new code; for a nested function also every closure already made from
it); modules not imported yet load the patched file from disk.
It runs the job's tests with ``runtestprotocol`` (fixtures kept between them as pytest keeps them; a
failing test's message is the exception's own line, pytest's full report only for the first five by
node id, which a problem statement quotes), applies
the gold patch and checks ``git diff --quiet HEAD``, and writes one JSON line. The parent kills a
child at its timeout (a few times what the control run of the same tests took, when there was
one) and resets a dirty tree. A target whose signature, decorators or closure would
change, or that is not imported, is reported ``ineligible`` (the caller runs it the slow way).
"""

from __future__ import annotations

SESSION_PLUGIN = "forager_session"
SESSION_SOURCE = r'''
"""Forager's session runner (see forager/tasks/session_plugin.py)."""
import gc
import json
import os
import signal
import subprocess
import time
import types

import pytest

REPO = "/repo/"
_index = {}
_control_s = {}
"""Seconds each control run of this session took, by job id."""


def pytest_addoption(parser):
    parser.addoption("--forager-session", default=None)


def _git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def _apply(patch, name):
    path = "/tmp/forager-session-" + name + ".patch"
    with open(path, "w") as fh:
        fh.write(patch)
    res = _git("apply", "--whitespace=nowarn", path)
    return None if res.returncode == 0 else (res.stderr or res.stdout)[-400:] or "git apply failed"


def _build_index():
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            if code.co_filename.startswith(REPO):
                key = (code.co_filename[len(REPO):], getattr(code, "co_qualname", code.co_name))
                _index.setdefault(key, []).append(obj)


def _find_code(code, qualname):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if getattr(const, "co_qualname", const.co_name) == qualname:
                return const
            found = _find_code(const, qualname)
            if found is not None:
                return found
    return None


def _swap(path, qualname, nested):
    funcs = _index.get((path, qualname))
    if not funcs:
        return None if nested else "not imported"
    with open(REPO + path) as fh:
        source = fh.read()
    new = _find_code(compile(source, REPO + path, "exec"), qualname)
    if new is None:
        return "no such function in the patched file"
    for f in funcs:
        if len(f.__code__.co_freevars) != len(new.co_freevars):
            return "closure changes"
        f.__code__ = new
    return None


def _outcome(reports):
    outcome, message = "passed", ""
    for rep in reports:
        if rep.when == "call":
            if rep.failed:
                outcome, message = "failed", str(rep.longrepr)[-1500:]
            elif rep.skipped:
                outcome = "skipped"
        elif rep.failed and outcome == "passed":
            outcome, message = "error", str(rep.longrepr)[-1500:]
        elif rep.skipped and outcome == "passed":
            outcome = "skipped"
    return outcome, message


def _child(job, items, out_path):
    from _pytest.runner import runtestprotocol

    out = {"id": job["id"], "applied": True, "restored": True, "timed_out": False, "results": {},
           "collection": [], "parts": {}}
    mark = [time.monotonic()]

    def lap(part):
        now = time.monotonic()
        out["parts"][part] = round(now - mark[0], 4)
        mark[0] = now

    if job.get("patch"):
        err = _apply(job["patch"], "setup")
        lap("apply")
        if err:
            out.update(applied=False, error=err)
            return out
    for i, (path, target) in enumerate(job.get("targets") or []):
        why = _swap(path, target, i > 0)
        if why:
            out["ineligible"] = why
            return out
    lap("swap")
    order = {nodeid: i for i, nodeid in enumerate(items)}
    chosen = sorted(((t, items.get(t)) for t in job["tests"]), key=lambda p: order.get(p[0], -1))
    present = [it for _, it in chosen if it is not None]
    following = dict(zip(map(id, present), present[1:] + [None]))
    failures = {}
    for nodeid, item in chosen:
        if item is None:
            out["results"][nodeid] = {"o": "missing"}
            continue
        if job.get("patch"):
            item.repr_failure = _cheap_repr(item, failures)
        outcome, message = _outcome(runtestprotocol(item, log=False, nextitem=following[id(item)]))
        out["results"][nodeid] = {"o": outcome, **({"m": message} if message else {})}
    lap("tests")
    for nodeid in sorted(failures)[:FULL_MESSAGES]:  # the ones a statement quotes, in pytest's words
        item, excinfo = failures[nodeid]
        if out["results"].get(nodeid, {}).get("o") == "failed":
            try:
                out["results"][nodeid]["m"] = str(type(item).repr_failure(item, excinfo))[-1500:]
            except Exception:
                pass
    lap("messages")
    if job.get("gold"):
        err = _apply(job["gold"], "gold")
        out["restored"] = err is None and _git("diff", "--quiet", "HEAD").returncode == 0
        lap("gold")
    return out


FULL_MESSAGES = 5
"""Failing tests (the first by node id) whose message pytest formats in full: the ones a problem
statement quotes (``statements.QUOTED_ERRORS``); the others get the exception's own line (pytest's
traceback formatting costs tens of milliseconds per failing test)."""


def _cheap_repr(item, failures):
    def repr_failure(excinfo, *args, **kwargs):
        failures[item.nodeid] = (item, excinfo)
        return "E   " + excinfo.exconly()[:1500]
    return repr_failure


def _run_job(job, items, out_path):
    start = time.monotonic()
    result_path = "/tmp/forager-session-result.json"
    if os.path.exists(result_path):
        os.remove(result_path)
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            res = _child(job, items, out_path)
            with open(result_path, "w") as fh:
                json.dump(res, fh)
        finally:
            os._exit(0)
    timeout = job["timeout"]
    if job.get("control") in _control_s:  # a few times what the same tests took without the change
        timeout = min(timeout, 4 * _control_s[job["control"]] + 0.25 * len(job["tests"]) + 5)
    deadline = start + timeout
    timed_out = False
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(0.002)
    try:
        with open(result_path) as fh:
            res = json.load(fh)
    except (OSError, ValueError):
        res = {"id": job["id"], "applied": True, "restored": False, "results": {}, "collection": [],
               "error": "the child ended without a result"}
    res["timed_out"] = timed_out
    waited = time.monotonic()
    if _git("status", "--porcelain").stdout.strip():
        _git("checkout", "-q", "-f", "HEAD", "--", ".")
        _git("clean", "-fdq")
    res["seconds"] = round(time.monotonic() - start, 3)
    res.setdefault("parts", {})["clean"] = round(time.monotonic() - waited, 4)
    res["timeout"] = timeout
    if not job.get("patch") and not timed_out:
        _control_s[job["id"]] = res["seconds"]
    return res


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    cfg_path = session.config.getoption("--forager-session")
    if not cfg_path:
        return None
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    _build_index()
    items = {it.nodeid: it for it in session.items}
    with open(cfg["out"], "a", buffering=1) as out:
        for line in open(cfg["jobs"]):
            if line.strip():
                out.write(json.dumps(_run_job(json.loads(line), items, cfg["out"])) + "\n")
    return True
'''
