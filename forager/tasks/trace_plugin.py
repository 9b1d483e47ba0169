"""The call collector, a tiny pytest plugin put into a workspace's virtualenv for one baseline run:
which tests call which functions under /repo (``sys.settrace``, calls only), written as JSON
``{"path:first line": [test ids]}`` to ``TRACE_PATH``, and each function's call depth from the
tests (project frames from the test function to it, 1 = called by the test itself; the smallest
over the tests) as ``{"path:first line": depth}`` to ``TRACE_PATH + ".depth"``; the functions called
while the test modules are imported (collection) as a list to ``TRACE_PATH + ".import"``: a change
to one of them can break tests that never call it."""

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
    """Project frames between the test's own code and ``frame`` (1: the test calls it directly)."""
    depth, f = 1, frame.f_back
    while f is not None and depth < 50:
        name = f.f_code.co_filename
        if name == test_file:
            return depth
        if name.startswith(_root):
            depth += 1
        f = f.f_back
    return None


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
                if _depth.get(key, 99) > 1:
                    d = _depth_of(frame, _current[1])
                    if d is not None and d < _depth.get(key, 99):
                        _depth[key] = d
    return None


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
'''
