"""The per-test reporter, a tiny pytest plugin the builder writes into every image's virtualenv.

It writes one JSON line per test, as each test finishes (so a run that is killed still leaves what
it did), with its pytest node id, outcome and duration, and can restrict a run to a list of node
ids (``--forager-select FILE``) however long the list is.
"""

from __future__ import annotations

PLUGIN_NAME = "forager_report"
PLUGIN_SOURCE = '''\
"""Forager's per-test reporter (installed by the Forager builder)."""
import json
import os

import pytest

_results = {}
_out = None


def pytest_addoption(parser):
    parser.addoption("--forager-report", default=None)
    parser.addoption("--forager-select", default=None)


def pytest_configure(config):
    global _out
    path = config.getoption("--forager-report", default=None)
    if path and not hasattr(config, "workerinput"):  # xdist workers report through the controller
        _out = open(path, "a", buffering=1)


def _write(nodeid, entry):
    if _out is not None:
        _out.write(json.dumps({"id": nodeid, **entry}) + "\\n")


def pytest_collection_modifyitems(config, items):
    path = config.getoption("--forager-select")
    if not path:
        return
    with open(path) as fh:
        wanted = {line.strip() for line in fh if line.strip()}
    keep = [it for it in items if it.nodeid in wanted]
    config.hook.pytest_deselected(items=[it for it in items if it.nodeid not in wanted])
    items[:] = keep


def pytest_runtest_logreport(report):
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "duration": 0.0})
    entry["duration"] += getattr(report, "duration", 0.0) or 0.0
    if report.when == "call":
        if report.passed:
            entry["outcome"] = "passed"
        elif report.skipped:
            entry["outcome"] = "skipped"
        else:
            entry["outcome"] = "failed"
            entry["message"] = str(report.longrepr)[-2000:]
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    elif report.failed:
        entry["outcome"] = "error"
        entry["message"] = str(report.longrepr)[-2000:]
    if report.when == "teardown":  # one line per finished test, written as it finishes
        _write(report.nodeid, _results.pop(report.nodeid))


def pytest_collectreport(report):
    if report.failed:
        _write(report.nodeid or "<collection>", {
            "outcome": "error", "duration": 0.0, "collection": True,
            "message": str(report.longrepr)[-2000:],
        })


def pytest_unconfigure(config):
    global _out
    if _out is not None:
        _out.close()
        _out = None
'''
