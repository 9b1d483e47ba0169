"""Running a test suite inside a container and reading per-test results.

Results come from the reporter plugin (``report_plugin``) that the builder installs into every
image's virtualenv. The same code serves build validation, task validation, rewards and replay.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from forager.build.report_plugin import PLUGIN_NAME, PLUGIN_SOURCE
from forager.errors import EngineError
from forager.runtime import ExecResult, Sandbox

REPORT_PATH = "/tmp/forager-report.jsonl"
SELECT_PATH = "/tmp/forager-select.txt"
OUTCOMES = ("passed", "failed", "skipped", "error")


@dataclass
class TestOutcome:
    __test__ = False
    id: str
    outcome: str
    duration: float = 0.0
    message: str = ""
    collection: bool = False


@dataclass
class TestRun:
    __test__ = False
    exec: ExecResult
    results: dict[str, TestOutcome] = field(default_factory=dict)
    twice: set[str] = field(default_factory=set)
    """Ids the report names more than once: something other than the reporter wrote to it."""

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.outcome for r in self.results.values() if not r.collection)
        return {k: c.get(k, 0) for k in OUTCOMES}

    @property
    def collection_errors(self) -> list[TestOutcome]:
        return [r for r in self.results.values() if r.collection]

    @property
    def passed(self) -> set[str]:
        return {r.id for r in self.results.values() if r.outcome == "passed"}

    def outcome(self, test_id: str) -> str:
        r = self.results.get(test_id)
        return r.outcome if r else "missing"


def reported_twice(text: str) -> set[str]:
    """Test ids with more than one line in a report (the reporter writes each test once)."""
    seen: Counter[str] = Counter()
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and not row.get("collection"):
            seen[str(row.get("id"))] += 1
    return {i for i, n in seen.items() if n > 1}


def parse_report(text: str) -> dict[str, TestOutcome]:
    results: dict[str, TestOutcome] = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run: keep what is whole
        if not isinstance(row, dict) or "id" not in row:
            continue
        results[row["id"]] = TestOutcome(
            row["id"], row.get("outcome", "error"), float(row.get("duration", 0.0)),
            row.get("message", ""), bool(row.get("collection", False)),
        )
    return results


def pytest_command(test_command: str, select: bool = False, extra: str = "",
                   report: str = REPORT_PATH, select_path: str = SELECT_PATH) -> str:
    # Option values are joined with "=": given as separate arguments, existing paths outside
    # /repo would count for pytest's rootdir and change every test id.
    cmd = f"{test_command} -p {PLUGIN_NAME} --forager-report={report}"
    if select:
        cmd += f" --forager-select={select_path}"
    return f"{cmd} {extra}".strip()


def site_packages(sandbox: Sandbox) -> str | None:
    """The site-packages directory of the sandbox's Python (the virtualenv first on PATH)."""
    res = sandbox.exec("python -c \"import sysconfig; print(sysconfig.get_paths()['purelib'])\"", 60)
    return res.output.strip().splitlines()[-1] if res.ok and res.output.strip() else None


PLUGIN_FOUND = f"python -c 'import importlib.util as u, sys; sys.exit(u.find_spec(\"{PLUGIN_NAME}\") is None)'"
"""Exit 0 when the sandbox's Python finds the reporter (found, not imported: that imports pytest)."""


def install_plugin(sandbox: Sandbox, attempts: int = 3) -> None:
    """Write the reporter into the sandbox's virtualenv (the builder does this in every image) and
    check that its Python finds it; tried again when a step failed on its way (on a loaded engine
    an exec can fail), EngineError when it never is found: an image without it gives no results."""
    for _ in range(attempts):
        purelib = site_packages(sandbox)
        if purelib:
            sandbox.put_files({f"{purelib}/{PLUGIN_NAME}.py": PLUGIN_SOURCE.encode()})
            if sandbox.exec(PLUGIN_FOUND, 60).ok:
                return
    raise EngineError(f"the reporter plugin {PLUGIN_NAME} could not be installed in the sandbox's Python")


def run_tests(
    sandbox: Sandbox,
    test_command: str,
    *,
    timeout: float,
    test_ids: list[str] | None = None,
    workdir: str = "/repo",
    env: dict[str, str] | None = None,
    report: str = REPORT_PATH,
    select_path: str = SELECT_PATH,
    settle: Callable[[], object] | None = None,
) -> TestRun:
    """Run ``test_command`` (a pytest invocation) in ``sandbox``; optionally only ``test_ids``.
    ``settle`` runs after the tests and before the report is read (e.g. to end stray processes)."""
    if test_ids is not None:
        sandbox.put_files({select_path: "\n".join(test_ids).encode()})
    command = pytest_command(test_command, select=test_ids is not None, report=report,
                             select_path=select_path)
    # an earlier run's report removed in the same exec (one exec less on the build's critical path)
    res = sandbox.exec(f"rm -f {report}; {command}", timeout, workdir=workdir, env=env)
    if settle is not None:
        settle()
    raw = sandbox.get_file(report)
    text = raw.decode("utf-8", "replace") if raw else ""
    return TestRun(res, parse_report(text), reported_twice(text))
