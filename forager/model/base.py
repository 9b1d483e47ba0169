"""The model seam: what an agent loop needs from a model, whatever answers it.

``Model`` is the Protocol every model implements (the HTTP ``ChatClient``, the in-package
``FakeModel``); ``Completion`` and ``ToolCall`` are what one call returns; ``ModelError`` is how a
call fails; ``ModelConfig`` carries the per-call limits taken from settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from forager.errors import ForagerError, InvalidInput

if TYPE_CHECKING:
    from forager.config import Settings

Message = dict[str, Any]
"""One chat message in the OpenAI shape (``role``, ``content``, optional ``tool_calls``...)."""
ToolSpec = dict[str, Any]
"""One tool in the OpenAI ``tools`` shape (``{"type": "function", "function": {...}}``)."""
TOOL_MODES = ("native", "text")
"""``native``: OpenAI tool calls; ``text``: the plain-text ``<function=...>`` markup."""


def check_tool_mode(tool_mode: str) -> str:
    """``tool_mode`` if it is one of ``TOOL_MODES``, else ``InvalidInput``."""
    if tool_mode not in TOOL_MODES:
        raise InvalidInput(f"tool_mode must be 'native' or 'text', not {tool_mode!r}")
    return tool_mode


class ModelError(ForagerError):
    """The endpoint failed for good (retries exhausted, or an answer that retrying cannot fix).

    ``transient`` is true when the last failure was one that may pass later (a 5xx or 429 answer,
    a timeout, a connection error, an unreadable body), false for an answer that retrying cannot
    fix (another 4xx)."""

    def __init__(self, message: str, status: int | None = None, body: str = "", *,
                 transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.transient = transient

    @property
    def context_exceeded(self) -> bool:
        text = self.body.lower()
        return self.status == 400 and ("context" in text or "too long" in text or "maximum" in text)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = ""
    error: str = ""
    """Why the arguments could not be read (the call is then answered with this error)."""


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""
    duration_s: float = 0.0
    attempts: int = 1
    raw_message: dict[str, Any] = field(default_factory=dict)
    """The assistant message as the endpoint sent it (appended to the history in native mode)."""


@dataclass(frozen=True)
class ModelConfig:
    """Per-call limits of a model client (``FORAGER_MODEL_MAX_TOKENS``, ``_TIMEOUT_S``, ``_RETRIES``)."""

    max_tokens: int
    """Completion tokens per call."""
    timeout_s: float
    retries: int
    """Attempts after the first one for errors worth retrying."""

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ModelConfig:
        if settings is None:
            from forager.config import get_settings

            settings = get_settings()
        return cls(max_tokens=settings.model_max_tokens, timeout_s=settings.model_timeout_s,
                   retries=settings.model_retries)


@runtime_checkable
class Model(Protocol):
    """A chat model an agent loop can drive.

    ``tool_mode`` is ``native`` (tools sent as OpenAI ``tools``, answers carry ``tool_calls``) or
    ``text`` (tools described in the prompt, calls written as ``<function=...>`` markup and parsed
    into ``Completion.tool_calls``). ``model``, ``url`` and ``sampling`` are recorded in the
    trajectory."""

    model: str
    url: str
    tool_mode: str

    @property
    def sampling(self) -> dict[str, Any]: ...

    def complete(self, messages: list[Message], tools: list[ToolSpec] | None = None) -> Completion: ...

    def close(self) -> None: ...
