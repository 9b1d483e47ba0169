"""Models by kind: ``get_model("openai", url=..., model=...)`` (the HTTP ``ChatClient``) or
``get_model("fake", script=[...])`` (the scripted ``FakeModel``); ``register_model`` adds a kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forager.errors import InvalidInput
from forager.model.base import Model


def _openai(**config: Any) -> Model:
    from forager.model.base import ModelConfig
    from forager.model.client import ChatClient

    limits = config.pop("config", None)
    if isinstance(limits, ModelConfig):
        return ChatClient.from_config(config.pop("url"), config.pop("model"), limits, **config)
    return ChatClient(**config)


def _fake(**config: Any) -> Model:
    from forager.model.fake import FakeModel

    return FakeModel(**config)


_KINDS: dict[str, Callable[..., Model]] = {"openai": _openai, "fake": _fake}


def register_model(kind: str, factory: Callable[..., Model]) -> None:
    """Make ``get_model(kind, **config)`` call ``factory(**config)``."""
    _KINDS[kind] = factory


def model_kinds() -> list[str]:
    return sorted(_KINDS)


def get_model(kind: str, **config: Any) -> Model:
    """A model of ``kind`` built from ``config`` (the keyword arguments of its class; for ``openai`` a
    ``config=ModelConfig`` sets the per-call limits)."""
    try:
        factory = _KINDS[kind]
    except KeyError:
        raise InvalidInput(f"unknown model kind {kind!r} (known: {', '.join(model_kinds())})") from None
    return factory(**config)
