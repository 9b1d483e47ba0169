"""The one container per image that serves a whole batch of candidates: network off, /repo reset
with git between candidates (a container that stopped is replaced), patches applied, tests run."""

from __future__ import annotations

import io
import shlex
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from forager.build.testrun import TestRun, run_tests, site_packages
from forager.config import get_settings
from forager.errors import EngineError
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import ExecResult, Limits, Runtime, Sandbox, get_runtime
from forager.tasks.errors import TaskError

if TYPE_CHECKING:
    from forager.config import Settings

REPO = "/repo"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class WorkspaceConfig:
    """What a workspace takes from the settings."""

    limits: Limits
    """Sandbox limits of the container (network always off)."""
    test_timeout_s: float
    """No test run lasts longer (``FORAGER_TEST_TIMEOUT_S``)."""

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WorkspaceConfig:
        s = settings or get_settings()
        return cls(Limits.from_settings(network=False, settings=s), float(s.test_timeout_s))


class Workspace:
    """One container of an image; /repo is reset between candidates."""

    ROLE = "tasks"
    """The container's ``forager.role`` label (trace collection uses its own). Its owner label is
    this process: without it the container inherits the image's (the build's process, long gone)
    and any ``reap()`` on the engine removes it as a dead owner's."""

    def __init__(self, image: str, test_command: str, progress: Progress,
                 env: dict[str, str] | None = None, config: WorkspaceConfig | None = None,
                 runtime: Runtime | None = None) -> None:
        self.image = image
        self.test_command = test_command
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        self.progress = progress
        self.config = config or WorkspaceConfig.from_settings()
        self.runtime = runtime or get_runtime()
        self.box: Sandbox | None = None
        self.head = ""
        self.purelib: str | None = None
        """The image's site-packages (probed once, or known from the kept call map)."""
        self.suspect = False
        """A command timed out: the container may have been killed."""
        self.start()

    def start(self) -> None:
        """A new container (the old one removed): its HEAD recorded, pytest's rootdir pinned, and
        the files the build left untracked kept out of every reset."""
        if self.box is not None:
            self.box.remove()
        self.box = self.runtime.start(
            self.image, name=f"forager-tasks-{uuid.uuid4().hex[:10]}", limits=self.config.limits,
            env={"PYTHONDONTWRITEBYTECODE": "1"},
            # the image carries its builder's owner label; a reaper of dead builders' containers
            # would remove this container unless it names its own (live) owner
            labels={"forager.role": self.ROLE, OWNER_LABEL: this_process()})
        self.head = self._head()
        self._pin_rootdir()
        # files the build left untracked (egg-info, generated modules) survive every reset
        self.sh("git ls-files -z --others --exclude-standard | tr '\\0' '\\n' | sed 's|^|/|' "
                ">> .git/info/exclude", 60)

    def _head(self, tries: int = 3) -> str:
        """The commit of /repo. An exec that reports success with no output at all (seen once under
        load, right after the container started) is asked again, not read as an empty line."""
        for _ in range(tries):
            res = self.sh("git rev-parse HEAD", 60)
            if not res.ok:
                raise TaskError(f"/repo in {self.image} is not a git repository: {res.output[-300:]}")
            lines = res.output.strip().splitlines()
            if lines:
                return lines[-1]
        raise TaskError(f"git rev-parse HEAD in {self.image} printed nothing, {tries} times")

    def _pin_rootdir(self) -> None:
        """Pin pytest's rootdir to the one a plain run finds: an existing path among the options
        (the select file in /tmp) would otherwise widen it to "/" and change every test id. A test
        command that names its rootdir (the builder's always do) needs no probe: the probe is a
        collection of the whole suite, paid by every generation."""
        if "--rootdir" in self.test_command:
            return
        probe = self.sh(f"{self.test_command} --collect-only 2>&1 | grep -m1 '^rootdir: '", 600)
        rootdir = probe.output.strip().removeprefix("rootdir: ").split(",")[0].strip() if probe.ok else ""
        if rootdir.startswith("/"):
            self.test_command = f"{self.test_command} --rootdir={shlex.quote(rootdir)}"

    @property
    def sandbox(self) -> Sandbox:
        if self.box is None:
            raise EngineError(f"the workspace of {self.image} has been removed")
        return self.box

    def sh(self, command: str, timeout: float = 120) -> ExecResult:
        return self.sandbox.exec(command, timeout, workdir=REPO, env=self.env or None)

    def site_packages(self) -> str | None:
        """The image's site-packages directory (where plugins go), probed once per workspace."""
        if self.purelib is None:
            self.purelib = site_packages(self.sandbox)
        return self.purelib

    def alive(self) -> bool:
        return self.sh("true", 30).ok

    def reset(self) -> None:
        """Back to the image state; a container that stopped (a command outlived its timeout and
        the backstop killed it, or the engine lost it) is replaced instead of failing every
        candidate after it."""
        if self.suspect and not self.alive():
            self.progress("container stopped (a command outlived its timeout); starting a new one")
            self.start()
        res = self.checkout(self.head)
        if not res.ok and not self.alive():
            self.progress("container stopped; starting a new one")
            self.start()
            res = self.checkout(self.head)
        self.suspect = False
        if not res.ok:
            raise EngineError(f"could not reset /repo: {res.output[-500:]}")

    def checkout(self, commit: str) -> ExecResult:
        """/repo at ``commit`` (detached), every change and untracked file gone."""
        return self.sh(f"git checkout -q -f --detach {commit} && git clean -fdq", 120)

    def apply(self, patch: str, index: bool = False) -> str | None:
        """Apply a patch in /repo; the error text when it does not apply."""
        if not patch:
            return None
        self.sandbox.put_files({"/tmp/forager-task.patch": patch.encode()})
        flag = "--index " if index else ""
        res = self.sh(f"git apply {flag}--whitespace=nowarn /tmp/forager-task.patch", 120)
        return None if res.ok else (res.output.strip()[-500:] or f"git apply exited {res.exit_code}")

    def run(self, test_ids: list[str] | None, timeout: float | None = None, extra: str = "") -> TestRun:
        """Run ``test_ids`` (None: the whole suite) for at most ``timeout`` seconds, never past the
        configured test timeout (None: that timeout)."""
        limit = self.config.test_timeout_s if timeout is None else min(timeout, self.config.test_timeout_s)
        command = f"{self.test_command} {extra}".strip()
        run = run_tests(self.sandbox, command, timeout=limit, test_ids=test_ids, workdir=REPO,
                        env=self.env or None)
        self.suspect = self.suspect or run.exec.timed_out or run.exec.exit_code == -1
        return run

    def read_files(self, paths: list[str]) -> dict[str, str]:
        """Text of files under /repo (undecodable ones left out)."""
        if not paths:
            return {}
        self.sandbox.put_files({"/tmp/forager-files.txt": "\n".join(paths).encode()})
        res = self.sh("tar -cf /tmp/forager-files.tar -T /tmp/forager-files.txt", 300)
        raw = self.sandbox.get_file("/tmp/forager-files.tar") if res.ok else None
        return _texts(raw) if raw else {}

    def remove(self) -> None:
        if self.box is not None:
            self.box.remove()
            self.box = None


def _texts(tar_bytes: bytes) -> dict[str, str]:
    """The UTF-8 text files of a tar archive by name."""
    out: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for member in tar.getmembers():
            f = tar.extractfile(member) if member.isfile() else None
            if f is None:
                continue
            try:
                out[member.name] = f.read().decode("utf-8")
            except UnicodeDecodeError:
                continue
    return out
