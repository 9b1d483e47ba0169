"""Credentials out of what is shown: user:password@ in URLs, and secret-looking query parameters.

``redact_url`` takes one URL; ``redact_text`` every URL inside a text (build errors, logs);
``redact`` walks JSON-like values (job params and results). What is kept is enough to recognise the
URL (scheme, host, path); what is removed is replaced by ``***``. Storage is not changed here: these
are for output (API responses, the viewer, listings).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s@?#'\"<>]+)@")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&](?:[A-Za-z0-9_.-]*(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|signature|sig)"
    r"[A-Za-z0-9_.-]*|key|auth|access_key|private_token))=(?P<value>[^&#\s'\"<>]*)", re.I)


def redact_url(url: str) -> str:
    """``https://user:secret@host/repo.git?token=x`` -> ``https://***@host/repo.git?token=***``.

    ``git@host:path`` (an SSH user name, no secret) and URLs without credentials are unchanged."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """Every URL in ``text`` with its credentials replaced by ``***``."""
    if not text or ("@" not in text and "=" not in text):
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['name']}={MASK}" if m["value"] else m[0], text)


def redact(value: Any) -> Any:
    """``redact_text`` applied to every string inside a JSON-like value (dict keys kept)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
