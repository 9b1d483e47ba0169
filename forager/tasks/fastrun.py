"""The host side of the fast path: probes sent in batches to the in-container driver
(``driver_script``), one ``docker exec`` per batch, results read back per probe."""

from __future__ import annotations

import json
import shlex
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
        """Every probe in one collected pytest session, forked per probe (``session_plugin``)."""
        if not probes:
            return []
        self._install()
        files = list(dict.fromkeys(f for p in probes for f in files_of(p.tests)))
        argv = [*self.cfg["command"], *self.cfg["args"], *files, "-q", "--tb=short", "-p", SESSION_PLUGIN,
                f"--forager-session={SESSION_CFG}"]
        return self._exec(probes, shlex.join(argv))

    def _exec(self, probes: list[Probe], command: str) -> list[ProbeResult]:
        jobs = "\n".join(json.dumps({"id": p.id, "patch": p.patch, "gold": p.gold, "tests": p.tests,
                                     "files": p.files if p.files is not None else files_of(p.tests),
                                     "timeout": p.timeout, "keep": p.keep, "targets": p.targets,
                                     "control": p.control})
                         for p in probes)
        self.ws.sandbox.put_files({JOBS_PATH: jobs.encode()})
        budget = sum(p.timeout + 10 for p in probes) + 60
        res = self.ws.sh(f"rm -f {OUT_PATH}; {command}", budget)
        raw = self.ws.sandbox.get_file(OUT_PATH) if not res.timed_out or self.ws.alive() else None
        got: dict[str, ProbeResult] = {}
        for line in (raw or b"").decode("utf-8", "replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            got[str(row.get("id"))] = _parse(row)
        missing = [p for p in probes if p.id not in got]
        if missing:  # the driver died or was killed: a clean container state before going on
            self.ws.suspect = True
            self.ws.reset()
            self._installed = "" if self.ws.sandbox.id != self._installed else self._installed
        return [got.get(p.id) or ProbeResult(p.id, error=f"runner stopped: {res.output[-300:]}")
                for p in probes]
