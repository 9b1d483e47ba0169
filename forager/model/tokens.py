"""Token estimates for when an endpoint reports no ``usage`` (and for exports): no tokenizer download."""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN_PIECE = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """A documented tokenizer approximation: every run of word characters counts one token per
    started 4 characters, every other non-space character counts one. It tracks BPE tokenizers
    within about 20% on English prose and code, needs no downloads, and is deterministic."""
    return sum(max(1, (len(p) + 3) // 4) if p[0].isalnum() or p[0] == "_" else 1
               for p in _TOKEN_PIECE.findall(text))


def messages_tokens(messages: list[dict[str, Any]]) -> int:
    """Estimated prompt tokens of a chat history: 4 per message plus its content and tool calls."""
    total = 0
    for m in messages:
        total += 4 + approx_tokens(str(m.get("content") or ""))
        for call in m.get("tool_calls") or []:
            total += approx_tokens(json.dumps(call.get("function", {})))
    return total
