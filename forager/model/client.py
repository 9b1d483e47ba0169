"""A client for any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, hosted APIs).

Two ways for a model to act:

* ``native``: the tools are sent as OpenAI ``tools`` and the model answers with ``tool_calls``;
* ``text``: for models without tool calling, the tools are described in the prompt and the model
  writes one call in plain text, in the widely used function-call markup::

      <function=edit>
      <parameter=path>src/pkg/mod.py</parameter>
      <parameter=old_str>return a - b</parameter>
      <parameter=new_str>return a + b</parameter>
      </function>

Transport errors, HTTP 408/409/429 and 5xx answers, and unreadable bodies are retried with
exponential backoff (honouring ``Retry-After``); other 4xx answers fail at once with ``ModelError``.
Token counts come from the answer's ``usage``; when an endpoint omits it they are estimated with
``approx_tokens``.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from forager.errors import ForagerError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ModelError(ForagerError):
    """The endpoint failed for good (retries exhausted, or an answer that retrying cannot fix)."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body

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


_TOKEN_PIECE = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """A documented tokenizer approximation: every run of word characters counts one token per
    started 4 characters, every other non-space character counts one. It tracks BPE tokenizers
    within about 20% on English prose and code, needs no downloads, and is deterministic."""
    return sum(max(1, (len(p) + 3) // 4) if p[0].isalnum() or p[0] == "_" else 1
               for p in _TOKEN_PIECE.findall(text))


def messages_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        total += 4 + approx_tokens(str(m.get("content") or ""))
        for call in m.get("tool_calls") or []:
            total += approx_tokens(json.dumps(call.get("function", {})))
    return total


def chat_url(url: str) -> str:
    """Accept a base URL (``http://host:8000``, ``.../v1``) or the full chat-completions URL."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


# ----------------------------------------------------------------------------- plain-text actions
_FUNCTION = re.compile(r"<function=([\w.\-]+)>(.*?)(?:</function>|\Z)", re.DOTALL)
_PARAM = re.compile(r"<parameter=([\w.\-]+)>(.*?)</parameter>", re.DOTALL)


def _strip_one_newline(value: str) -> str:
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value.strip())
    if kind == "array":
        text = value.strip()
        if text.startswith("["):
            return list(json.loads(text))
        return [v for v in re.split(r"[\n,]+|\s+", text) if v]
    if kind == "boolean":
        return value.strip().lower() in ("1", "true", "yes")
    return value


def parse_text_action(content: str, tools: list[dict[str, Any]] | None = None) -> list[ToolCall]:
    """Read ``<function=NAME><parameter=K>V</parameter>...</function>`` calls out of a reply."""
    schemas = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools or []}
    calls: list[ToolCall] = []
    for n, match in enumerate(_FUNCTION.finditer(content)):
        name, body = match.group(1), match.group(2)
        props = schemas.get(name, {}).get("properties", {})
        args: dict[str, Any] = {}
        error = ""
        for key, raw in _PARAM.findall(body):
            value = _strip_one_newline(raw)
            try:
                args[key] = _coerce(value, props.get(key, {}))
            except (ValueError, json.JSONDecodeError) as exc:
                error = f"parameter {key!r}: {exc}"
        calls.append(ToolCall(name=name, arguments=args, id=f"text-{n}", error=error))
    return calls


def describe_tools_as_text(tools: list[dict[str, Any]]) -> str:
    """The tool list and the plain-text call format, for the system prompt of a text-mode model."""
    lines = [
        "You act by writing exactly one function call at the end of each reply, in this format:",
        "",
        "<function=NAME>",
        "<parameter=PARAM_NAME>value</parameter>",
        "<parameter=OTHER_PARAM>",
        "a value that may span",
        "several lines",
        "</parameter>",
        "</function>",
        "",
        "Values are written raw (no quoting or escaping). Available functions:",
    ]
    for t in tools:
        fn = t["function"]
        lines.append(f"\n## {fn['name']}\n{fn.get('description', '')}")
        required = set(fn.get("parameters", {}).get("required", []))
        for pname, spec in fn.get("parameters", {}).get("properties", {}).items():
            need = "required" if pname in required else "optional"
            lines.append(f"- {pname} ({spec.get('type', 'string')}, {need}): {spec.get('description', '')}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the client
@dataclass
class ChatClient:
    url: str
    model: str
    api_key: str = ""
    tool_mode: str = "native"
    """``native`` (OpenAI tool calls) or ``text`` (the plain-text function-call format)."""
    temperature: float = 0.0
    max_tokens: int = 4096
    """Completion tokens per call."""
    timeout_s: float = 300.0
    max_retries: int = 6
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)
    """Extra request fields (top_p, seed, stop, ...)."""

    def __post_init__(self) -> None:
        if self.tool_mode not in ("native", "text"):
            raise ValueError(f"tool_mode must be 'native' or 'text', not {self.tool_mode!r}")
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

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
                 ) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature, "max_tokens": self.max_tokens,
                                **self.extra}
        if tools and self.tool_mode == "native":
            body["tools"] = tools
            body["tool_choice"] = "auto"
        url = chat_url(self.url)
        start = time.monotonic()
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after: str | None = None
            try:
                resp = self._http.post(url, json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    try:
                        data = resp.json()
                        result = self._parse(data, tools, messages)
                    except (ValueError, KeyError, IndexError, TypeError) as exc:
                        last = f"unreadable answer: {exc}: {resp.text[:300]}"
                    else:
                        result.duration_s = time.monotonic() - start
                        result.attempts = attempt + 1
                        return result
                elif resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                    retry_after = resp.headers.get("retry-after")
                else:
                    raise ModelError(f"HTTP {resp.status_code} from {url}: {resp.text[:500]}",
                                     resp.status_code, resp.text[:5000])
            if attempt < self.max_retries:
                time.sleep(self._backoff(attempt, retry_after))
        raise ModelError(f"{url} failed after {self.max_retries + 1} attempts; last: {last}")

    def _parse(self, data: dict[str, Any], tools: list[dict[str, Any]] | None,
               messages: list[dict[str, Any]]) -> Completion:
        choice = data["choices"][0]
        message = choice["message"]
        content = message.get("content") or ""
        calls: list[ToolCall] = []
        for n, tc in enumerate(message.get("tool_calls") or []):
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
            calls.append(ToolCall(name=str(fn.get("name", "")), arguments=args,
                                  id=str(tc.get("id") or f"call-{n}"), error=error))
        if not calls and self.tool_mode == "text":
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
