"""The OpenAI chat-completions wire format: the endpoint URL, and an answer read into a ``Completion``.

Shared by the HTTP ``ChatClient`` and the in-package ``FakeModel`` (which builds answers in this
format), so both read tool calls, text actions and token counts the same way."""

from __future__ import annotations

import json
from typing import Any

from forager.model.base import Completion, ToolCall
from forager.model.text_actions import parse_text_action
from forager.model.tokens import approx_tokens, messages_tokens


def chat_url(url: str) -> str:
    """Accept a base URL (``http://host:8000``, ``.../v1``) or the full chat-completions URL."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


def _tool_call(n: int, tc: dict[str, Any]) -> ToolCall:
    fn = tc.get("function") or {}
    raw = fn.get("arguments") or "{}"
    args: dict[str, Any] = {}
    error = ""
    if isinstance(raw, dict):
        args = raw
    else:
        try:
            parsed = json.loads(raw)
            if not isinstance(parsed, dict):
                raise ValueError("arguments are not a JSON object")
            args = parsed
        except ValueError as exc:
            error = f"arguments are not valid JSON: {exc}"
    return ToolCall(name=str(fn.get("name", "")), arguments=args, id=str(tc.get("id") or f"call-{n}"),
                    error=error)


def parse_completion(data: dict[str, Any], tool_mode: str, tools: list[dict[str, Any]] | None,
                     messages: list[dict[str, Any]]) -> Completion:
    """Read an answer; raises ``ValueError``/``KeyError``/``IndexError``/``TypeError`` when malformed.

    Native tool calls come first; in ``text`` mode a reply without them is searched for markup.
    Missing ``usage`` counts are estimated (``approx_tokens``)."""
    choice = data["choices"][0]
    message = choice["message"]
    content = message.get("content") or ""
    calls = [_tool_call(n, tc) for n, tc in enumerate(message.get("tool_calls") or [])]
    if not calls and tool_mode == "text":
        calls = parse_text_action(content, tools)
    usage = data.get("usage") or {}
    prompt = int(usage.get("prompt_tokens") or 0) or messages_tokens(messages)
    completion = int(usage.get("completion_tokens") or 0) or approx_tokens(
        content + "".join(json.dumps(c.arguments) for c in calls))
    raw_message: dict[str, Any] = {"role": "assistant", "content": content}
    if message.get("tool_calls"):
        raw_message["tool_calls"] = message["tool_calls"]
    return Completion(content=content, tool_calls=calls, prompt_tokens=prompt,
                      completion_tokens=completion, finish_reason=str(choice.get("finish_reason") or ""),
                      raw_message=raw_message)
