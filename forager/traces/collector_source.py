"""The in-container tracer: a pytest plugin whose source is written into the image's virtualenv for
one run, like the call collector (``forager.tasks.trace_plugin``).

It reads a JSON spec (``SPEC_PATH``: the target functions, the tests that drive each, the bounds)
and, while a test of the spec runs, traces the first call of each of that test's targets: one
frame per event (``call``, ``line``, ``return``, ``exception``) with its line number, the locals
as bounded ``repr`` strings (``".."`` for a value unchanged since the previous frame) for
call/line frames, and the value (return) or exception for the others. Each finished trace is
appended to ``OUT_PATH`` as one JSON line at once, so a killed run keeps what it finished.

Engines: ``sys.monitoring`` on Python 3.12+ (PY_START for every code object, switched off for
code that can never be a target; LINE/RETURN/RAISE events only on the target code objects), else
``sys.settrace`` whose global function returns None for every frame but a target's, so other
frames get no line events. Calls from a traced frame into other functions under the repository
are stepped over (``callees: "step"``) or traced as their own traces (``callees: "trace"``).
"""

from __future__ import annotations

COLLECTOR_PLUGIN = "forager_tracer"
SPEC_PATH = "/tmp/forager-traces-spec.json"
OUT_PATH = "/tmp/forager-traces.jsonl"

COLLECTOR_SOURCE = r'''"""Forager's execution tracer (see forager/traces/collector_source.py)."""
import json
import reprlib
import sys

try:
    import pytest
except ImportError:  # driven without pytest (Forager's unit tests run it on several Pythons)
    pytest = None

S = {"spec": None, "by_file": {}, "by_test": {}, "test": None, "done": set(), "written": 0,
     "stack": [], "engine": None, "tool": None, "callees": False}
R = reprlib.Repr()
R.maxlevel, R.maxlist, R.maxtuple, R.maxdict, R.maxset = 3, 8, 8, 8, 8
R.maxfrozenset, R.maxdeque, R.maxarray = 8, 8, 8
TEST_MARKS = ("/tests/", "/test/", "/testing/", "/conftest.py")


class Trace(object):
    __slots__ = ("key", "name", "code", "frame", "kind", "parent", "frames", "prev", "status", "closed")

    def __init__(self, key, code, frame, kind, parent):
        self.key, self.code, self.frame, self.kind, self.parent = key, code, frame, kind, parent
        self.name = code.co_name
        self.frames, self.prev, self.status, self.closed = [], {}, "incomplete", False


def _value(value):
    limit = S["spec"]["value_chars"]
    try:
        text = R.repr(value)
    except Exception as exc:  # a broken __repr__ is part of the program, not of the tracer
        text = "<repr failed: %s>" % type(exc).__name__
    return text if len(text) <= limit else text[:max(1, limit - 3)] + "..."


def _locals(tr, frame):
    current = {}
    for name, value in list(frame.f_locals.items()):
        current[str(name)] = _value(value)
    shown = {}
    for name, text in current.items():
        shown[name] = ".." if tr.prev.get(name) == text else text
    tr.prev = current
    return shown


def _write(tr):
    line = {"target": tr.key[0], "test": S["test"], "kind": tr.kind, "parent": tr.parent,
            "file": tr.code.co_filename, "name": tr.name, "first": tr.code.co_firstlineno,
            "status": tr.status, "engine": S["engine"], "python": "%d.%d.%d" % sys.version_info[:3],
            "frames": tr.frames}
    with open(S["spec"]["out"], "a") as fh:
        fh.write(json.dumps(line) + "\n")
    S["written"] += 1


def _finish(tr, status):
    if tr.closed:
        return
    tr.closed, tr.status = True, status
    if tr in S["stack"]:
        S["stack"].remove(tr)
    _write(tr)
    if S["engine"] == "monitoring" and not any(t.code is tr.code for t in S["stack"]):
        sys.monitoring.set_local_events(S["tool"], tr.code, 0)
    if not S["stack"] and _all_done(S["test"]):
        pause()  # the rest of the test runs untraced, at full speed


def _all_done(test):
    """Whether every target of ``test`` has its trace (or the image's bound is reached)."""
    if S["written"] >= S["spec"]["max_traces"]:
        return True
    return all((tid, test) in S["done"] for tid in S["by_test"].get(test, ()))


def _record(tr, event, frame, arg=None):
    if tr.closed:
        return
    if len(tr.frames) >= S["spec"]["max_frames"]:
        _finish(tr, "truncated")
        return
    row = {"event": event, "line": frame.f_lineno}
    if event in ("call", "line"):
        row["locals"] = _locals(tr, frame)
    else:
        row["arg"] = _value(arg)
    tr.frames.append(row)
    if event == "return":
        _finish(tr, "complete")


def _is_test_file(path):
    return any(m in path for m in TEST_MARKS) or path.rsplit("/", 1)[-1].startswith("test_")


def _target_of(code):
    """The spec target this code object is, for the running test; None otherwise."""
    for tid, name, first, defline in S["by_file"].get(code.co_filename, ()):
        if code.co_name == name and first <= code.co_firstlineno <= defline:
            return tid if tid in S["by_test"].get(S["test"], ()) else None
    return None


def _never(code):
    """Whether this code object can never start a trace (so its PY_START can be switched off)."""
    if S["spec"]["callees"] == "trace" and code.co_filename.startswith(S["spec"]["root"]):
        return False
    for _tid, name, first, defline in S["by_file"].get(code.co_filename, ()):
        if code.co_name == name and first <= code.co_firstlineno <= defline:
            return False
    return True


def _start(frame):
    """A new trace for this frame, or None: a target of the running test not traced yet, or (with
    callees traced) a function of the repository called straight from a traced frame."""
    if S["written"] + len(S["stack"]) >= S["spec"]["max_traces"]:
        return None
    code = frame.f_code
    if any(t.code is code for t in S["stack"]):
        return None  # recursion: stepped over inside the outer call's trace
    tid = _target_of(code)
    kind, parent = "target", None
    if tid is None:
        caller = frame.f_back
        outer = S["stack"][-1] if S["stack"] else None
        if (S["spec"]["callees"] != "trace" or outer is None or caller is not outer.frame
                or not code.co_filename.startswith(S["spec"]["root"]) or _is_test_file(code.co_filename)):
            return None
        tid = "callee:%s:%d" % (code.co_filename, code.co_firstlineno)
        kind, parent = "callee", outer.key[0]
    key = (tid, S["test"])
    if key in S["done"]:
        return None
    S["done"].add(key)
    tr = Trace(key, code, frame, kind, parent)
    S["stack"].append(tr)
    _record(tr, "call", frame)
    return tr


# --- sys.settrace -------------------------------------------------------------------------------
def _local(tr):
    def local(frame, event, arg):
        if tr.closed:
            return None
        if event == "line":
            _record(tr, "line", frame)
        elif event == "return":
            _record(tr, "return", frame, arg)
        elif event == "exception":
            _record(tr, "exception", frame, arg[1])
        return None if tr.closed else local
    return local


def _global(frame, event, arg):
    # every call of the traced tests comes here: a file with no target (most calls) costs one lookup
    if event != "call" or (frame.f_code.co_filename not in S["by_file"] and not (S["stack"] and S["callees"])):
        return None
    tr = _start(frame)
    return _local(tr) if tr is not None else None


# --- sys.monitoring -----------------------------------------------------------------------------
def _on_frame(code):
    frame = sys._getframe(2)
    for tr in S["stack"]:
        if tr.frame is frame:
            return tr, frame
    return None, frame


def _py_start(code, offset):
    if S["test"] is None:
        return None
    if _never(code):
        return sys.monitoring.DISABLE
    tr = _start(sys._getframe(1))
    if tr is not None and not tr.closed:
        E = sys.monitoring.events
        sys.monitoring.set_local_events(S["tool"], code, E.LINE | E.PY_RETURN | E.PY_YIELD)
    return None


def _mon(event):
    def handler(code, where, arg=None):
        if not S["stack"]:
            return
        tr, frame = _on_frame(code)
        if tr is not None:
            _record(tr, event, frame, arg)
    return handler


def _unwind(code, offset, exc):
    if not S["stack"]:
        return
    tr, frame = _on_frame(code)
    if tr is not None:
        _record(tr, "return", frame, None)


def _line(code, line):
    tr, frame = _on_frame(code)
    if tr is not None:
        _record(tr, "line", frame)


def _monitoring_setup():
    mon = sys.monitoring
    tool = next(i for i in (4, 3, 2, 5) if mon.get_tool(i) is None)
    mon.use_tool_id(tool, "forager-tracer")
    E = mon.events
    mon.register_callback(tool, E.PY_START, _py_start)
    mon.register_callback(tool, E.LINE, _line)
    mon.register_callback(tool, E.PY_RETURN, _mon("return"))
    mon.register_callback(tool, E.PY_YIELD, _mon("return"))
    mon.register_callback(tool, E.RAISE, _mon("exception"))
    mon.register_callback(tool, E.PY_UNWIND, _unwind)
    S["tool"] = tool


# --- pytest -------------------------------------------------------------------------------------
def pytest_addoption(parser):
    parser.addoption("--forager-traces", default=None)


def configure(spec):
    """Load a spec (also what the unit tests call, without pytest)."""
    S["spec"] = spec
    R.maxstring = R.maxother = R.maxlong = max(8, int(spec["value_chars"]))
    S["callees"] = spec["callees"] == "trace"
    for t in spec["targets"]:
        S["by_file"].setdefault(t["file"], []).append((t["id"], t["name"], t["first"], t["def"]))
        for test in t["tests"]:
            S["by_test"].setdefault(test, set()).add(t["id"])
    want = spec.get("engine", "auto")
    S["engine"] = "monitoring" if want != "settrace" and sys.version_info >= (3, 12) else "settrace"
    if S["engine"] == "monitoring":
        _monitoring_setup()


def resume(test):
    """Trace the targets of ``test`` from now on (the current thread; all threads with monitoring)."""
    S["test"] = test
    if _all_done(test):
        return
    if S["engine"] == "monitoring":
        E = sys.monitoring.events
        sys.monitoring.set_events(S["tool"], E.PY_START | E.RAISE | E.PY_UNWIND)
    else:
        sys.settrace(_global)


def pause():
    """Stop tracing for now (pytest's own work between a test's phases); open traces stay open."""
    if S["engine"] == "monitoring":
        sys.monitoring.set_events(S["tool"], 0)
    else:
        sys.settrace(None)


def begin(test):
    resume(test)


def end():
    """Stop tracing; traces still open (a generator never resumed) are written as incomplete."""
    pause()
    for tr in list(S["stack"]):
        _finish(tr, "incomplete")
    S["test"] = None


def pytest_configure(config):
    path = config.getoption("--forager-traces")
    if path:
        with open(path) as fh:
            configure(json.load(fh))


def _traced(item):
    return S["spec"] is not None and item.nodeid in S["by_test"]


def _phase(item):
    """Setup, call and teardown of a planned test run traced; pytest's reporting between them not."""
    if not _traced(item):
        yield
        return
    resume(item.nodeid)
    try:
        yield
    finally:
        pause()


def _runtest_protocol(item, nextitem):
    yield
    if _traced(item):
        end()


if pytest is not None:
    pytest_runtest_protocol = pytest.hookimpl(hookwrapper=True)(_runtest_protocol)
    pytest_runtest_setup = pytest.hookimpl(hookwrapper=True)(_phase)
    pytest_runtest_call = pytest.hookimpl(hookwrapper=True)(_phase)
    pytest_runtest_teardown = pytest.hookimpl(hookwrapper=True)(_phase)
'''
