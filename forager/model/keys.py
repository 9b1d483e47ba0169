"""Which model key goes where: the server's own key only to trusted endpoints, a caller's key held
in memory for the job that runs with it.

A run may name a model endpoint of its own and bring that endpoint's key. The key is never stored
(not in the jobs table, not in the queue): it is held here, in the memory of the process that runs
the job (the embedded executor), for a day at most, and is lost on a restart.
"""

from __future__ import annotations

import threading
import time

from forager.config import get_settings

HOLD_S = 24 * 3600.0
"""How long a caller's key is held for its job."""

_held: dict[str, tuple[str, float]] = {}
_held_lock = threading.Lock()


def hold_model_key(job_id: str, key: str) -> None:
    """Keep a caller's model key for the job ``job_id`` (in memory only)."""
    now = time.monotonic()
    with _held_lock:
        for stale in [j for j, (_, until) in _held.items() if until < now]:
            del _held[stale]
        _held[job_id] = (key, now + HOLD_S)


def held_model_key(job_id: str) -> str | None:
    """The caller's model key held for ``job_id``, or None (never held, expired, or restarted)."""
    with _held_lock:
        entry = _held.get(job_id)
    return entry[0] if entry and entry[1] >= time.monotonic() else None


def is_trusted_model_url(url: str | None) -> bool:
    """Whether the server's own model key may go to ``url`` (None: the server's own endpoint)."""
    return url is None or url.strip().rstrip("/") in get_settings().trusted_model_endpoints()


def model_key_for(url: str | None, caller_key: str | None) -> str:
    """The key sent with model calls to ``url``: the caller's when given; else the server's own
    (FORAGER_MODEL_API_KEY) for a trusted endpoint only; else none (empty)."""
    if caller_key:
        return caller_key
    return get_settings().model_api_key if is_trusted_model_url(url) else ""
