"""The call collector, a tiny pytest plugin put into a workspace's virtualenv for one baseline run:
which tests call which functions under /repo (``sys.settrace``, calls only), written as JSON
``{"path:first line": [test ids]}`` to ``TRACE_PATH``, and each function's call depth from the
tests (project frames from the test function to it, 1 = called by the test itself; the smallest
over the tests) as ``{"path:first line": depth}`` to ``TRACE_PATH + ".depth"``; the functions called
while any module is imported as a list to ``TRACE_PATH + ".import"``: a change to one of them can
break tests that never call it (what module-level code built keeps the old behaviour in a session and
the new one in every fresh process). Tracing starts when pytest loads the plugin (``-p``, before any
conftest), so the package imported by a conftest counts; calls made while a test imports a module
count too (a frame of a module body under /repo on the stack). Files of /repo already imported
before the plugin loaded (their import-time calls unseen) go to ``TRACE_PATH + ".preimported"``."""

from __future__ import annotations

TRACE_PLUGIN = "forager_trace"
TRACE_PATH = "/tmp/forager-trace.json"
TRACE_SOURCE = '''\
"""Forager's call collector: which tests call which functions under /repo (sys.settrace, calls only)."""
import json
import sys
import threading

import pytest

_calls = {}
_depth = {}
_current = [None, None]
_root = "/repo/"


def _depth_of(frame, test_file):
    """Project frames between the test's own code and ``frame`` (1: the test calls it directly),
    and whether a module body under /repo runs between them (the call is part of an import)."""
    depth, f, steps = 1, frame.f_back, 0
    while f is not None and steps < 200:
        code = f.f_code
        name = code.co_filename
        if name == test_file:
            return depth, False
        if name.startswith(_root):
            if code.co_name == "<module>":
                return None, True
            depth += 1
        f, steps = f.f_back, steps + 1
    return None, False


_keys = {}
_import = set()


def _key(code):
    name = code.co_filename
    key = name[len(_root):] + ":" + str(code.co_firstlineno) if name.startswith(_root) else None
    _keys[code] = key
    return key


def _tracer(frame, event, arg):
    if event == "call" and _current[0] is None:  # collection: modules being imported
        code = frame.f_code
        key = _keys[code] if code in _keys else _key(code)
        if key is not None:
            _import.add(key)
    elif event == "call":
        code = frame.f_code
        key = _keys[code] if code in _keys else _key(code)
        if key is not None:
            tests = _calls.get(key)
            if tests is None:
                tests = _calls[key] = set()
            if _current[0] not in tests:
                tests.add(_current[0])
                if _depth.get(key, 99) > 1 or key not in _import:
                    d, importing = _depth_of(frame, _current[1])
                    if importing:
                        _import.add(key)
                    elif d is not None and d < _depth.get(key, 99):
                        _depth[key] = d
    return None


_preimported = sorted({
    str(getattr(m, "__file__", None))[len(_root):] for m in list(sys.modules.values())
    if str(getattr(m, "__file__", None) or "").startswith(_root)})
sys.settrace(_tracer)  # from the plugin's load on: conftests and the packages they import count


def pytest_addoption(parser):
    parser.addoption("--forager-trace", default=None)


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    sys.settrace(_tracer)
    try:
        yield
    finally:
        sys.settrace(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current[0] = item.nodeid
    _current[1] = str(getattr(item, "path", None) or getattr(item, "fspath", ""))
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
        with open(path + ".depth", "w") as fh:
            json.dump(_depth, fh)
        with open(path + ".import", "w") as fh:
            json.dump(sorted(_import), fh)
        with open(path + ".preimported", "w") as fh:
            json.dump(_preimported, fh)
'''
