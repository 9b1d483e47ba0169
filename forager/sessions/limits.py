"""What a session may do (``SessionLimits``, from the settings, lowered by a request's budgets) and
the errors a session request ends in, each with its HTTP status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from forager.config import Settings
from forager.errors import ForagerError


class SessionError(ForagerError):
    """A session request that cannot be done; ``status`` is the HTTP status it answers."""

    status = 409

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SessionEnded(SessionError):
    """The session is not active (submitted, ended, expired or failed)."""


class SessionBusy(SessionError):
    """Another action (or the submit) of the session is running."""


class ActionsSpent(SessionError):
    """The session has taken all the actions it may."""


class TooManySessions(SessionError):
    """Over the active sessions allowed per token or in total."""

    status = 429


class SessionUnavailable(SessionError):
    """The session's sandbox could not be started."""

    status = 503


class Budgets(BaseModel):
    """What a client may ask for: lower limits than the farm's, never higher."""

    model_config = ConfigDict(extra="forbid")
    max_actions: int | None = Field(default=None, ge=1, description="actions this session may take")
    action_timeout_s: int | None = Field(default=None, ge=1, description="seconds one action may run")


@dataclass(frozen=True)
class SessionLimits:
    max_actions: int
    action_timeout_s: int
    max_payload_bytes: int
    idle_timeout_s: float
    sessions_per_token: int
    sessions_total: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def limits_for(settings: Settings, budgets: Budgets | None = None,
               max_actions: int | None = None, action_timeout_s: int | None = None) -> SessionLimits:
    """The farm's limits, each lowered to what ``budgets`` (or a stored session) asks for."""
    budgets = budgets or Budgets()
    asked_actions = max_actions or budgets.max_actions or settings.session_max_actions
    asked_timeout = action_timeout_s or budgets.action_timeout_s or settings.session_action_timeout_s
    return SessionLimits(
        max_actions=min(asked_actions, settings.session_max_actions),
        action_timeout_s=min(asked_timeout, settings.session_action_timeout_s),
        max_payload_bytes=settings.session_max_payload_bytes,
        idle_timeout_s=settings.session_idle_timeout_s,
        sessions_per_token=settings.session_max_per_token,
        sessions_total=settings.session_max_total)


def retry_after(settings: Settings) -> int:
    """Seconds a client refused for too many sessions should wait (sessions end within the idle
    timeout at most; a minute is a fair first wait)."""
    return max(1, int(min(settings.session_idle_timeout_s, 60)))
