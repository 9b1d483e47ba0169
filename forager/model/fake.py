"""A deterministic in-package model: plays a scripted list of replies, no network.

For tests and for episodes without an endpoint::

    from forager.model.fake import FakeModel, Reply

    model = FakeModel([
        Reply("Let me look.", tool_calls=[("bash", {"command": "ls"})]),
        Reply(tool_calls=[("edit", {"path": "a.py", "old_str": "-", "new_str": "+"})]),
        Reply(tool_calls=[("submit", {})]),
    ])

Each ``complete`` call plays the next ``Reply``; when the script is used up it answers
``FakeModel.EXHAUSTED`` (a plain message without any action). Replies go through the same reader as
the HTTP client's answers (``wire.parse_completion``), so:

* a tool call's arguments may be a ``dict`` or a raw ``str`` (a string that is not a JSON object
  gives a call whose ``error`` says so, as a malformed endpoint answer would);
* in ``tool_mode="text"`` the calls are written into the content as ``<function=...>`` markup and
  parsed back out, as a text-mode model's reply would be;
* token counts are estimated (``approx_tokens``) unless the reply gives them.

``Reply(error=ModelError(...))`` makes that call raise instead. Every call is recorded in
``requests`` (the messages and tools it was given).

(Not to be confused with ``tests/fake_model.py``: a scripted HTTP *server* that tests the real
``ChatClient`` over the wire. This one replaces the client altogether.)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from forager.model.base import Completion, ModelError, check_tool_mode
from forager.model.text_actions import format_text_action
from forager.model.wire import parse_completion

ToolCallScript = tuple[str, dict[str, Any] | str]
"""``(tool name, arguments)``: arguments as a dict, or as the raw JSON text an endpoint would send."""


@dataclass
class Reply:
    """One scripted answer: text, tool calls, token counts, or an error to raise."""

    content: str = ""
    tool_calls: list[ToolCallScript] = field(default_factory=list)
    prompt_tokens: int = 0
    """0 means estimated from the messages."""
    completion_tokens: int = 0
    """0 means estimated from the reply."""
    error: ModelError | None = None


@dataclass
class FakeModel:
    """A ``Model`` that plays ``script`` in order (see the module docstring)."""

    script: list[Reply] = field(default_factory=list)
    tool_mode: str = "native"
    model: str = "fake"
    url: str = "fake://model"
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every call as ``{"messages": [...], "tools": [...]}`` (copies), in order."""
    closed: bool = False

    EXHAUSTED = "I am out of ideas."

    def __post_init__(self) -> None:
        check_tool_mode(self.tool_mode)
        self._queue = list(self.script)
        self._lock = threading.Lock()

    @property
    def sampling(self) -> dict[str, Any]:
        return {"temperature": 0.0, "tool_mode": self.tool_mode, "fake": True}

    def close(self) -> None:
        self.closed = True

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
                 ) -> Completion:
        with self._lock:
            n = len(self.requests)
            self.requests.append({"messages": json.loads(json.dumps(messages, default=str)),
                                  "tools": list(tools or [])})
            reply = self._queue.pop(0) if self._queue else Reply(self.EXHAUSTED)
        if reply.error is not None:
            raise reply.error
        return parse_completion(self._answer(n, reply), self.tool_mode, tools, messages)

    def _answer(self, n: int, reply: Reply) -> dict[str, Any]:
        """The reply in the chat-completions wire format an endpoint would send."""
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls and self.tool_mode == "text":
            written = [format_text_action(name, args if isinstance(args, dict) else {})
                       for name, args in reply.tool_calls]
            message["content"] = "\n".join(filter(None, [reply.content, *written]))
        elif reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function",
                 "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                for i, (name, args) in enumerate(reply.tool_calls)]
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        return {"choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
                "usage": usage}
