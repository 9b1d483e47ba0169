"""Which runtime Forager uses: implementations registered by name, the setting ``FORAGER_RUNTIME``
(default ``docker``) picks one, and each is made once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from forager.config import get_settings
from forager.errors import InvalidInput
from forager.runtime.base import Runtime


def _docker() -> Runtime:
    from forager.runtime.docker import DockerRuntime

    return DockerRuntime()


def _local() -> Runtime:
    from forager.runtime.local import LocalRuntime

    return LocalRuntime()


FACTORIES: dict[str, Callable[[], Runtime]] = {"docker": _docker, "local": _local}
_made: dict[str, Runtime] = {}
_lock = threading.Lock()


def register(name: str, factory: Callable[[], Runtime]) -> None:
    """Make ``name`` a runtime ``FORAGER_RUNTIME`` can choose (replacing any of that name)."""
    with _lock:
        FACTORIES[name] = factory
        _made.pop(name, None)


def runtime_name() -> str:
    return get_settings().runtime


def get_runtime(name: str | None = None) -> Runtime:
    """The runtime named ``name`` (default: the setting), made on first use. ``EngineError`` when
    its engine does not answer (tried again at the next call); ``InvalidInput`` for an unknown name."""
    name = name or runtime_name()
    with _lock:
        if name not in _made:
            factory = FACTORIES.get(name)
            if factory is None:
                raise InvalidInput(f"unknown runtime {name!r}: one of {', '.join(sorted(FACTORIES))}")
            _made[name] = factory()
        return _made[name]
