"""A persistent ``bash`` inside a sandbox: one process per episode, spoken to over a pipe.

A command costs a pipe round trip instead of a new ``exec``. Protocol: the command is shipped as a
script file, run as ``timeout -k 5 T bash script`` (``timeout`` signals the command's whole process
group), and followed by a unique end marker carrying the exit code. The current directory and
exported variables persist between commands; every process a command leaves behind is killed when
it ends (``END_STRAYS``). A command that outlives even the in-container timeout, or a shell that
dies, gets a fresh shell. The shell runs over any ``Sandbox`` (``Sandbox.interactive``).
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from forager.config import get_settings
from forager.errors import EngineError, SandboxError
from forager.runtime.base import SANDBOX_ENV, Sandbox
from forager.text import truncate

REPO = "/repo"
STATE_DIR = "/tmp/.forager"
KEEP_PIDS = "__forager_keep=\" $(cd /proc && echo [0-9]*) \""
"""Run when a shell starts: the processes that exist before any command (init, the container's
main process, the shell itself) are never ended by ``END_STRAYS``."""
END_STRAYS = (
    'for __p in /proc/[0-9]*; do __p=${__p#/proc/}; case "$__forager_keep" in *" $__p "*) continue;; esac; '
    '[ "$__p" != "$$" ] && [ -O "/proc/$__p" ] && kill -9 "$__p" 2>/dev/null; done; unset __p'
)
"""Run after every command, with shell builtins only: every process of the shell's user that the
command left behind (background jobs, ``setsid`` / ``nohup`` escapes) is killed, so nothing a
command starts outlives it."""
END_MARKED_STRAYS = (
    'for __p in /proc/[0-9]*; do __p=${{__p#/proc/}}; [ "$__p" != "$$" ] && [ -O "/proc/$__p" ] && '
    'while IFS= read -r -d "" __v; do [ "$__v" = {marker} ] && {{ kill -9 "$__p" 2>/dev/null; break; }}; '
    'done 2>/dev/null < "/proc/$__p/environ"; done; unset __p __v'
)
"""``END_STRAYS`` for a sandbox without its own process namespace (the host's processes are the
user's too): only the processes carrying the sandbox's ``SANDBOX_ENV`` marker are killed."""
SHELL_GRACE_S = 15.0
"""How long past a command's own timeout the host waits before giving up on the shell."""


@dataclass
class Observation:
    output: str
    exit_code: int | None
    """None when the command has no exit status (killed from outside, shell died, bad tool call)."""
    duration_s: float
    timed_out: bool = False


class _Output:
    """A command's output as it arrives: head and tail kept, the middle dropped past ``limit``."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.cap = limit + 4096 if limit else None
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.tail += chunk

    def bound(self) -> None:
        """Move the head aside and drop the middle once the tail grows past three caps."""
        cap = self.cap
        if not cap or len(self.tail) <= 3 * cap:
            return
        if len(self.head) < cap:
            take = cap - len(self.head)
            self.head += self.tail[:take]
            del self.tail[:take]
        excess = len(self.tail) - 2 * cap
        if excess > 0:
            self.dropped += excess
            del self.tail[:excess]

    def text(self) -> str:
        text = self.head.decode("utf-8", "replace")
        if self.dropped:
            text += f"\n[... {self.dropped} bytes elided ...]\n"
        text += self.tail.decode("utf-8", "replace")
        return truncate(text, self.limit) if self.limit else text


class Shell:
    """One long-lived ``bash`` inside a sandbox, spoken to through ``Sandbox.interactive``."""

    def __init__(self, sandbox: Sandbox, user: str = "root", env: Mapping[str, str] | None = None,
                 output_limit: int | None = None) -> None:
        self.sandbox = sandbox
        self.user = user
        self.env = dict(env or {})
        self.output_limit = output_limit or get_settings().output_limit
        self.restarts = 0
        self.repo = sandbox.path(REPO)
        self.state_dir = sandbox.path(STATE_DIR)
        if sandbox.pid_namespace:
            self.keep_pids, self.end_strays = KEEP_PIDS, END_STRAYS
        else:
            self.keep_pids = "__forager_keep=''"
            self.end_strays = END_MARKED_STRAYS.format(marker=shlex.quote(f"{SANDBOX_ENV}={sandbox.id}"))
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._starting = False
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self.start()

    # -- lifecycle
    def start(self) -> None:
        try:
            self._proc = self.sandbox.interactive(["bash", "--noprofile", "--norc"], user=self.user,
                                                  env=self.env, workdir="/")
        except EngineError as exc:  # e.g. no docker command line client
            raise SandboxError(str(exc)) from exc
        self._queue = queue.Queue()
        threading.Thread(target=self._pump, args=(self._proc, self._queue), daemon=True).start()
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(f"mkdir -p {self.state_dir} 2>/dev/null\n{self.keep_pids}\n".encode())
        except OSError as exc:  # the process is gone already
            raise SandboxError(f"the shell did not start: {exc}") from None
        home = self.sandbox.path(self.env.get("HOME", "/tmp"))
        init = (f"mkdir -p {shlex.quote(home)} 2>/dev/null; "
                f"[ -s {self.state_dir}/cwd ] || echo {self.repo} > {self.state_dir}/cwd")
        self._starting = True  # a shell that dies while starting is an error, not restarted again
        try:
            obs = self._run(init, timeout=30, limit=None)
        finally:
            self._starting = False
        if obs.exit_code != 0:
            raise SandboxError(f"the shell did not start: {obs.output.strip()[:500]}")

    @staticmethod
    def _pump(proc: subprocess.Popen[bytes], q: queue.Queue[bytes | None]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                q.put(None)
                return
            q.put(chunk)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> None:
        proc = self._proc
        self._proc = None
        if proc is not None:
            proc.kill()
            proc.wait(timeout=5)
        self.restarts += 1
        self.start()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- commands
    def run(self, command: str, timeout: float, limit: int | None = -1) -> Observation:
        """Run ``command`` (bash source) with a timeout; ``limit`` caps the output (None: whole)."""
        with self._lock:
            if not self.alive:
                self.restart()
            return self._run(command, timeout, self.output_limit if limit == -1 else limit)

    def _block(self, command: str, token: str, seconds: int) -> str:
        """What the shell is sent for one command: the script shipped to a file with builtins only
        (the random end ``token`` cannot occur in it), run under ``timeout``, strays ended, then
        the end marker with the exit code. The shell's own note on a command killed by a signal
        ("bash: line N: PID Killed ...") goes to the command's output, in order: written to the
        shell's stderr it could arrive after the end marker and open the next command's output."""
        state, repo = self.state_dir, self.repo
        script = (
            f"[ -f {state}/env ] && . {state}/env >/dev/null 2>&1\n"
            f"read -r __forager_cwd < {state}/cwd 2>/dev/null; "
            f"cd \"${{__forager_cwd:-{repo}}}\" 2>/dev/null || cd {repo} 2>/dev/null; unset __forager_cwd\n"
            f"trap 'pwd > {state}/cwd 2>/dev/null; export -p > {state}/env 2>/dev/null' EXIT\n"
            f"{command}\n"
        )
        return (
            f"IFS= read -r -d '' __forager_cmd <<'EOF_{token}'\n{script}EOF_{token}\n"
            f"printf '%s' \"$__forager_cmd\" > {state}/cmd.sh; unset __forager_cmd\n"
            f"{{ timeout -k 5 {seconds} bash {state}/cmd.sh < /dev/null 2>&1; }} 2>&1; "
            f"__forager_rc=$?; {self.end_strays}; "
            f"printf '\\n__FORAGER_END_{token}__ %d\\n' $__forager_rc\n"
        )

    def _run(self, command: str, timeout: float, limit: int | None) -> Observation:
        assert self._proc is not None and self._proc.stdin is not None
        token = uuid.uuid4().hex
        seconds = max(1, int(timeout))
        self._drain()
        start = time.monotonic()
        try:
            self._proc.stdin.write(self._block(command, token, seconds).encode())
            self._proc.stdin.flush()
        except OSError:
            if self._starting:
                raise SandboxError("the shell did not start: its input closed") from None
            self.restart()
            return Observation("[forager: the shell was gone; a new one was started]", None,
                               time.monotonic() - start)
        return self._collect(token, seconds, start, _Output(limit))

    def _collect(self, token: str, seconds: int, start: float, out: _Output) -> Observation:
        """Read the shell's output until the end marker, the shell's death or the host's deadline."""
        pattern = re.compile(b"\n" + re.escape(f"__FORAGER_END_{token}__".encode()) + rb" (-?\d+)\n")
        deadline = start + seconds + 5 + SHELL_GRACE_S
        while True:
            remaining = deadline - time.monotonic()
            try:
                chunk = self._queue.get(timeout=max(0.01, remaining)) if remaining > 0 else None
                if chunk is None and remaining > 0:  # end of stream: the shell died
                    if self._starting:
                        raise SandboxError(f"the shell did not start: {out.text().strip()[:500]}")
                    self.restart()
                    return Observation(out.text() + "\n[forager: the shell exited; a new one was started]",
                                       None, time.monotonic() - start)
            except queue.Empty:
                chunk = None
            if chunk is None:  # the host-side backstop: the in-container timeout did not end it
                if self._starting:
                    raise SandboxError("the shell did not start: no answer")
                text = out.text()
                self.restart()
                return Observation(
                    text + f"\n[forager: command did not finish within {seconds}s; shell restarted]",
                    None, time.monotonic() - start, timed_out=True)
            out.add(chunk)
            found = pattern.search(out.tail)
            if found:
                code = int(found.group(1))
                del out.tail[found.start():]
                return _finished(out.text(), code, time.monotonic() - start, seconds)
            out.bound()

    def _drain(self) -> None:
        """Discard output that arrived between commands (background jobs of earlier commands)."""
        while True:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                return
            if chunk is None:  # keep the end-of-stream signal for the reader
                self._queue.put(None)
                return


def _finished(text: str, code: int, duration: float, seconds: int) -> Observation:
    timed_out = code in (124, 137) and duration >= seconds - 0.5
    if timed_out:
        text += f"\n[forager: command timed out after {seconds}s and was killed]"
    return Observation(text, code, duration, timed_out)
