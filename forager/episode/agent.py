"""Agent episodes: the sandboxed environment, its tools, the LLM and oracle agents, and the reward.

Environment
    One container per episode from the task's image, started through ``forager.runtime`` (network
    off, all capabilities dropped, no-new-privileges, pids / memory / CPU limits). A non-root user
    (``forager``) is added to the container when the image lets us; otherwise the episode runs as
    root and says so in ``Environment.user``. Commands go through one *persistent* ``bash`` per
    episode (a single ``docker exec -i``), so a command costs a pipe round trip instead of a new
    ``docker exec``. Protocol: the command is shipped base64-encoded into a script file, run as
    ``timeout -k 5 T bash script`` (``timeout`` signals the command's whole process group), and
    followed by a unique end marker carrying the exit code. The current directory and exported
    variables persist between commands. A command that outlives even the in-container timeout, or
    a shell that dies, gets a fresh shell; the episode goes on.

Tools
    ``bash``, ``view`` (a file with line numbers, or a directory listing), ``edit`` (exact, unique
    string replacement), ``create``, ``run_tests`` (the image's test command, optionally on chosen
    test ids) and ``submit``. Output is truncated (head and tail kept) by ``forager.runtime.truncate``.

Reward
    After submit or the end of a budget: the final diff (against the task state) is recorded, the
    test files named by FAIL_TO_PASS / PASS_TO_PASS are restored to the task state, and those tests
    run; ``resolved`` means every one of them passed.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from forager.config import get_settings
from forager.errors import EngineError, ForagerError, SandboxError
from forager.runtime.docker import ExecResult, Limits, get_runtime
from forager.runtime.shell import STATE_DIR, Observation, Shell
from forager.text import truncate
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn
from forager.trajectory.store import save

REPO = "/repo"
USER_NAME = "forager"
USER_ID = 7000
USER_HOME = "/tmp/forager-home"
EPISODE_LABEL = "forager.episode"
OWNER_LABEL = "forager.owner"
GIT_EXCLUDES = "__pycache__/\n*.pyc\n.pytest_cache/\n*.egg-info/\n"
def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ----------------------------------------------------------------------------- environment
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "bash",
        "description": "Run a bash command in the repository (cwd and exported variables persist). "
                       "Commands are killed after a timeout; long output is truncated.",
        "parameters": {"type": "object", "properties": {
            "command": {"type": "string", "description": "the command to run"}},
            "required": ["command"]}}},
    {"type": "function", "function": {
        "name": "view",
        "description": "Show a file with line numbers (optionally a line range), or list a directory.",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "absolute, or relative to /repo"},
            "start_line": {"type": "integer", "description": "first line to show (1-based)"},
            "end_line": {"type": "integer", "description": "last line to show (inclusive)"}},
            "required": ["path"]}}},
    {"type": "function", "function": {
        "name": "edit",
        "description": "Replace one exact occurrence of old_str with new_str in a file. old_str must "
                       "appear exactly once (include enough context to make it unique).",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "absolute, or relative to /repo"},
            "old_str": {"type": "string", "description": "the exact text to replace"},
            "new_str": {"type": "string", "description": "the replacement text"}},
            "required": ["path", "old_str", "new_str"]}}},
    {"type": "function", "function": {
        "name": "create",
        "description": "Create a file with the given content (overwrites an existing file).",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "absolute, or relative to /repo"},
            "content": {"type": "string", "description": "the whole file content"}},
            "required": ["path", "content"]}}},
    {"type": "function", "function": {
        "name": "run_tests",
        "description": "Run the repository's test suite, or only the given pytest node ids / paths.",
        "parameters": {"type": "object", "properties": {
            "tests": {"type": "array", "items": {"type": "string"},
                      "description": "pytest node ids or test files; all tests when omitted"}},
            "required": []}}},
    {"type": "function", "function": {
        "name": "submit",
        "description": "Finish: submit the current state of the repository as your solution.",
        "parameters": {"type": "object", "properties": {}, "required": []}}},
]
TOOL_NAMES = [t["function"]["name"] for t in TOOLS]

_VALUE_OPTIONS = {"-p", "-k", "-m", "-c", "-o", "-W", "--rootdir", "--confcutdir", "--deselect",
                  "--ignore", "--import-mode", "--basetemp"}


def test_command_for(test_command: str, tests: list[str] | None) -> str:
    """The image's test command, narrowed to ``tests`` (its own trailing path arguments dropped)."""
    if not tests:
        return test_command
    tokens = shlex.split(test_command)
    while (len(tokens) > 1 and not tokens[-1].startswith("-") and tokens[-1] != "pytest"
           and tokens[-2] not in _VALUE_OPTIONS):
        tokens.pop()
    return shlex.join(tokens + list(tests))


class Environment:
    """A sandbox container with a persistent shell; see the module docstring."""

    def __init__(self, sandbox: Any, *, user: bool = True) -> None:
        self.sandbox = sandbox
        self.settings = get_settings()
        self.test_command = ""
        self.base_tree: str | None = None
        self.user = self._make_user() if user else "root"
        env = {"HOME": USER_HOME if self.user != "root" else "/root", "PAGER": "cat",
               "GIT_PAGER": "cat", "TERM": "dumb", "PYTHONDONTWRITEBYTECODE": "1"}
        self.shell = Shell(sandbox.id, user=self.user, env=env, output_limit=self.settings.output_limit)

    def _make_user(self) -> str:
        """Add an unprivileged user and open /repo to it; fall back to root when the image won't."""
        script = (
            f"set -e; if ! id -u {USER_NAME} >/dev/null 2>&1; then "
            f"grep -q ':{USER_ID}:' /etc/passwd && exit 3; "
            f"echo '{USER_NAME}:x:{USER_ID}:{USER_ID}:forager agent:{USER_HOME}:/bin/bash' >> /etc/passwd; "
            f"grep -q '^{USER_NAME}:' /etc/group || echo '{USER_NAME}:x:{USER_ID}:' >> /etc/group; fi; "
            f"[ \"$(id -u {USER_NAME})\" = {USER_ID} ]; "
            f"if [ -d {REPO} ]; then chmod -R a+rwX {REPO}; fi; "
            f"if command -v git >/dev/null; then git config --system --add safe.directory '*'; fi"
        )
        res: ExecResult = self.sandbox.exec(script, 120)
        return USER_NAME if res.exit_code == 0 else "root"

    def close(self) -> None:
        self.shell.close()

    # -- plain commands
    def run(self, command: str, timeout: float | None = None, limit: int | None = -1) -> Observation:
        return self.shell.run(command, timeout or self.settings.command_timeout_s, limit)

    def read_file(self, path: str) -> tuple[bytes | None, str]:
        """The file's bytes as the sandbox user can read them, or None and why not."""
        quoted = shlex.quote(path)
        obs = self.run(f"if [ -d {quoted} ]; then echo __DIR__; exit 3; fi; base64 -w0 -- {quoted}",
                       timeout=60, limit=None)
        if obs.exit_code != 0:
            return None, obs.output.strip() or f"cannot read {path}"
        try:
            return base64.b64decode(obs.output.strip()), ""
        except ValueError as exc:
            return None, f"cannot decode {path}: {exc}"

    def write_file(self, path: str, data: bytes) -> Observation:
        quoted = shlex.quote(path)
        encoded = base64.encodebytes(data).decode()
        return self.run(f"mkdir -p \"$(dirname {quoted})\" && base64 -d > {quoted} <<'__FORAGER_DATA__'\n"
                        f"{encoded}__FORAGER_DATA__", timeout=60, limit=2000)

    # -- tools
    def execute(self, action: Action) -> Observation:
        """Carry out one tool call. Bad arguments give an error observation, never an exception."""
        start = time.monotonic()
        try:
            handler = getattr(self, f"_tool_{action.tool}", None)
            if action.tool not in TOOL_NAMES or handler is None:
                return Observation(f"error: unknown tool {action.tool!r}; tools: {', '.join(TOOL_NAMES)}",
                                   None, 0.0)
            obs: Observation = handler(**action.args)
        except (TypeError, ValueError) as exc:
            return Observation(f"error: bad arguments for {action.tool}: {exc}", None,
                               time.monotonic() - start)
        obs.duration_s = time.monotonic() - start
        return obs

    def _path(self, path: str) -> str:
        return posixpath.normpath(path if path.startswith("/") else posixpath.join(REPO, path))

    def _tool_bash(self, command: str) -> Observation:
        return self.run(str(command))

    def _tool_view(self, path: str, start_line: int | None = None, end_line: int | None = None
                   ) -> Observation:
        full = self._path(str(path))
        data, error = self.read_file(full)
        if data is None:
            if "__DIR__" in error:
                q = shlex.quote(full)
                return self.run(f"find {q} -maxdepth 2 -not -path '*/.git' -not -path '*/.git/*' "
                                f"-not -path '*/__pycache__*' | sort | head -n 400")
            return Observation(f"error: {error}", 1, 0.0)
        if b"\x00" in data[:8192]:
            return Observation(f"{full}: binary file, {len(data)} bytes", 0, 0.0)
        lines = data.decode("utf-8", "replace").splitlines()
        first = max(1, int(start_line or 1))
        last = min(len(lines), int(end_line) if end_line else len(lines))
        shown = "\n".join(f"{n:6d}\t{lines[n - 1]}" for n in range(first, last + 1))
        header = f"{full} (lines {first}-{last} of {len(lines)})\n" if lines else f"{full} (empty)\n"
        return Observation(truncate(header + shown, self.settings.output_limit), 0, 0.0)

    def _tool_edit(self, path: str, old_str: str, new_str: str) -> Observation:
        full = self._path(str(path))
        data, error = self.read_file(full)
        if data is None:
            return Observation(f"error: {error.replace('__DIR__', 'is a directory')}", 1, 0.0)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Observation(f"error: {full} is not UTF-8 text; edit it with bash", 1, 0.0)
        count = text.count(old_str) if old_str else 0
        if count != 1:
            why = "old_str is empty" if not old_str else (
                f"old_str not found in {full}" if count == 0 else
                f"old_str appears {count} times in {full}; include more context to make it unique")
            return Observation(f"error: {why}; no change made", 1, 0.0)
        at = text.index(old_str)
        updated = text.replace(old_str, new_str, 1)
        written = self.write_file(full, updated.encode())
        if written.exit_code != 0:
            return Observation(f"error: could not write {full}: {written.output.strip()}", 1, 0.0)
        line = text.count("\n", 0, at) + 1
        new_lines = updated.splitlines()
        lo, hi = max(1, line - 3), min(len(new_lines), line + new_str.count("\n") + 3)
        snippet = "\n".join(f"{n:6d}\t{new_lines[n - 1]}" for n in range(lo, hi + 1))
        return Observation(f"edited {full}; lines {lo}-{hi} now read:\n{snippet}", 0, 0.0)

    def _tool_create(self, path: str, content: str) -> Observation:
        full = self._path(str(path))
        exists = self.run(f"test -e {shlex.quote(full)}", timeout=30).exit_code == 0
        written = self.write_file(full, str(content).encode())
        if written.exit_code != 0:
            return Observation(f"error: could not write {full}: {written.output.strip()}", 1, 0.0)
        return Observation(f"{'overwrote' if exists else 'created'} {full} "
                           f"({len(str(content).splitlines())} lines)", 0, 0.0)

    def _tool_run_tests(self, tests: list[str] | str | None = None) -> Observation:
        if not self.test_command:
            return Observation("error: this environment has no test command", None, 0.0)
        if isinstance(tests, str):
            tests = tests.split()
        command = test_command_for(self.test_command, [str(t) for t in tests or []])
        return self.run(f"cd {REPO} && {command}", timeout=self.settings.test_timeout_s)

    def _tool_submit(self) -> Observation:
        return Observation("submitted", 0, 0.0)

    # -- task state and diffs
    def snapshot_tree(self) -> str | None:
        """A git tree of the working copy (untracked files included); see ``snapshot_tree``."""
        return snapshot_tree(self.sandbox)

    def apply_patch(self, patch: str) -> Observation:
        """``git apply`` a patch in /repo as the sandbox user."""
        if not patch.strip():
            return Observation("", 0, 0.0)
        encoded = base64.encodebytes(patch.encode()).decode()
        return self.run(f"cd {REPO} && base64 -d > {STATE_DIR}/apply.patch <<'__FORAGER_DATA__'\n"
                        f"{encoded}__FORAGER_DATA__\ngit apply --whitespace=nowarn {STATE_DIR}/apply.patch",
                        timeout=120, limit=4000)


SAFE_GIT = ("git -c safe.directory='*' -c core.fsmonitor=false -c core.hooksPath=/dev/null "
            "-c core.untrackedCache=false --no-replace-objects")
"""git as root over a tree the agent could write: none of the repository's own hooks, monitors
or replacement objects run or count."""


def snapshot_tree(sandbox: Any, work_tree: str = REPO) -> str | None:
    """A git tree of ``work_tree`` (untracked files included) in the object store of /repo,
    written as root through a private index in a private directory: nothing reaches the agent's
    shell (no ``GIT_INDEX_FILE`` left behind) and nothing the agent set up takes part."""
    q = shlex.quote(work_tree)
    script = (
        f"d=$(mktemp -d) && printf '{GIT_EXCLUDES}' > $d/excludes && "
        f"cp {REPO}/.git/index $d/index 2>/dev/null; cd {q} && "
        f"GIT_INDEX_FILE=$d/index {SAFE_GIT} --git-dir={REPO}/.git --work-tree={q} "
        f"-c core.excludesFile=$d/excludes add -A . >/dev/null && "
        f"GIT_INDEX_FILE=$d/index {SAFE_GIT} --git-dir={REPO}/.git write-tree; rc=$?; rm -rf $d; exit $rc"
    )
    res: ExecResult = sandbox.exec(script, 300, user="root")
    tree = res.output.strip().splitlines()[-1] if res.output.strip() else ""
    return tree if res.exit_code == 0 and re.fullmatch(r"[0-9a-f]{40,64}", tree) else None


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def open_environment(image: str, *, name: str | None = None, user: bool = True,
                     task: Any = None) -> Iterator[Environment]:
    """A sandbox container from ``image`` (network off) with a persistent shell; always removed.

    With ``task`` (a ``db.Task`` row, dict or id) the environment is brought to the task state
    first (``setup_task``): its setup patch applied and its test command set."""
    try:
        runtime = get_runtime()
        sandbox = runtime.start(image, name=name, limits=Limits.from_settings(network=False, disk=True),
                                labels={EPISODE_LABEL: "1", OWNER_LABEL: _owner()}, workspace=REPO)
    except EngineError as exc:
        raise SandboxError(str(exc)) from exc
    env: Environment | None = None
    try:
        env = Environment(sandbox, user=user)
        if task is not None:
            setup_task(env, task)
        yield env
    finally:
        if env is not None:
            env.close()
        sandbox.remove()


def owner_dead(owner: str) -> bool:
    """True when ``owner`` (``host:pid``) names a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def reap_orphans() -> list[str]:
    """Remove episode containers whose owning process (on this host) is gone, and end the
    trajectories such processes left ``running`` (marked incomplete, ``interrupted``); returns the
    names of the containers removed. Safe to call from any process at any time."""
    import docker.errors

    removed: list[str] = []
    for c in get_runtime().client.containers.list(all=True, filters={"label": EPISODE_LABEL}):
        if not owner_dead((c.labels or {}).get(OWNER_LABEL, "")):
            continue
        try:
            c.remove(force=True)
            removed.append(str(c.name))
        except docker.errors.APIError:
            pass
    close_dead_trajectories()
    return removed


def close_dead_trajectories() -> list[str]:
    """Trajectories still ``running`` whose episode's process died: marked ``interrupted``."""
    from sqlalchemy import select

    from forager.store import db
    from forager.trajectory.store import load_stored

    with db.session() as s:
        running = list(s.scalars(select(db.Trajectory.id).where(db.Trajectory.exit_reason == "running")))
    closed = []
    for traj_id in running:
        try:
            traj = load_stored(traj_id).trajectory
        except LookupError:
            continue
        if traj.exit_reason != "running" or not owner_dead(str(traj.meta.get("owner", ""))):
            continue
        traj.complete, traj.exit_reason, traj.finished_at = False, "interrupted", _utcnow()
        traj.meta["error"] = "the process that ran the episode died"
        save(traj)
        closed.append(traj_id)
    return closed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- tasks and reward
@dataclass
class TaskSpec:
    id: str
    image: str
    setup_patch: str
    gold_patch: str
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    problem_statement: str
    test_command: str
    kind: str = ""
    repository: str = ""
    image_digest: str = ""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables the image's recipe sets for its tests."""


def task_spec(task: Any) -> TaskSpec:
    """A task from a ``db.Task`` row, a dict, or a task id (looked up in the registry)."""
    from forager.store import db

    if isinstance(task, TaskSpec):
        return task
    if isinstance(task, str):
        with db.session() as s:
            row = s.get(db.Task, task)
            if row is None:
                raise KeyError(f"no task {task!r}")
            return task_spec(row)
    get = task.get if isinstance(task, Mapping) else lambda k, d=None: getattr(task, k, d)
    image_id = str(get("image_id") or get("image") or "")
    test_command = str(get("test_command") or "")
    repository = str(get("repository") or "")
    digest = ""
    env = dict(get("env") or {})
    if image_id:
        with db.session() as s:
            img = s.get(db.Image, image_id)
            if img is not None:
                test_command = test_command or img.test_command
                repository = repository or img.source
                digest = img.digest
                env = env or {str(k): str(v) for k, v in ((img.recipe or {}).get("env") or {}).items()}
    return TaskSpec(
        id=str(get("id") or ""), image=image_id, setup_patch=str(get("setup_patch") or ""),
        gold_patch=str(get("gold_patch") or ""), fail_to_pass=list(get("fail_to_pass") or []),
        pass_to_pass=list(get("pass_to_pass") or []),
        problem_statement=str(get("problem_statement") or ""), test_command=test_command,
        kind=str(get("kind") or ""), repository=repository, image_digest=digest, env=env)


def setup_task(env: Environment, task: Any) -> None:
    """Bring the environment to the task state: apply the setup patch, remember that state."""
    spec = task_spec(task)
    env.test_command = spec.test_command
    if spec.env:  # exported once; the shell keeps exported variables between commands
        env.run("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in spec.env.items()), timeout=30)
    obs = env.apply_patch(spec.setup_patch)
    if obs.exit_code != 0:
        raise SandboxError(f"the task's setup patch does not apply: {obs.output.strip()[:500]}")
    env.base_tree = env.snapshot_tree()


class _AsUser:
    """The sandbox seen through the episode's user (reward tests run as the agent's user)."""

    def __init__(self, sandbox: Any, user: str) -> None:
        self._sandbox, self._user = sandbox, user

    def exec(self, command: str, timeout: float, workdir: str | None = None,
             env: Mapping[str, str] | None = None, user: str | None = None) -> ExecResult:
        merged = {"HOME": USER_HOME if self._user != "root" else "/root", **(env or {})}
        return self._sandbox.exec(command, timeout, workdir=workdir, env=merged, user=user or self._user)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)


def compute_reward(env: Environment, task: Any) -> Reward:
    """The episode's reward, judged in a fresh container (``forager.reward``)."""
    from forager.episode.reward import compute_reward as judged

    return judged(env, task)


# ----------------------------------------------------------------------------- agents
SYSTEM_PROMPT = """You are a software engineer working in a Python repository at /repo, inside a \
sandbox with no network access. Investigate the problem, change the code to fix it, check your work \
with the tests, and submit when done. Use one tool call per reply. Paths may be absolute or \
relative to /repo."""


def user_prompt(spec: TaskSpec) -> str:
    return (f"<problem_statement>\n{spec.problem_statement.strip() or 'Make the failing tests pass.'}\n"
            f"</problem_statement>\n\nFix the problem in /repo so that the tests pass without "
            f"breaking other tests. Do not modify the tests. Call submit when you are done.")


def format_observation(obs: Observation) -> str:
    status = "none" if obs.exit_code is None else str(obs.exit_code)
    return f"{obs.output.rstrip()}\n[exit code: {status}]"


STOP = threading.Event()
"""Set to make every running episode stop at its next step (incomplete, container removed)."""


class Interrupted(ForagerError):
    """An episode was stopped from outside (``STOP``)."""


@dataclass
class Budget:
    max_steps: int
    max_tokens: int
    max_wall_s: float


@dataclass
class EpisodeState:
    """What the loop keeps between turns; saved after every turn so a crash loses little."""

    traj: Trajectory
    budget: Budget
    started: float = field(default_factory=time.monotonic)
    tokens: int = 0
    overhead_s: float = 0.0
    persist: bool = True

    def record(self, turn: Turn) -> None:
        self.traj.turns.append(turn)
        self.checkpoint()

    def checkpoint(self) -> None:
        self.traj.duration_s = time.monotonic() - self.started
        if self.persist:
            save(self.traj)

    def out_of_budget(self) -> str:
        if STOP.is_set():
            raise Interrupted("the run was stopped")
        if len(self.traj.turns) >= self.budget.max_steps:
            return "max_steps"
        if self.budget.max_tokens and self.tokens >= self.budget.max_tokens:
            return "max_tokens"
        if time.monotonic() - self.started >= self.budget.max_wall_s:
            return "max_wall_time"
        return ""


def _turn(index: int, message: str, action: Action | None, obs: Observation, begun: datetime,
          model_s: float = 0.0, prompt: int = 0, completion: int = 0) -> Turn:
    return Turn(index=index, model_message=message, action=action, observation=obs.output,
                exit_code=obs.exit_code, duration_s=obs.duration_s, model_duration_s=model_s,
                prompt_tokens=prompt, completion_tokens=completion, started_at=begun,
                finished_at=_utcnow())


def run_llm_agent(env: Environment, spec: TaskSpec, state: EpisodeState, client: Any) -> str:
    """The agent loop; returns the exit reason."""
    from forager.model.client import ModelError, describe_tools_as_text

    native = client.tool_mode == "native"
    system = SYSTEM_PROMPT if native else SYSTEM_PROMPT + "\n\n" + describe_tools_as_text(TOOLS)
    state.traj.system_prompt = system
    messages: list[dict[str, Any]] = [{"role": "system", "content": system},
                                      {"role": "user", "content": user_prompt(spec)}]
    no_action = 0
    while True:
        reason = state.out_of_budget()
        if reason:
            return reason
        begun = _utcnow()
        t0 = time.monotonic()
        try:
            reply = client.complete(messages, TOOLS)
        except ModelError as exc:
            state.traj.meta["model_error"] = str(exc)[:2000]
            return "context_exceeded" if exc.context_exceeded else "model_error"
        state.tokens += reply.prompt_tokens + reply.completion_tokens
        index = len(state.traj.turns)
        if not reply.tool_calls:
            no_action += 1
            hint = ("No tool call found. Call exactly one tool." if native else
                    "No function call found. End your reply with one <function=NAME>...</function> call.")
            obs = Observation(f"error: {hint}", None, 0.0)
            messages += [{"role": "assistant", "content": reply.content},
                         {"role": "user", "content": format_observation(obs)}]
            state.record(_turn(index, reply.content, None, obs, begun, reply.duration_s,
                               reply.prompt_tokens, reply.completion_tokens))
            _account(state, t0, reply.duration_s, obs)
            if no_action >= 3:
                return "no_action"
            continue
        no_action = 0
        call = reply.tool_calls[0]
        action = Action(tool=call.name, args=call.arguments, call_id=call.id or None)
        obs = Observation(f"error: {call.error}", None, 0.0) if call.error else env.execute(action)
        if native:
            messages.append(reply.raw_message)
            for n, other in enumerate(reply.tool_calls):
                content = format_observation(obs) if n == 0 else \
                    "error: not executed; make one tool call per reply"
                messages.append({"role": "tool", "tool_call_id": other.id, "content": content})
        else:
            messages += [{"role": "assistant", "content": reply.content},
                         {"role": "user", "content": "OBSERVATION:\n" + format_observation(obs)}]
        state.record(_turn(index, reply.content, action, obs, begun, reply.duration_s,
                           reply.prompt_tokens, reply.completion_tokens))
        _account(state, t0, reply.duration_s, obs)
        if call.name == "submit" and not call.error:
            return "submitted"


def _account(state: EpisodeState, t0: float, model_s: float, obs: Observation) -> None:
    state.overhead_s += max(0.0, time.monotonic() - t0 - model_s - obs.duration_s)


def run_oracle_agent(env: Environment, spec: TaskSpec, state: EpisodeState) -> str:
    """Apply the gold patch with the bash tool, run the FAIL_TO_PASS tests, submit."""
    state.traj.system_prompt = "oracle: applies the task's gold patch through the agent tools"
    patch = spec.gold_patch if spec.gold_patch.endswith("\n") else spec.gold_patch + "\n"
    steps: list[tuple[str, Action]] = [
        ("Apply the reference fix.", Action(tool="bash", args={"command": (
            f"cd {REPO} && git apply --whitespace=nowarn - <<'__FORAGER_GOLD_PATCH__'\n{patch}"
            f"__FORAGER_GOLD_PATCH__")}, call_id="oracle-0")),
        ("Check the failing tests.", Action(tool="run_tests", args={"tests": spec.fail_to_pass},
                                            call_id="oracle-1")),
        ("Submit.", Action(tool="submit", args={}, call_id="oracle-2")),
    ]
    for message, action in steps:
        reason = state.out_of_budget()
        if reason:
            return reason
        begun = _utcnow()
        t0 = time.monotonic()
        obs = env.execute(action)
        state.record(_turn(len(state.traj.turns), message, action, obs, begun))
        _account(state, t0, 0.0, obs)
    return "submitted"


# ----------------------------------------------------------------------------- episodes
class EpisodeError(ForagerError):
    """An episode could not run to an end; ``trajectory_id`` names its stored (incomplete) record."""

    def __init__(self, message: str, trajectory_id: str | None = None) -> None:
        super().__init__(message)
        self.trajectory_id = trajectory_id


def run_episode(
    task_id: str,
    *,
    agent: str = "llm",
    model_url: str | None = None,
    model_name: str | None = None,
    max_steps: int | None = None,
    max_tokens: int | None = None,
    max_wall_s: float | None = None,
    tool_mode: str = "native",
    temperature: float = 0.0,
    api_key: str | None = None,
    persist: bool = True,
) -> Trajectory:
    """Run one episode of ``agent`` ('llm' or 'oracle') on a task; store and return the trajectory.

    Budget ends and model failures are normal ends (``exit_reason`` says which). A crash, an
    interrupt or an unusable sandbox leaves a stored trajectory marked incomplete and raises
    ``EpisodeError``; the container is removed in every case."""
    from forager.store import db

    settings = get_settings()
    if agent not in ("llm", "oracle"):
        raise ValueError(f"agent must be 'llm' or 'oracle', not {agent!r}")
    spec = task_spec(task_id)
    client = None
    if agent == "llm":
        from forager.model.client import ChatClient

        url = model_url or settings.model_url
        name = model_name or settings.model_name
        if not url or not name:
            raise ValueError("the llm agent needs --model URL and --model-name NAME "
                             "(or FORAGER_MODEL_URL / FORAGER_MODEL_NAME)")
        from forager.model.keys import model_key_for

        # the server's own key goes only to its trusted endpoints; any other URL gets the caller's key or none
        client = ChatClient(url, name, model_key_for(url, api_key), tool_mode=tool_mode,
                            temperature=temperature, max_tokens=settings.model_max_tokens,
                            timeout_s=settings.model_timeout_s, max_retries=settings.model_retries)
    traj = Trajectory(
        id=db.new_id("traj"), task_id=spec.id, image=spec.image, image_digest=spec.image_digest or None,
        repository=spec.repository or None, kind=spec.kind or None, agent=agent,
        model=ModelInfo(name=client.model, url=client.url, sampling=client.sampling) if client
        else ModelInfo(name="oracle"),
        problem_statement=spec.problem_statement, complete=False, exit_reason="running",
        started_at=_utcnow())
    budget = Budget(max_steps=max_steps or settings.max_steps,
                    max_tokens=max_tokens if max_tokens is not None else settings.max_tokens,
                    max_wall_s=max_wall_s or settings.max_wall_s)
    traj.meta["budget"] = asdict(budget)
    traj.meta["owner"] = _owner()
    state = EpisodeState(traj=traj, budget=budget, persist=persist)
    state.checkpoint()
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 3)
        mark = now

    try:
        with open_environment(spec.image, name=f"forager-ep-{traj.id}") as env:
            phase("start")
            traj.meta.update(sandbox_user=env.user, container=env.sandbox.name)
            if not traj.image_digest:
                traj.image_digest = get_runtime().image_digest(spec.image)
            setup_task(env, spec)
            phase("setup")
            if client is not None:
                reason = run_llm_agent(env, spec, state, client)
            else:
                reason = run_oracle_agent(env, spec, state)
            phase("agent")
            traj.exit_reason = reason
            from forager.episode.reward import judge

            judged = judge(env, spec)
            traj.final_diff, traj.reward = judged.diff, judged.reward
            phase("reward")
            traj.meta.update(tokens=state.tokens, orchestration_overhead_s=round(state.overhead_s, 4),
                             shell_restarts=env.shell.restarts)
        phase("teardown")
        traj.meta["phases_s"] = phases
        traj.complete = True
        traj.finished_at = _utcnow()
        state.checkpoint()
        return traj
    except BaseException as exc:
        traj.complete = False
        traj.finished_at = _utcnow()
        traj.exit_reason = ("interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit | Interrupted)
                            else "environment_error" if isinstance(exc, SandboxError)
                            else "crashed")
        traj.meta["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        state.checkpoint()
        if isinstance(exc, Exception):
            raise EpisodeError(f"episode on {spec.id} did not finish: {traj.meta['error']}",
                               traj.id) from exc
        raise
    finally:
        if client is not None:
            client.close()


@dataclass
class EpisodeSummary:
    task_id: str
    trajectory_id: str | None
    resolved: bool
    steps: int
    duration_s: float
    exit_reason: str
    complete: bool = True
    error: str = ""
    overhead_per_step_s: float = 0.0

    @classmethod
    def of(cls, traj: Trajectory) -> EpisodeSummary:
        steps = len(traj.turns)
        return cls(task_id=traj.task_id or "", trajectory_id=traj.id, resolved=traj.resolved,
                   steps=steps, duration_s=round(traj.duration_s, 3), exit_reason=traj.exit_reason,
                   complete=traj.complete,
                   overhead_per_step_s=round(traj.meta.get("orchestration_overhead_s", 0.0) / steps, 4)
                   if steps else 0.0)

    def public(self) -> dict[str, Any]:
        """The fields ``forager run --json`` prints."""
        return {"trajectory_id": self.trajectory_id, "task_id": self.task_id, "resolved": self.resolved,
                "steps": self.steps, "duration_s": self.duration_s, "exit_reason": self.exit_reason}


def run_many(task_ids: list[str], *, concurrency: int = 2,
             progress: Callable[[EpisodeSummary], None] | None = None, **kwargs: Any
             ) -> list[EpisodeSummary]:
    """Run one episode per task with at most ``concurrency`` at once; failures are summarised."""

    def one(task_id: str) -> EpisodeSummary:
        try:
            summary = EpisodeSummary.of(run_episode(task_id, **kwargs))
        except EpisodeError as exc:
            summary = EpisodeSummary(task_id, exc.trajectory_id, False, 0, 0.0, "error",
                                     complete=False, error=str(exc))
        except (KeyError, ValueError) as exc:
            summary = EpisodeSummary(task_id, None, False, 0, 0.0, "error", complete=False,
                                     error=str(exc))
        if progress:
            progress(summary)
        return summary

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
    try:
        return list(pool.map(one, task_ids))
    except BaseException:  # interrupted: stop the running episodes, start no more
        STOP.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        STOP.clear()


def select_tasks(spec: str) -> list[str]:
    """Task ids matching a filter: ``all``, or comma-separated ``kind=``, ``repo=`` (substring of
    the image source), ``image=``, ``status=`` (default validated), ``limit=`` terms."""
    from sqlalchemy import select

    from forager.store import db

    terms: dict[str, str] = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part == "all":
            continue
        key, eq, value = part.partition("=")
        if not eq or key not in ("kind", "repo", "image", "status", "limit"):
            raise ValueError(f"bad task filter term {part!r}; use kind=, repo=, image=, status=, limit=")
        terms[key] = value
    with db.session() as s:
        q = select(db.Task.id).join(db.Image, db.Image.id == db.Task.image_id)
        q = q.where(db.Task.status == terms.get("status", "validated"))
        if "kind" in terms:
            q = q.where(db.Task.kind == terms["kind"])
        if "image" in terms:
            q = q.where(db.Task.image_id == terms["image"])
        if "repo" in terms:
            q = q.where(db.Image.source.contains(terms["repo"]))
        q = q.order_by(db.Task.created_at, db.Task.id)
        if "limit" in terms:
            q = q.limit(int(terms["limit"]))
        return list(s.scalars(q))


def summary_json(summary: EpisodeSummary) -> str:
    return json.dumps(summary.public())
