"""The session runner, a pytest plugin put into a workspace's virtualenv: collect once, then fork
per candidate, as mutation-testing tools do.

The parent collects the test files of a batch once and indexes the project's function objects by
(file, qualified name). Per job a child is forked: it applies the setup patch to /repo with
``git apply``, compiles the patched file, and gives every live function object of the target the
patched code object (``f.__code__ = new``: every reference to the function, imported names and
wrappers included, runs the new code; for a nested function also every closure already made from
it); modules not imported yet load the patched file from disk.
It runs the job's tests with ``runtestprotocol`` (fixtures kept between them as pytest keeps them; a
failing test's message is the ``E`` lines of pytest's report, made without its traceback
formatting: ``_error_report``), applies
the gold patch and checks ``git diff --quiet HEAD``, and writes one JSON line. The parent kills a
child at its timeout (a few times what the control run of the same tests took, when there was
one), or as soon as one test has run past the job's ``test_limit`` (the child stamps each test's
start in memory shared with the parent: a mutant that hangs one test is caught in seconds, not at
the end of the whole selection's budget), and resets a dirty tree. A target whose signature,
decorators would change or whose closure would grow (a closure that loses a name keeps it:
``_padded``), or that is not imported, is reported ``ineligible`` (the caller
runs it the slow way). In ``serve`` mode the session stays up after its collection and runs batch
after batch as the host drops them in its folder (``_serve``): a generation collects once per
worker, while its first candidates are still being made, instead of once per batch.
"""

from __future__ import annotations

SESSION_PLUGIN = "forager_session"
SESSION_SOURCE = r'''
"""Forager's session runner (see forager/tasks/session_plugin.py)."""
import ast
import gc
import json
import mmap
import os
import signal
import struct
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


def _functions(node, prefix=""):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + child.name, child
            yield from _functions(child, prefix + child.name + ".<locals>.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, prefix + child.name + ".")
        else:
            yield from _functions(child, prefix)


def _padded(source, path, qualname, names):
    """The patched file compiled with ``if False: (name, ...)`` at the end of ``qualname``'s body: a
    change that drops the last use of a free variable (a stub of a method that called ``super()``
    drops the ``__class__`` cell) keeps the closure the live function objects carry. The statement
    never runs; only the compiler's table of names sees it (free variables are ordered by name)."""
    tree = ast.parse(source)
    node = next((n for q, n in _functions(tree) if q == qualname), None)
    if node is None:
        return None
    refs = ast.Tuple([ast.Name(n, ast.Load()) for n in sorted(names)], ast.Load())
    node.body.append(ast.copy_location(ast.If(ast.Constant(False), [ast.Expr(refs)], []), node.body[-1]))
    ast.fix_missing_locations(tree)
    return _find_code(compile(tree, REPO + path, "exec"), qualname)


def _swap(path, qualname, nested):
    funcs = _index.get((path, qualname))
    if not funcs:
        return None if nested else "not imported"
    with open(REPO + path) as fh:
        source = fh.read()
    new = _find_code(compile(source, REPO + path, "exec"), qualname)
    if new is None:
        return "no such function in the patched file"
    old = funcs[0].__code__.co_freevars
    if new.co_freevars != old and set(new.co_freevars) < set(old):
        try:
            new = _padded(source, path, qualname, set(old) - set(new.co_freevars)) or new
        except (SyntaxError, ValueError, RecursionError):  # the unpadded code: refused just below
            pass
    for f in funcs:
        if f.__code__.co_freevars != new.co_freevars:
            return "closure changes"
    for f in funcs:
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


def _child(job, items, clock):
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
    for nodeid, item in chosen:
        if item is None:
            out["results"][nodeid] = {"o": "missing"}
            continue
        if job.get("patch") and type(item).repr_failure is pytest.Function.repr_failure:
            item._repr_failure_py = _error_report(item)  # a test's failure and its fixtures' errors
        struct.pack_into("d", clock, 0, time.monotonic())  # the parent watches each test's time
        outcome, message = _outcome(runtestprotocol(item, log=False, nextitem=following[id(item)]))
        out["results"][nodeid] = {"o": outcome, **({"m": message} if message else {})}
    lap("tests")
    lap("messages")
    if job.get("gold"):
        err = _apply(job["gold"], "gold")
        out["restored"] = err is None and _git("diff", "--quiet", "HEAD").returncode == 0
        lap("gold")
    return out


def _error_report(item):
    """A failing test's report as the lines a statement and the behavioural key read from pytest's
    own (its ``E`` lines: each exception of the chain, the first cause first, in pytest's words,
    ``exconly(tryshort=True)``), without pytest's traceback formatting, which parses the source file
    of every frame and costs tens of milliseconds per failing test. It stands in for the item's
    ``_repr_failure_py``, which makes the report of a failing call and of an error in a fixture's
    setup or teardown (a stubbed function a fixture calls errors every test that uses it). Anything
    unusual (a missing fixture's report, an exception of its own): pytest's own."""
    def repr_failure(excinfo, *args, **kwargs):
        try:
            from _pytest._code import ExceptionInfo
            from _pytest.fixtures import FixtureLookupError

            value = excinfo.value
            if isinstance(value, FixtureLookupError):  # pytest's report lists the fixtures there are
                return type(item)._repr_failure_py(item, excinfo, *args, **kwargs)
            if isinstance(value, pytest.fail.Exception) and not getattr(value, "pytrace", True):
                return str(value.msg)
            chain, seen, e = [], set(), value
            while e is not None and id(e) not in seen:
                seen.add(id(e))
                chain.append(e)
                if e.__cause__ is not None:
                    e = e.__cause__
                elif e.__context__ is not None and not e.__suppress_context__:
                    e = e.__context__
                else:
                    e = None
            lines = []
            for exc in reversed(chain):
                info = excinfo if exc is value else ExceptionInfo.from_exc_info((type(exc), exc, exc.__traceback__))
                lines.extend("E   " + ln for ln in info.exconly(tryshort=True).split("\n"))
            return "\n".join(lines)[-1500:]
        except Exception:
            return type(item)._repr_failure_py(item, excinfo, *args, **kwargs)
    return repr_failure


def _run_job(job, items):
    start = time.monotonic()
    result_path = "/tmp/forager-session-result.json"
    if os.path.exists(result_path):
        os.remove(result_path)
    clock = mmap.mmap(-1, 8)  # shared with the child: when its current test started
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            res = _child(job, items, clock)
            with open(result_path, "w") as fh:
                json.dump(res, fh)
        finally:
            os._exit(0)
    timeout = job["timeout"]
    if job.get("control") in _control_s:  # a few times what the same tests took without the change
        timeout = min(timeout, 4 * _control_s[job["control"]] + 0.25 * len(job["tests"]) + 5)
    deadline = start + timeout
    test_limit = job.get("test_limit") or 0
    timed_out = hung = False
    while not os.waitpid(pid, os.WNOHANG)[0]:
        now = time.monotonic()
        began = struct.unpack_from("d", clock, 0)[0]
        hung = bool(test_limit and began and now - began > test_limit)
        if now > deadline or hung:
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
    clock.close()
    waited = time.monotonic()
    if _git("status", "--porcelain").stdout.strip():
        _git("checkout", "-q", "-f", "HEAD", "--", ".")
        _git("clean", "-fdq")
    res["seconds"] = round(time.monotonic() - start, 3)
    res.setdefault("parts", {})["clean"] = round(time.monotonic() - waited, 4)
    res["timeout"] = test_limit if hung else timeout
    if hung:
        res["hung"] = True
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
    gc.collect()
    gc.freeze()  # what the parent holds stays out of the children's collections (no copy-on-write storms)
    if cfg.get("serve"):
        _serve(cfg["serve"], items)
    else:
        _run_jobs(cfg["jobs"], cfg["out"], items)
    return True


def _run_jobs(jobs_path, out_path, items):
    """Every job of the file, one result line each as it ends."""
    with open(out_path, "a", buffering=1) as out:
        for line in open(jobs_path):
            if line.strip():
                out.write(json.dumps(_run_job(json.loads(line), items)) + "\n")


def _serve(serve, items):
    """Batch after batch from one collection: batch N is ``jobs-N.jsonl`` once ``ready-N`` exists;
    its results go to ``out-N.jsonl``, then ``done-N``. Ends at ``stop`` or after ``idle_s`` with no
    new batch."""
    folder, idle = serve["dir"], float(serve.get("idle_s", 600))
    n, last = 1, time.monotonic()
    while not os.path.exists(os.path.join(folder, "stop")):
        if os.path.exists(os.path.join(folder, "ready-%d" % n)):
            _run_jobs(os.path.join(folder, "jobs-%d.jsonl" % n), os.path.join(folder, "out-%d.jsonl" % n), items)
            open(os.path.join(folder, "done-%d" % n), "w").close()
            n, last = n + 1, time.monotonic()
            continue
        if time.monotonic() - last > idle:
            break
        time.sleep(0.003)
'''
