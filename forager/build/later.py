"""Containers removed in the background: a finished step's container goes away while the next
step runs (the engine takes from a tenth of a second to over a second to remove one). A build
waits for its removals before it returns (``wait_removals``), so it leaves nothing behind."""

from __future__ import annotations

import threading

from forager.runtime import Sandbox

_pending: list[threading.Thread] = []
_lock = threading.Lock()


def remove_later(box: Sandbox) -> None:
    """Remove ``box`` in a background thread."""
    thread = threading.Thread(target=box.remove, name=f"forager-remove-{box.name}")
    with _lock:
        _pending[:] = [t for t in _pending if t.is_alive()]
        _pending.append(thread)
    thread.start()


def wait_removals(timeout_s: float = 120.0) -> None:
    """Wait for the removals started so far."""
    with _lock:
        pending = list(_pending)
    for thread in pending:
        thread.join(timeout_s)
