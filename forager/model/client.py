"""The HTTP model: a client for any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp
server, hosted APIs).

Two ways for a model to act: ``native`` (the tools are sent as OpenAI ``tools`` and the model
answers with ``tool_calls``) or ``text`` (for models without tool calling: the tools are described
in the prompt and the model writes one call in the plain-text markup of ``text_actions``).

Transport errors, HTTP 408/409/425/429 and 5xx answers, and unreadable bodies are retried with
exponential backoff (honouring ``Retry-After``); other 4xx answers fail at once with ``ModelError``.
Token counts come from the answer's ``usage``; when an endpoint omits it they are estimated with
``approx_tokens``. Per-call limits default to the settings (``ModelConfig``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from forager.model.base import Completion, ModelConfig, ModelError, check_tool_mode
from forager.model.wire import chat_url, parse_completion

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class _Retry(Exception):
    """One attempt failed in a way worth retrying (internal to ``ChatClient.complete``)."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class ChatClient:
    url: str
    model: str
    api_key: str = ""
    tool_mode: str = "native"
    """``native`` (OpenAI tool calls) or ``text`` (the plain-text function-call format)."""
    temperature: float = 0.0
    max_tokens: int = field(default_factory=lambda: ModelConfig.from_settings().max_tokens)
    """Completion tokens per call."""
    timeout_s: float = field(default_factory=lambda: ModelConfig.from_settings().timeout_s)
    max_retries: int = field(default_factory=lambda: ModelConfig.from_settings().retries)
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)
    """Extra request fields (top_p, seed, stop, ...)."""

    @classmethod
    def from_config(cls, url: str, model: str, config: ModelConfig, **kw: Any) -> ChatClient:
        """A client whose per-call limits come from ``config`` (e.g. ``ModelConfig.from_settings(s)``)."""
        return cls(url, model, max_tokens=config.max_tokens, timeout_s=config.timeout_s,
                   max_retries=config.retries, **kw)

    def __post_init__(self) -> None:
        check_tool_mode(self.tool_mode)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._http = httpx.Client(timeout=httpx.Timeout(self.timeout_s, connect=10.0), headers=headers)

    @property
    def sampling(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens,
                "tool_mode": self.tool_mode, **self.extra}

    def close(self) -> None:
        self._http.close()

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self.backoff_max_s, max(0.0, float(retry_after)))
            except ValueError:
                pass
        base = min(self.backoff_max_s, self.backoff_s * (2 ** attempt))
        return base * (0.5 + random.random() / 2)

    def _body(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature, "max_tokens": self.max_tokens,
                                **self.extra}
        if tools and self.tool_mode == "native":
            body["tools"] = tools
            body["tool_choice"] = "auto"
        return body

    def _attempt(self, url: str, body: dict[str, Any], tools: list[dict[str, Any]] | None,
                 messages: list[dict[str, Any]]) -> Completion:
        """One request: the completion, ``_Retry`` for a failure worth retrying, ``ModelError`` otherwise."""
        try:
            resp = self._http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code == 200:
            try:
                return parse_completion(resp.json(), self.tool_mode, tools, messages)
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise _Retry(f"unreadable answer: {exc}: {resp.text[:300]}") from exc
        if resp.status_code in RETRY_STATUS:
            raise _Retry(f"HTTP {resp.status_code}: {resp.text[:300]}", resp.headers.get("retry-after"))
        raise ModelError(f"HTTP {resp.status_code} from {url}: {resp.text[:500]}",
                         resp.status_code, resp.text[:5000])

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
                 ) -> Completion:
        body = self._body(messages, tools)
        url = chat_url(self.url)
        start = time.monotonic()
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                result = self._attempt(url, body, tools, messages)
            except _Retry as retry:
                last = retry.reason
                if attempt < self.max_retries:
                    time.sleep(self._backoff(attempt, retry.retry_after))
                continue
            result.duration_s = time.monotonic() - start
            result.attempts = attempt + 1
            return result
        raise ModelError(f"{url} failed after {self.max_retries + 1} attempts; last: {last}", transient=True)
