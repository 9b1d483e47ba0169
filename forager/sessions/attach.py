"""A session's container: started once in the hardened sandbox of episodes, then reached from any
API process by its name on the Docker engine, with a shell of that process's own.

The shell keeps the current directory and exported variables in files inside the container
(``forager.runtime.shell``), so a shell started by another process carries on where the last one
stopped. A process reuses its cached shell only when it ran the session's last action (the row's
``shell_owner``); otherwise it starts a fresh one, whose list of processes to keep includes the
other process's shell.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Protocol

from forager.config import Settings
from forager.episode.environment import REPO, WORKSPACE_OWNER, Environment
from forager.errors import EngineError, SandboxError
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import Limits, Runtime, Sandbox, get_runtime
from forager.store.sessions import SessionRow

SESSION_LABEL = "forager.session"
"""Label of a session's container: the session id."""
FARM_LABEL = "forager.session-farm"
"""Label of a session's container: the registry's farm id (a reaper touches only its farm's)."""
SHELL_OWNER = f"{this_process()}:{uuid.uuid4().hex[:8]}"
"""This process as the owner of a session's shell (a pid reused later is another owner)."""


SHELL_TRIES = 3
"""Tries to start a shell in a running container before the action fails."""


class ContainerGone(SandboxError):
    """The session's container is gone or stopped."""


class Attachable(Protocol):
    def attach(self, ref: str) -> Sandbox | None: ...


def container_name(session_id: str) -> str:
    return f"forager-{session_id}"


def start_container(image: str, session_id: str, farm: str, settings: Settings,
                    runtime: Runtime | None = None) -> Sandbox:
    """The session's sandbox: network off, the limits and tmpfs places of an episode's. Its owner
    label is set empty: a container inherits its image's labels, and a Forager image carries the
    ``forager.build`` and ``forager.owner`` of the build that made it, so without this every
    process's reaper of dead builds would remove the session's container once that build's process
    is gone. A session's container belongs to its registry row, never to a process."""
    runtime = runtime or get_runtime()
    try:
        return runtime.start(image, name=container_name(session_id),
                             limits=Limits.from_settings(network=False, disk=True, settings=settings),
                             labels={SESSION_LABEL: session_id, FARM_LABEL: farm, OWNER_LABEL: ""},
                             workspace=REPO, workspace_owner=WORKSPACE_OWNER)
    except EngineError as exc:
        raise SandboxError(str(exc)) from exc


def attach(container: str, runtime: Runtime | None = None) -> Sandbox | None:
    """The running container again (None when it is gone or stopped)."""
    runtime = runtime or get_runtime()
    if not hasattr(runtime, "attach"):
        raise SandboxError("sessions need a container runtime that can reach a container by name (docker)")
    found: Attachable = runtime  # type: ignore[assignment]  # checked just above
    return found.attach(container)


def session_settings(settings: Settings, action_timeout_s: int) -> Settings:
    """The settings a session's tools run under: every command within the action timeout."""
    return settings.model_copy(update={"command_timeout_s": action_timeout_s,
                                       "test_timeout_s": min(settings.test_timeout_s, action_timeout_s)})


class Shells:
    """This process's environments (container + shell) of the sessions it served, by session id."""

    def __init__(self) -> None:
        self._envs: dict[str, Environment] = {}
        self._lock = threading.Lock()

    def put(self, session_id: str, env: Environment) -> None:
        with self._lock:
            old = self._envs.pop(session_id, None)
            self._envs[session_id] = env
        if old is not None and old is not env:
            old.close()

    def environment(self, row: SessionRow, settings: Settings, runtime: Runtime | None = None) -> Environment:
        """The session's environment with a shell this process may use now (see the module
        docstring); ``SandboxError`` when the container is gone."""
        with self._lock:
            env = self._envs.get(row.id)
        if env is not None and row.shell_owner == SHELL_OWNER and env.shell.alive:
            return env
        self.drop(row.id)
        env = _new_environment(row, settings, runtime)
        env.test_command = row.test_command
        self.put(row.id, env)
        return env

    def has(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._envs

    def drop(self, session_id: str) -> None:
        with self._lock:
            env = self._envs.pop(session_id, None)
        if env is not None:
            env.close()

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._envs)


def _new_environment(row: SessionRow, settings: Settings, runtime: Runtime | None) -> Environment:
    """The session's container with a new shell of this process (``SHELL_TRIES`` tries)."""
    for attempt in range(SHELL_TRIES):
        box = attach(row.container, runtime)
        if box is None:
            raise ContainerGone(f"the container of session {row.id} is gone")
        try:
            return Environment(box, settings=session_settings(settings, row.action_timeout_s),
                               runtime=runtime, known_user=row.user)
        except SandboxError:  # the engine may refuse an exec now and then under load
            if attempt == SHELL_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


SHELLS = Shells()
"""The shells of this process."""
