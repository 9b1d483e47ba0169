"""The call collector, a tiny pytest plugin put into a workspace's virtualenv for one baseline run:
which tests call which functions under /repo (``sys.settrace``, calls only), written as JSON
``{"path:first line": [test ids]}`` to ``TRACE_PATH``."""

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
