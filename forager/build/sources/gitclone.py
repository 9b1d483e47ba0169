"""Git sources: a clone (or fetch) within the source limits, checked out at the wanted commit.

git runs with only the ordinary transports allowed, no prompts, and is stopped when the server
says nothing for ``source_connect_timeout_s``, after CLONE_TIMEOUT_S in all, or when the clone
grows past ``source_max_mb``; the checkout's size is known before it is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import git

from forager.build.sources.base import Source, SourceError, SourceKind, slug, unreachable
from forager.config import Settings
from forager.files import tree_size
from forager.redact import redact_text, redact_url

CLONE_TIMEOUT_S = 900
"""A whole clone or fetch (a server that keeps answering slowly is still given up)."""
LOW_SPEED_BYTES_S = 1000
"""git over HTTP gives up below this many bytes a second for ``source_connect_timeout_s``."""
ALLOWED_PROTOCOLS = [arg for p in ("https", "http", "git", "ssh", "file")
                     for arg in ("-c", f"protocol.{p}.allow=always")]
"""No ext:: or other transports that run commands on this machine."""
log = logging.getLogger("forager.sources")


def _git_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes "
            f"-o ConnectTimeout={int(settings.source_connect_timeout_s)}"}


class _Transfer:
    """One git clone or fetch into ``dest``, watched against the source limits."""

    def __init__(self, args: list[str], cwd: Path | None, dest: Path, settings: Settings) -> None:
        self.dest, self.settings = dest, settings
        self.stall = settings.source_connect_timeout_s
        self.cap = settings.source_max_mb * 1024 * 1024
        cmd = ["git", "-c", f"http.lowSpeedLimit={LOW_SPEED_BYTES_S}",
               "-c", f"http.lowSpeedTime={max(int(self.stall), 1)}", "-c", "protocol.allow=never",
               *ALLOWED_PROTOCOLS, *args]
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=_git_env(settings), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.last = time.monotonic()
        self.err: list[bytes] = []
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := self.proc.stderr.read1(4096):  # type: ignore[attr-defined]  # IO[bytes] is a BufferedReader here
            self.last = time.monotonic()
            self.err.append(chunk)

    def watch(self) -> str:
        """Wait for git to end; why it was stopped ("" when it ended by itself)."""
        start, size, why = time.monotonic(), 0, ""
        while self.proc.poll() is None:
            time.sleep(0.2)
            now_size = tree_size(self.dest)
            if now_size != size:
                size, self.last = now_size, time.monotonic()
            if size > self.cap:
                why = "too large"
            elif time.monotonic() - self.last > self.stall:
                why = f"no answer for {self.stall:.0f}s"
            elif time.monotonic() - start > CLONE_TIMEOUT_S:
                why = f"not done after {CLONE_TIMEOUT_S}s"
            if why:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                break
        self.reader.join(5)
        return why

    def detail(self) -> str:
        return b"".join(self.err).decode(errors="replace").strip()[-2000:]


def git_transfer(args: list[str], cwd: Path | None, dest: Path, what: str, settings: Settings) -> None:
    """Run a git clone or fetch into ``dest`` with the source limits (see the module)."""
    transfer = _Transfer(args, cwd, dest, settings)
    why = transfer.watch()
    if why == "too large" or (not why and tree_size(dest) > transfer.cap):
        raise SourceError(f"{what} is larger than the {settings.source_max_mb} MB source limit")
    if why or transfer.proc.returncode != 0:
        log.warning("git %s of %s failed (%s): %s", args[0], redact_url(what),
                    why or f"exit {transfer.proc.returncode}", redact_text(transfer.detail()))
        raise unreachable(what)


def _clone_or_fetch(url: str, dest: Path, settings: Settings) -> git.Repo:
    if (dest / ".git").exists():
        git_transfer(["fetch", "--progress", "--tags", "origin"], dest, dest, url, settings)
    else:
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            git_transfer(["clone", "--progress", "--no-checkout", "--", url, str(dest)], None, dest, url,
                         settings)
        except SourceError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    repo = git.Repo(dest)
    repo.git.update_environment(GIT_TERMINAL_PROMPT="0")
    if not repo.git.for_each_ref().strip():  # an empty clone: e.g. any HTTP server answering 200
        log.warning("%s gave a clone without any refs", redact_url(url))
        raise unreachable(url)
    return repo


def _target_tree(repo: git.Repo, url: str, commit: str | None) -> tuple[str, str]:
    """The ref to check out (``commit``, else the remote's HEAD) and its ``ls-tree -r -l``."""
    try:
        target = commit or "origin/HEAD"
        if commit is None:
            try:
                repo.git.rev_parse("--verify", "origin/HEAD")
            except git.GitCommandError:
                target = "HEAD"
        return target, repo.git.ls_tree("-r", "-l", "--full-tree", target)
    except (git.GitCommandError, ValueError) as exc:
        log.warning("no %s in %s: %s", commit or "HEAD", redact_url(url), redact_text(str(exc)))
        raise SourceError(f"no commit {commit or 'HEAD'} in {url}") from exc


SUBMODULE_PROTOCOLS = ["-c", "protocol.file.allow=never", "-c", "protocol.ssh.allow=never",
                       "-c", "protocol.git.allow=never", "-c", "protocol.http.allow=never"]
"""Submodules come over https only: a repository's .gitmodules never reads this machine's files."""


def init_submodules(dest: Path, url: str, settings: Settings) -> bool:
    """The checkout's git submodules (a suite kept in one is part of the tests), within the source
    limits; a submodule that cannot be fetched is logged and left out, not fatal."""
    try:
        git_transfer([*SUBMODULE_PROTOCOLS, "submodule", "update", "--init", "--recursive", "--force"], dest, dest,
                     url, settings)
    except SourceError as exc:
        log.warning("submodules of %s not initialised: %s", redact_url(url), exc)
        return False
    return True


def from_git(url: str, commit: str | None, settings: Settings) -> Source:
    name = slug(url.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1])
    dest = settings.sources_dir / f"{name}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
    repo = _clone_or_fetch(url, dest, settings)
    target, tree = _target_tree(repo, url, commit)
    # the checkout's size, known before it is written (a small pack can hold a huge tree)
    sizes = [line.split()[3] for line in tree.splitlines() if len(line.split()) > 3]
    limit_mb = settings.source_max_mb
    if tree_size(dest) + sum(int(n) for n in sizes if n.isdigit()) > limit_mb * 1024 * 1024:
        raise SourceError(f"{url} is larger than the {limit_mb} MB source limit")
    repo.git.checkout("--force", "--detach", target)
    repo.git.clean("-fdxq")
    if (dest / ".gitmodules").is_file():
        init_submodules(dest, url, settings)
    return Source(url, SourceKind.GIT, name, dest, repo.head.commit.hexsha)
