"""Token estimates without a tokenizer."""

from __future__ import annotations

from forager.model.tokens import approx_tokens


def test_approx_tokens() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("hello world") == 4  # 5 chars -> 2 per word
    assert approx_tokens("a+b") == 3
    assert 200 < approx_tokens("def f(x):\n    return x + 1\n" * 30) < 600
