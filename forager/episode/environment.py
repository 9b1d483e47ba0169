"""The episode's sandbox: one container from the task's image, spoken to through a persistent shell.

The container is started through the container runtime (network off, all capabilities dropped,
no-new-privileges, pids / memory / CPU limits, sized tmpfs for every place the agent can write).
A non-root user (``forager``) is added when the image lets us; otherwise the episode runs as root
and says so in ``Environment.user``. Commands go through one persistent ``bash`` per episode
(``forager.runtime.shell``): the current directory and exported variables persist between them.
The agent's tools live in ``forager.episode.tools``; ``Environment.execute`` dispatches to them.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from forager.config import Settings, get_settings
from forager.errors import EngineError, SandboxError
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import ExecResult, Limits, Runtime, Sandbox, get_runtime
from forager.runtime.shell import STATE_DIR, Observation, Shell

if TYPE_CHECKING:
    from forager.trajectory.schema import Action

REPO = "/repo"
USER_NAME = "forager"
USER_ID = 7000
USER_HOME = "/tmp/forager-home"
EPISODE_LABEL = "forager.episode"
CACHE_DIRS = ("__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info")
"""Folders running and installing leave in /repo (and ``*.pyc``): never in a snapshot, never judged."""
GIT_EXCLUDES = "*.pyc\n" + "".join(f"{d}/\n" for d in CACHE_DIRS)
SAFE_GIT = ("git -c safe.directory='*' -c core.fsmonitor=false -c core.hooksPath=/dev/null "
            "-c core.untrackedCache=false --no-replace-objects")
"""git as root over a tree the agent could write: none of the repository's own hooks, monitors
or replacement objects run or count."""
MAKE_USER = (
    f"set -e; if ! id -u {USER_NAME} >/dev/null 2>&1; then "
    f"grep -q ':{USER_ID}:' /etc/passwd && exit 3; "
    f"echo '{USER_NAME}:x:{USER_ID}:{USER_ID}:forager agent:{USER_HOME}:/bin/bash' >> /etc/passwd; "
    f"grep -q '^{USER_NAME}:' /etc/group || echo '{USER_NAME}:x:{USER_ID}:' >> /etc/group; fi; "
    f"[ \"$(id -u {USER_NAME})\" = {USER_ID} ]; "
    f"if [ -d {REPO} ]; then find {REPO} -user 0 ! -type l -exec chmod a+rwX {{}} +; fi; "
    f"if command -v git >/dev/null; then git config --system --add safe.directory '*'; fi"
)
"""Add the unprivileged user and open /repo to it (exit status not 0: the image will not). The
tree of a workspace filled as the user (``WORKSPACE_OWNER``) is the user's already; what root owns
is opened (never through a link: the sandbox's root owns the image's system files too)."""
WORKSPACE_OWNER = str(USER_ID)
"""The agent's /repo, filled from the image, belongs to the agent's user, as the image's /repo
belongs to root where it was built and its tests were validated and tasks made: a test that sets
a file's times (``os.utime``) or its mode needs to own the file, and the judge's tests run as the
user (jinja2's ``test_caches_template_based_on_mtime`` failed every judged episode before)."""


def user_home(user: str) -> str:
    return USER_HOME if user != "root" else "/root"


class Environment:
    """A sandbox container with a persistent shell; see the module docstring."""

    def __init__(self, sandbox: Sandbox, *, user: bool = True, settings: Settings | None = None,
                 runtime: Runtime | None = None, known_user: str | None = None) -> None:
        self.sandbox = sandbox
        self.runtime = runtime
        """The runtime that started the sandbox (the reward's fresh container comes from it too)."""
        self.settings = settings or get_settings()
        self.test_command = ""
        self.base_tree: str | None = None
        self.repo = sandbox.path(REPO)
        """Where /repo is for the sandbox's processes (itself, but for a runtime without containers)."""
        # a sandbox that shares the host's processes (a runtime without containers) shares its
        # /etc/passwd too: no user is added there
        # ``known_user``: a sandbox set up before (a session's, reached again) is not set up twice
        self.user = known_user or (self._make_user() if user and sandbox.pid_namespace else "root")
        env = {"HOME": user_home(self.user), "PAGER": "cat", "GIT_PAGER": "cat", "TERM": "dumb",
               "PYTHONDONTWRITEBYTECODE": "1"}
        self.shell = Shell(sandbox, user=self.user, env=env, output_limit=self.settings.output_limit)

    def _make_user(self) -> str:
        """Add an unprivileged user and open /repo to it; fall back to root when the image won't."""
        res: ExecResult = self.sandbox.exec(MAKE_USER, 120)
        return USER_NAME if res.exit_code == 0 else "root"

    def path(self, path: str) -> str:
        """Where a sandbox path (as the agent names it) is for the sandbox's processes."""
        return str(self.sandbox.path(path))

    def close(self) -> None:
        self.shell.close()

    def run(self, command: str, timeout: float | None = None, limit: int | None = -1) -> Observation:
        """One command in the persistent shell (the settings' command timeout by default)."""
        return self.shell.run(command, timeout or self.settings.command_timeout_s, limit)

    def read_file(self, path: str) -> tuple[bytes | None, str]:
        """The file's bytes as the sandbox user can read them, or None and why not."""
        quoted = shlex.quote(self.path(path))
        obs = self.run(f"if [ -d {quoted} ]; then echo __DIR__; exit 3; fi; base64 -w0 -- {quoted}",
                       timeout=60, limit=None)
        if obs.exit_code != 0:
            return None, obs.output.strip() or f"cannot read {path}"
        try:
            return base64.b64decode(obs.output.strip()), ""
        except ValueError as exc:
            return None, f"cannot decode {path}: {exc}"

    def write_file(self, path: str, data: bytes) -> Observation:
        quoted = shlex.quote(self.path(path))
        encoded = base64.encodebytes(data).decode()
        return self.run(f"mkdir -p \"$(dirname {quoted})\" && base64 -d > {quoted} <<'__FORAGER_DATA__'\n"
                        f"{encoded}__FORAGER_DATA__", timeout=60, limit=2000)

    def execute(self, action: Action) -> Observation:
        """Carry out one tool call (``forager.episode.tools``); bad arguments give an error observation."""
        from forager.episode.tools import execute

        return execute(self, action)

    def snapshot_tree(self) -> str | None:
        """A git tree of the working copy (untracked files included); see ``snapshot_tree``."""
        return snapshot_tree(self.sandbox)

    def apply_patch(self, patch: str) -> Observation:
        """``git apply`` a patch in /repo as the sandbox user."""
        if not patch.strip():
            return Observation("", 0, 0.0)
        encoded = base64.encodebytes(patch.encode()).decode()
        state = self.path(STATE_DIR)
        return self.run(f"cd {self.repo} && base64 -d > {state}/apply.patch <<'__FORAGER_DATA__'\n"
                        f"{encoded}__FORAGER_DATA__\ngit apply --whitespace=nowarn {state}/apply.patch",
                        timeout=120, limit=4000)


def snapshot_tree(sandbox: Sandbox, work_tree: str = REPO) -> str | None:
    """A git tree of ``work_tree`` (untracked files included) in the object store of /repo,
    written as root through a private index in a private directory: nothing reaches the agent's
    shell (no ``GIT_INDEX_FILE`` left behind) and nothing the agent set up takes part."""
    q = shlex.quote(sandbox.path(work_tree))
    git_dir = f"{sandbox.path(REPO)}/.git"
    script = (
        f"d=$(mktemp -d) && printf '{GIT_EXCLUDES}' > $d/excludes && "
        f"cp {git_dir}/index $d/index 2>/dev/null; cd {q} && "
        f"GIT_INDEX_FILE=$d/index {SAFE_GIT} --git-dir={git_dir} --work-tree={q} "
        f"-c core.excludesFile=$d/excludes add -A . >/dev/null && "
        f"GIT_INDEX_FILE=$d/index {SAFE_GIT} --git-dir={git_dir} write-tree; rc=$?; rm -rf $d; exit $rc"
    )
    res: ExecResult = sandbox.exec(script, 300, user="root")
    tree = res.output.strip().splitlines()[-1] if res.output.strip() else ""
    return tree if res.exit_code == 0 and re.fullmatch(r"[0-9a-f]{40,64}", tree) else None


@contextmanager
def open_environment(image: str, *, name: str | None = None, user: bool = True, task: Any = None,
                     runtime: Runtime | None = None, settings: Settings | None = None
                     ) -> Iterator[Environment]:
    """A sandbox container from ``image`` (network off) with a persistent shell; always removed.

    With ``task`` (a ``db.Task`` row, dict, id or ``TaskSpec``) the environment is brought to the
    task state first (``setup_task``): its setup patch applied and its test command set.
    ``runtime`` defaults to the configured container runtime."""
    from forager.episode.spec import setup_task

    try:
        runtime = runtime or get_runtime()
        sandbox = runtime.start(
            image, name=name, limits=Limits.from_settings(network=False, disk=True, settings=settings),
            labels={EPISODE_LABEL: "1", OWNER_LABEL: this_process()}, workspace=REPO,
            workspace_owner=WORKSPACE_OWNER if user else None)
    except EngineError as exc:
        raise SandboxError(str(exc)) from exc
    env: Environment | None = None
    try:
        env = Environment(sandbox, user=user, settings=settings, runtime=runtime)
        if task is not None:
            setup_task(env, task)
        yield env
    finally:
        if env is not None:
            env.close()
        sandbox.remove()


class AsUser:
    """The sandbox seen through the episode's user (the reward's tests run as the agent's user)."""

    def __init__(self, sandbox: Sandbox, user: str) -> None:
        self._sandbox, self._user = sandbox, user

    def exec(self, command: str, timeout: float, workdir: str | None = None,
             env: Mapping[str, str] | None = None, user: str | None = None) -> ExecResult:
        merged = {"HOME": user_home(self._user), **(env or {})}
        return self._sandbox.exec(command, timeout, workdir=workdir, env=merged, user=user or self._user)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)
