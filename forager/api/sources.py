"""Which sources a request may name: a git URL, ``pypi:NAME[==VERSION]``, or (admin scope only) a
directory on the server."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import HTTPException

from forager.enums import Scope
from forager.store import tokens

PYPI_RE = re.compile(r"^pypi:[A-Za-z0-9][A-Za-z0-9._-]*(==[A-Za-z0-9.+!_-]+)?$")
REMOTE_RE = re.compile(r"^((https?|git|ssh)://[^\s]+|git@[^\s:]+:[^\s]+)$")


def check_source(source: str, token: tokens.TokenInfo) -> tuple[str, str, str]:
    """(kind, name, source) for an acceptable source, else a 422 that says why (403 for a server
    directory without the admin scope)."""
    source = source.strip()
    if PYPI_RE.match(source):
        return "pypi", source.removeprefix("pypi:").split("==")[0], source
    if REMOTE_RE.match(source):
        name = source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git") or "repo"
        return "git", name, source
    if source.startswith("/"):
        if not tokens.allows(token.scope, Scope.ADMIN):
            raise HTTPException(403, "a directory on the server as a source needs the admin scope")
        path = Path(source)
        if not path.is_dir():
            raise HTTPException(422, f"no such directory on the server: {source}")
        return "local", path.name, str(path.resolve())
    raise HTTPException(422, "source must be a git URL (https://, ssh://, git@host:path), "
                             "pypi:NAME[==VERSION], or an absolute directory on the server")
