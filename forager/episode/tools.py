"""The agent's tools: their schemas (``TOOLS``, sent to the model) and their handlers.

``bash``, ``view`` (a file with line numbers, or a directory listing), ``edit`` (exact, unique
string replacement), ``create``, ``run_tests`` (the image's test command, optionally on chosen test
ids) and ``submit``. Each handler takes the ``Environment`` and the call's arguments and returns an
``Observation``; ``execute`` turns bad calls into error observations, never exceptions. Output is
truncated (head and tail kept) by ``forager.text.truncate``.
"""

from __future__ import annotations

import posixpath
import shlex
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from forager.runtime.shell import Observation
from forager.text import truncate

if TYPE_CHECKING:
    from forager.episode.environment import Environment
    from forager.trajectory.schema import Action

REPO = "/repo"


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


_PATH = {"type": "string", "description": "absolute, or relative to /repo"}
TOOLS: list[dict[str, Any]] = [
    _tool("bash", "Run a bash command in the repository (cwd and exported variables persist). "
                  "Commands are killed after a timeout; long output is truncated.",
          {"command": {"type": "string", "description": "the command to run"}}, ["command"]),
    _tool("view", "Show a file with line numbers (optionally a line range), or list a directory.",
          {"path": _PATH,
           "start_line": {"type": "integer", "description": "first line to show (1-based)"},
           "end_line": {"type": "integer", "description": "last line to show (inclusive)"}}, ["path"]),
    _tool("edit", "Replace one exact occurrence of old_str with new_str in a file. old_str must "
                  "appear exactly once (include enough context to make it unique).",
          {"path": _PATH,
           "old_str": {"type": "string", "description": "the exact text to replace"},
           "new_str": {"type": "string", "description": "the replacement text"}},
          ["path", "old_str", "new_str"]),
    _tool("create", "Create a file with the given content (overwrites an existing file).",
          {"path": _PATH, "content": {"type": "string", "description": "the whole file content"}},
          ["path", "content"]),
    _tool("run_tests", "Run the repository's test suite, or only the given pytest node ids / paths.",
          {"tests": {"type": "array", "items": {"type": "string"},
                     "description": "pytest node ids or test files; all tests when omitted"}}, []),
    _tool("submit", "Finish: submit the current state of the repository as your solution.", {}, []),
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


def execute(env: Environment, action: Action) -> Observation:
    """Carry out one tool call. Bad arguments give an error observation, never an exception."""
    start = time.monotonic()
    try:
        handler = HANDLERS.get(action.tool)
        if handler is None:
            return Observation(f"error: unknown tool {action.tool!r}; tools: {', '.join(TOOL_NAMES)}",
                               None, 0.0)
        obs = handler(env, **action.args)
    except (TypeError, ValueError) as exc:
        return Observation(f"error: bad arguments for {action.tool}: {exc}", None, time.monotonic() - start)
    obs.duration_s = time.monotonic() - start
    return obs


def full_path(path: str) -> str:
    """An agent's path, absolute (relative paths are under /repo) and normalised."""
    return posixpath.normpath(path if path.startswith("/") else posixpath.join(REPO, path))


def numbered(lines: list[str], first: int, last: int) -> str:
    return "\n".join(f"{n:6d}\t{lines[n - 1]}" for n in range(first, last + 1))


def bash(env: Environment, /, command: str) -> Observation:
    return env.run(str(command))


def view(env: Environment, /, path: str, start_line: int | None = None, end_line: int | None = None
         ) -> Observation:
    full = full_path(str(path))
    data, error = env.read_file(full)
    if data is None:
        if "__DIR__" in error:
            q = shlex.quote(env.path(full))
            return env.run(f"find {q} -maxdepth 2 -not -path '*/.git' -not -path '*/.git/*' "
                           f"-not -path '*/__pycache__*' | sort | head -n 400")
        return Observation(f"error: {error}", 1, 0.0)
    if b"\x00" in data[:8192]:
        return Observation(f"{full}: binary file, {len(data)} bytes", 0, 0.0)
    lines = data.decode("utf-8", "replace").splitlines()
    first = max(1, int(start_line or 1))
    last = min(len(lines), int(end_line) if end_line else len(lines))
    header = f"{full} (lines {first}-{last} of {len(lines)})\n" if lines else f"{full} (empty)\n"
    return Observation(truncate(header + numbered(lines, first, last), env.settings.output_limit), 0, 0.0)


def _edit_refusal(text: str, old_str: str, full: str) -> str:
    """Why ``old_str`` cannot be replaced ('' when it appears exactly once)."""
    count = text.count(old_str) if old_str else 0
    if count == 1:
        return ""
    return "old_str is empty" if not old_str else (
        f"old_str not found in {full}" if count == 0 else
        f"old_str appears {count} times in {full}; include more context to make it unique")


def edit(env: Environment, /, path: str, old_str: str, new_str: str) -> Observation:
    full = full_path(str(path))
    data, error = env.read_file(full)
    if data is None:
        return Observation(f"error: {error.replace('__DIR__', 'is a directory')}", 1, 0.0)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Observation(f"error: {full} is not UTF-8 text; edit it with bash", 1, 0.0)
    why = _edit_refusal(text, old_str, full)
    if why:
        return Observation(f"error: {why}; no change made", 1, 0.0)
    at = text.index(old_str)
    updated = text.replace(old_str, new_str, 1)
    written = env.write_file(full, updated.encode())
    if written.exit_code != 0:
        return Observation(f"error: could not write {full}: {written.output.strip()}", 1, 0.0)
    line = text.count("\n", 0, at) + 1
    new_lines = updated.splitlines()
    lo, hi = max(1, line - 3), min(len(new_lines), line + new_str.count("\n") + 3)
    return Observation(f"edited {full}; lines {lo}-{hi} now read:\n{numbered(new_lines, lo, hi)}", 0, 0.0)


def create(env: Environment, /, path: str, content: str) -> Observation:
    full = full_path(str(path))
    exists = env.run(f"test -e {shlex.quote(env.path(full))}", timeout=30).exit_code == 0
    written = env.write_file(full, str(content).encode())
    if written.exit_code != 0:
        return Observation(f"error: could not write {full}: {written.output.strip()}", 1, 0.0)
    return Observation(f"{'overwrote' if exists else 'created'} {full} "
                       f"({len(str(content).splitlines())} lines)", 0, 0.0)


def run_tests(env: Environment, /, tests: list[str] | str | None = None) -> Observation:
    if not env.test_command:
        return Observation("error: this environment has no test command", None, 0.0)
    if isinstance(tests, str):
        tests = tests.split()
    command = test_command_for(env.test_command, [str(t) for t in tests or []])
    return env.run(f"cd {env.repo} && {command}", timeout=env.settings.test_timeout_s)


def submit(env: Environment, /) -> Observation:
    return Observation("submitted", 0, 0.0)


HANDLERS: dict[str, Callable[..., Observation]] = {
    "bash": bash, "view": view, "edit": edit, "create": create, "run_tests": run_tests, "submit": submit}
"""Tool name -> handler; every name in ``TOOLS`` has one."""
