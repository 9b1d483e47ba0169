"""A persistent ``bash`` inside a sandbox: one process per episode, spoken to over a pipe.

A command costs a pipe round trip instead of a new ``exec``. Protocol: the command is shipped as a
script file, run as ``timeout -k 5 T bash script`` (``timeout`` signals the command's whole process
group), and followed by a unique end marker carrying the exit code. The current directory and
exported variables persist between commands; every process a command leaves behind is killed when
it ends (``END_STRAYS``). A command that outlives even the in-container timeout, or a shell that
dies, gets a fresh shell.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from forager.config import get_settings
from forager.errors import SandboxError
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
SHELL_GRACE_S = 15.0
"""How long past a command's own timeout the host waits before giving up on the shell."""




@dataclass
class Observation:
    output: str
    exit_code: int | None
    """None when the command has no exit status (killed from outside, shell died, bad tool call)."""
    duration_s: float
    timed_out: bool = False



class Shell:
    """One long-lived ``bash`` inside a container, spoken to through ``docker exec -i``."""

    def __init__(self, container: str, user: str = "root", env: Mapping[str, str] | None = None,
                 output_limit: int | None = None) -> None:
        self.container = container
        self.user = user
        self.env = dict(env or {})
        self.output_limit = output_limit or get_settings().output_limit
        self.restarts = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self.start()

    # -- lifecycle
    def start(self) -> None:
        docker = shutil.which("docker")
        if not docker:
            raise SandboxError("the docker command line client is not installed")
        cmd = [docker, "exec", "-i", "-u", self.user, "-w", "/"]
        for k, v in self.env.items():
            cmd += ["-e", f"{k}={v}"]
        cmd += [self.container, "bash", "--noprofile", "--norc"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, bufsize=0)
        self._queue = queue.Queue()
        threading.Thread(target=self._pump, args=(self._proc, self._queue), daemon=True).start()
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"mkdir -p {STATE_DIR} 2>/dev/null\n{KEEP_PIDS}\n".encode())
        init = (f"mkdir -p {shlex.quote(self.env.get('HOME', '/tmp'))} 2>/dev/null; "
                f"[ -s {STATE_DIR}/cwd ] || echo {REPO} > {STATE_DIR}/cwd")
        obs = self._run(init, timeout=30, limit=None)
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

    def _run(self, command: str, timeout: float, limit: int | None) -> Observation:
        assert self._proc is not None and self._proc.stdin is not None
        token = uuid.uuid4().hex
        marker = f"__FORAGER_END_{token}__".encode()
        pattern = re.compile(b"\n" + re.escape(marker) + rb" (-?\d+)\n")
        script = (
            f"[ -f {STATE_DIR}/env ] && . {STATE_DIR}/env >/dev/null 2>&1\n"
            f"read -r __forager_cwd < {STATE_DIR}/cwd 2>/dev/null; "
            f"cd \"${{__forager_cwd:-{REPO}}}\" 2>/dev/null || cd {REPO} 2>/dev/null; unset __forager_cwd\n"
            f"trap 'pwd > {STATE_DIR}/cwd 2>/dev/null; export -p > {STATE_DIR}/env 2>/dev/null' EXIT\n"
            f"{command}\n"
        )
        seconds = max(1, int(timeout))
        # builtins only (read, printf) to ship the script: the random end token cannot occur in it
        block = (
            f"IFS= read -r -d '' __forager_cmd <<'EOF_{token}'\n{script}EOF_{token}\n"
            f"printf '%s' \"$__forager_cmd\" > {STATE_DIR}/cmd.sh; unset __forager_cmd\n"
            f"timeout -k 5 {seconds} bash {STATE_DIR}/cmd.sh < /dev/null 2>&1; "
            f"__forager_rc=$?; {END_STRAYS}; "
            f"printf '\\n{marker.decode()} %d\\n' $__forager_rc\n"
        )
        self._drain()
        start = time.monotonic()
        try:
            self._proc.stdin.write(block.encode())
            self._proc.stdin.flush()
        except OSError:
            self.restart()
            return Observation("[forager: the shell was gone; a new one was started]", None,
                               time.monotonic() - start)
        cap = (limit or 0) + 4096 if limit else None
        head = bytearray()
        tail = bytearray()
        dropped = 0
        deadline = start + seconds + 5 + SHELL_GRACE_S
        while True:
            remaining = deadline - time.monotonic()
            try:
                chunk = self._queue.get(timeout=max(0.01, remaining)) if remaining > 0 else None
                if chunk is None and remaining > 0:  # end of stream: the shell died
                    text = self._text(head, dropped, tail, limit)
                    self.restart()
                    return Observation(text + "\n[forager: the shell exited; a new one was started]",
                                       None, time.monotonic() - start)
            except queue.Empty:
                chunk = None
            if chunk is None:  # the host-side backstop: the in-container timeout did not end it
                text = self._text(head, dropped, tail, limit)
                self.restart()
                return Observation(
                    text + f"\n[forager: command did not finish within {seconds}s; shell restarted]",
                    None, time.monotonic() - start, timed_out=True)
            tail += chunk
            found = pattern.search(tail)
            if found:
                code = int(found.group(1))
                tail = tail[: found.start()]
                duration = time.monotonic() - start
                text = self._text(head, dropped, tail, limit)
                timed_out = code in (124, 137) and duration >= seconds - 0.5
                if timed_out:
                    text += f"\n[forager: command timed out after {seconds}s and was killed]"
                return Observation(text, code, duration, timed_out)
            if cap and len(tail) > 3 * cap:
                if len(head) < cap:
                    take = cap - len(head)
                    head += tail[:take]
                    del tail[:take]
                excess = len(tail) - 2 * cap
                if excess > 0:
                    dropped += excess
                    del tail[:excess]

    @staticmethod
    def _text(head: bytearray, dropped: int, tail: bytearray, limit: int | None) -> str:
        text = head.decode("utf-8", "replace")
        if dropped:
            text += f"\n[... {dropped} bytes elided ...]\n"
        text += tail.decode("utf-8", "replace")
        return truncate(text, limit) if limit else text

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
