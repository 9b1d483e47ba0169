"""Containers removed in the background: a finished step's container goes away while the next
step runs (the engine takes from a tenth of a second to over a second to remove one). A build
waits for its removals before it returns (``wait_removals``), so it leaves nothing behind, and a
step that starts a container of the same name waits for that name's removal first."""

from __future__ import annotations

import threading
from collections.abc import Callable

from forager.runtime import Sandbox

_pending: list[tuple[str, threading.Thread]] = []
_lock = threading.Lock()


def remove_later(box: Sandbox, then: Callable[[], object] | None = None) -> None:
    """Remove ``box`` in a background thread (and run ``then`` once it is gone)."""

    def remove() -> None:
        try:
            box.remove()
        finally:
            if then is not None:
                then()

    thread = threading.Thread(target=remove, name=f"forager-remove-{box.name}")
    with _lock:
        _pending[:] = [(n, t) for n, t in _pending if t.is_alive()]
        _pending.append((box.name, thread))
    thread.start()


def wait_removals(name: str | None = None, timeout_s: float = 120.0) -> None:
    """Wait for the removals started so far (of the container ``name`` only, when given)."""
    with _lock:
        pending = [t for n, t in _pending if name is None or n == name]
    for thread in pending:
        thread.join(timeout_s)
