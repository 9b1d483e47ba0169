"""The call collector, a tiny pytest plugin put into a workspace's virtualenv for one baseline run:
which tests call which functions under /repo, written as JSON ``{"path:first line": [test ids]}`` to
``TRACE_PATH``, and each function's call depth from the tests (project frames from the test's own
code to it, 1 = called by the test itself; the smallest over the tests) as ``{"path:first line":
depth}`` to ``TRACE_PATH + ".depth"``; the functions called while any module is imported as a list
to ``TRACE_PATH + ".import"``: a change to one of them can break tests that never call it (what
module-level code built keeps the old behaviour in a session and the new one in every fresh
process). Files of /repo already imported before the plugin loaded (their import-time calls unseen)
go to ``TRACE_PATH + ".preimported"``.

The calls are recorded by ``cProfile`` (C code, about a third of a ``sys.settrace`` callback's cost
per call), one profile for the plugin's load through collection (conftests, and the packages they
import, count: every project function called then is an import-time one) and one per test (its
setup, call and teardown; pytest's reporting around them left out). A test's profile is a graph of
who called whom: the functions in it are the test's callees; a function's depth is the fewest
project frames on a path from the test file's code to it (frames outside /repo count none); a
function reachable from the body of a module under /repo other than the test's own (a module the
test imported) is an import-time one. The graph merges the test's calls, so a path in it may join
two real stacks: the depth can come out smaller than any real stack's, and more functions can count
as import-time (judged by the whole suite: slower, never less sound). Calls made in other threads
are not seen."""

from __future__ import annotations

TRACE_PLUGIN = "forager_trace"
TRACE_PATH = "/tmp/forager-trace.json"
TRACE_SOURCE = '''\
\"\"\"Forager's call collector: which tests call which functions under /repo (cProfile graphs).\"\"\"
import contextlib
import cProfile
import json
import sys
import types

import pytest

_calls = {}
_depth = {}
_import = set()
_keys = {}
_root = "/repo/"


def _key(code):
    if not isinstance(code, types.CodeType):
        return None
    key = _keys.get(code, 0)
    if key == 0:
        name = code.co_filename
        key = name[len(_root):] + ":" + str(code.co_firstlineno) if name.startswith(_root) else None
        _keys[code] = key
    return key


def _harvest_import(prof):
    for entry in prof.getstats():
        key = _key(entry.code)
        if key is not None and entry.callcount:
            _import.add(key)


def _harvest_test(prof, test, test_file):
    \"\"\"The test's callees, their depths and the ones reached from a module body (0-1 BFS).\"\"\"
    stats = prof.getstats()
    edges = {}
    starts, modules = [], []
    for entry in stats:
        code = entry.code
        if not isinstance(code, types.CodeType):
            continue
        edges[code] = [sub.code for sub in (entry.calls or ()) if isinstance(sub.code, types.CodeType)]
        name = code.co_filename
        if name == test_file:
            starts.append(code)
        elif name.startswith(_root) and code.co_name == "<module>":
            modules.append(code)
        key = _key(code)
        if key is not None and entry.callcount:
            tests = _calls.get(key)
            if tests is None:
                tests = _calls[key] = set()
            tests.add(test)
    dist = {c: 0 for c in starts}
    todo = list(starts)
    front = []
    while todo or front:
        if not todo:
            todo, front = front, []
            continue
        code = todo.pop()
        d = dist[code]
        for callee in edges.get(code, ()):
            if callee.co_filename == test_file:
                continue
            step = 1 if callee.co_filename.startswith(_root) else 0
            if dist.get(callee, 1 << 30) > d + step:
                dist[callee] = d + step
                (front if step else todo).append(callee)
    for code, d in dist.items():
        key = _key(code)
        if key is not None and d >= 1 and d < _depth.get(key, 99):
            _depth[key] = d
    seen = set(modules)
    todo = list(modules)
    while todo:
        code = todo.pop()
        key = _key(code)
        if key is not None:
            _import.add(key)
        for callee in edges.get(code, ()):
            if callee not in seen and callee.co_filename != test_file:
                seen.add(callee)
                todo.append(callee)


_preimported = sorted({
    str(getattr(m, "__file__", None))[len(_root):] for m in list(sys.modules.values())
    if str(getattr(m, "__file__", None) or "").startswith(_root)})
_loading = cProfile.Profile(builtins=False)
_loading.enable()  # from the plugin's load on: conftests and the packages they import count


def pytest_addoption(parser):
    parser.addoption("--forager-trace", default=None)


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    try:
        yield
    finally:
        _loading.disable()
        _harvest_import(_loading)


_profiles = {}


@contextlib.contextmanager
def _profiled(item):
    """The test's profile (one across its setup, call and teardown), on while the phase runs."""
    prof = _profiles.get(item.nodeid)
    if prof is None:
        prof = _profiles[item.nodeid] = cProfile.Profile(builtins=False)
    prof.enable()
    try:
        yield prof
    finally:
        prof.disable()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _profiled(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _profiled(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    with _profiled(item) as prof:
        yield
    del _profiles[item.nodeid]
    _harvest_test(prof, item.nodeid, str(getattr(item, "path", None) or getattr(item, "fspath", "")))


def pytest_sessionfinish(session):
    path = session.config.getoption("--forager-trace")
    if path:
        with open(path, "w") as fh:
            json.dump({k: sorted(v) for k, v in _calls.items()}, fh)
        with open(path + ".depth", "w") as fh:
            json.dump(_depth, fh)
        with open(path + ".import", "w") as fh:
            json.dump(sorted(_import), fh)
        with open(path + ".preimported", "w") as fh:
            json.dump(_preimported, fh)
'''
