"""The host side of the fast path: probes sent in batches to the in-container driver
(``driver_script``), one ``docker exec`` per batch, results read back per probe."""

from __future__ import annotations

import json
import shlex
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from forager.build.testrun import TestOutcome
from forager.tasks.driver_script import DRIVER_PATH, DRIVER_SOURCE
from forager.tasks.session_plugin import SESSION_PLUGIN, SESSION_SOURCE
from forager.tasks.workspace import Workspace

JOBS_PATH = "/tmp/forager-probe-jobs.jsonl"
OUT_PATH = "/tmp/forager-probe-out.jsonl"
CFG_PATH = "/tmp/forager-probe-cfg.json"
SESSION_CFG = "/tmp/forager-session-cfg.json"


@dataclass
class Probe:
    """One run of ``tests`` with ``patch`` applied (None: the image's own code, a control run)."""

    tests: list[str]
    timeout: float
    patch: str | None = None
    gold: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    files: list[str] | None = None
    """Test files to run (None: the files of ``tests``); with no ``tests`` they run whole."""
    keep: bool = False
    """Leave /repo as the run left it (no reset to HEAD after it)."""
    targets: list[tuple[str, str]] | None = None
    """(path, function) whose code the session runner replaces (``session_plugin``)."""
    control: str | None = None
    """Id of the control probe of the same tests in the same batch (its time bounds this one's)."""
    test_limit: float = 0.0
    """Seconds any one test may run in a session before the probe counts as hanging (0: no limit)."""


@dataclass
class ProbeResult:
    id: str
    applied: bool = False
    restored: bool = False
    timed_out: bool = False
    ran: bool = False
    """False when the driver never reached the probe (it died or the batch outlived its timeout)."""
    error: str = ""
    ineligible: str = ""
    """The session runner could not run it (the caller runs it in a fresh pytest process)."""
    results: dict[str, TestOutcome] = field(default_factory=dict)
    collection: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timeout: float = 0.0
    """The timeout the probe got."""
    parts: dict[str, float] = field(default_factory=dict)
    """Seconds per part of the probe, as the session runner measured them (apply, swap, tests...)."""

    def outcome(self, test: str) -> str:
        r = self.results.get(test)
        return r.outcome if r else "missing"


def files_of(tests: list[str]) -> list[str]:
    """The files of pytest node ids, in first-seen order."""
    return list(dict.fromkeys(t.split("::", 1)[0] for t in tests))


def driver_config(test_command: str, test_paths: list[str]) -> dict[str, Any]:
    """How the driver runs pytest: the test command's options without its test paths, in ``fork``
    mode when it is ``python -m pytest`` or ``pytest`` (else a subprocess per probe)."""
    tokens = shlex.split(test_command)
    while tokens and tokens[-1] in test_paths and not tokens[-1].startswith("-"):
        tokens.pop()
    if len(tokens) >= 3 and tokens[0].rsplit("/", 1)[-1].startswith("python") and tokens[1:3] == ["-m", "pytest"]:
        return {"mode": "fork", "args": tokens[3:], "cwd_on_path": True, "command": tokens[:3]}
    if tokens and tokens[0] == "pytest":
        return {"mode": "fork", "args": tokens[1:], "cwd_on_path": False, "command": tokens[:1]}
    return {"mode": "spawn", "args": [], "cwd_on_path": False, "command": tokens}


def _parse(row: dict[str, Any]) -> ProbeResult:
    res = ProbeResult(str(row.get("id")), bool(row.get("applied")), bool(row.get("restored")),
                      bool(row.get("timed_out")), True, str(row.get("error") or ""),
                      seconds=float(row.get("seconds") or 0.0), timeout=float(row.get("timeout") or 0.0))
    for tid, entry in (row.get("results") or {}).items():
        res.results[tid] = TestOutcome(tid, str(entry.get("o")), 0.0, str(entry.get("m") or ""))
    res.collection = [str(c) for c in row.get("collection") or []]
    res.ineligible = str(row.get("ineligible") or "")
    res.parts = {str(k): float(v) for k, v in (row.get("parts") or {}).items()}
    return res


class Runner:
    """Runs batches of probes in one workspace with the driver installed once."""

    def __init__(self, ws: Workspace, test_paths: list[str]) -> None:
        self.ws = ws
        self.test_paths = test_paths
        self.cfg = driver_config(ws.test_command, test_paths)
        self._installed = ""
        self._serving: _Serving | None = None
        self._opening: threading.Thread | None = None

    def _install(self) -> None:
        box = self.ws.sandbox
        if self._installed != box.id:
            cfg = json.dumps({**self.cfg, "jobs": JOBS_PATH, "out": OUT_PATH}).encode()
            files = {DRIVER_PATH: DRIVER_SOURCE.encode(), CFG_PATH: cfg, SESSION_CFG: cfg}
            purelib = self.ws.site_packages()
            if purelib:
                files[f"{purelib}/{SESSION_PLUGIN}.py"] = SESSION_SOURCE.encode()
            box.put_files(files)
            self._installed = box.id

    @property
    def can_fork_sessions(self) -> bool:
        return self.cfg["mode"] == "fork"

    def run(self, probes: list[Probe]) -> list[ProbeResult]:
        """Every probe in a fresh pytest process (forked from one that imported pytest), in order;
        a probe the driver never reached has ``ran`` False."""
        if not probes:
            return []
        self._install()
        return self._exec(probes, f"python {DRIVER_PATH} {CFG_PATH}")

    def session(self, probes: list[Probe]) -> list[ProbeResult]:
        """Every probe in one collected pytest session, forked per probe (``session_plugin``): the
        serving session when one is up and has collected every file of the probes, else one for
        this batch."""
        if not probes:
            return []
        files = list(dict.fromkeys(f for p in probes for f in files_of(p.tests)))
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        serving = self._serving
        if serving is not None and serving.alive() and set(files) <= serving.files:
            got = serving.batch(probes)
            if got is not None:
                return got
            self._serving = None  # it died or stalled: this batch and the next ones the plain way
        self._install()
        return self._exec(probes, shlex.join(self.session_argv(files, SESSION_CFG)))

    def session_argv(self, files: list[str], cfg_path: str) -> list[str]:
        """The pytest command of a session collecting ``files``, configured by ``cfg_path``."""
        return [*self.cfg["command"], *self.cfg["args"], *files, "-q", "--tb=short", "-p", SESSION_PLUGIN,
                f"--forager-session={cfg_path}"]

    def open_session(self, files: list[str], idle_s: float = 600.0) -> None:
        """Start a session that collects ``files`` now (on threads: the caller goes on making
        candidates; the first batch waits for it) and then serves every later batch whose tests
        lie in them."""
        if not self.can_fork_sessions or not files:
            return

        def opening() -> None:
            try:
                self._install()
                self._serving = _Serving(self, sorted(set(files)), idle_s)
            except Exception:  # noqa: BLE001 - no serving session: every batch goes the plain way
                self._serving = None

        self._opening = threading.Thread(target=opening, daemon=True, name="forager-serve-open")
        self._opening.start()

    def close(self) -> None:
        """Stop the serving session, if any (its container may be removed right after)."""
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    def _exec(self, probes: list[Probe], command: str) -> list[ProbeResult]:
        """The probes in order, one exec; when the runner dies (a probe killed its process, or the
        exec outlived its budget) the probe it was running is marked stopped, the container is
        cleaned, and the probes after it run again: one probe never costs the others' verdicts."""
        out: dict[str, ProbeResult] = {}
        todo = list(probes)
        while todo:
            self._install()
            self.ws.sandbox.put_files({JOBS_PATH: jobs_text(todo).encode()})
            res = self.ws.sh(f"rm -f {OUT_PATH}; {command}", budget_of(todo))
            raw = self.ws.sandbox.get_file(OUT_PATH) if not res.timed_out or self.ws.alive() else None
            got = parse_rows(raw)
            out.update(got)
            missing = [p for p in todo if p.id not in got]
            if not missing:
                break
            self.ws.suspect = True  # a clean container state before going on
            self.ws.reset()
            out[missing[0].id] = ProbeResult(missing[0].id, error=f"runner stopped: {res.output[-300:]}")
            todo = missing[1:]
        return [out[p.id] for p in probes]


def jobs_text(probes: list[Probe]) -> str:
    """The driver's or session's job lines of ``probes``."""
    return "\n".join(json.dumps({"id": p.id, "patch": p.patch, "gold": p.gold, "tests": p.tests,
                                 "files": p.files if p.files is not None else files_of(p.tests),
                                 "timeout": p.timeout, "keep": p.keep, "targets": p.targets,
                                 "control": p.control, "test_limit": p.test_limit})
                      for p in probes)


def budget_of(probes: list[Probe]) -> float:
    """Seconds a batch of ``probes`` may take in all."""
    return sum(p.timeout + 10 for p in probes) + 60


def parse_rows(raw: bytes | None) -> dict[str, ProbeResult]:
    got: dict[str, ProbeResult] = {}
    for line in (raw or b"").decode("utf-8", "replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        got[str(row.get("id"))] = _parse(row)
    return got


class _Serving:
    """A session collected once that runs batch after batch (``session_plugin._serve``): its
    ``docker exec`` lives on a thread; a batch is a jobs file and a marker dropped in its folder,
    its results a file read back once the session marks it done."""

    def __init__(self, runner: Runner, files: list[str], idle_s: float) -> None:
        self.ws, self.files = runner.ws, set(files)
        self.dir = f"/tmp/forager-serve-{uuid.uuid4().hex[:12]}"
        self.batches = 0
        cfg_path = f"{self.dir}.json"
        cfg = {**runner.cfg, "jobs": JOBS_PATH, "out": OUT_PATH, "serve": {"dir": self.dir, "idle_s": idle_s}}
        self.ws.sandbox.put_files({cfg_path: json.dumps(cfg).encode(), f"{self.dir}/.keep": b""})
        argv = runner.session_argv(files, cfg_path)
        command = f"echo $$ > {self.dir}/pid; exec {shlex.join(argv)}"  # exec: the pid is pytest's
        self.thread = threading.Thread(target=self.ws.sh, args=(command, idle_s + 7 * 24 * 3600),
                                       daemon=True, name="forager-serve")
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def batch(self, probes: list[Probe]) -> list[ProbeResult] | None:
        """The probes' results, or None when the session died or did not finish the batch in time
        (then it is stopped)."""
        self.batches += 1
        n = self.batches
        self.ws.sandbox.put_files({f"{self.dir}/jobs-{n}.jsonl": jobs_text(probes).encode(),
                                   f"{self.dir}/ready-{n}": b""})
        done, pid = f"{self.dir}/done-{n}", f"{self.dir}/pid"
        wait = (f"i=0; while [ ! -f {done} ]; do i=$((i+1)); "  # every second: is the session alive?
                f"if [ $((i % 200)) -eq 0 ] && [ -s {pid} ] && [ ! -d /proc/$(cat {pid}) ]; then "
                f"[ -f {done} ] || exit 3; fi; sleep 0.005; done")
        res = self.ws.sh(wait, budget_of(probes))
        if not res.ok:
            self.stop()
            return None
        got = parse_rows(self.ws.sandbox.get_file(f"{self.dir}/out-{n}.jsonl"))
        if any(p.id not in got for p in probes):
            self.stop()
            return None
        return [got[p.id] for p in probes]

    def stop(self) -> None:
        if self.thread.is_alive():
            self.ws.sandbox.put_files({f"{self.dir}/stop": b""})
