"""The in-package scripted model (``forager.model.fake``): deterministic, no network."""

from __future__ import annotations

import pytest

from forager.model import Model, ModelError
from forager.model.fake import FakeModel, Reply

TOOLS = [{"type": "function", "function": {"name": "run_tests", "parameters": {
    "type": "object", "properties": {"tests": {"type": "array", "items": {"type": "string"}}}}}},
    {"type": "function", "function": {"name": "submit", "parameters": {"type": "object", "properties": {}}}}]
HI = [{"role": "user", "content": "hi"}]


def test_plays_the_script_in_order_then_says_nothing() -> None:
    model = FakeModel([Reply("looking", [("run_tests", {"tests": ["t::a"]})]), Reply(tool_calls=[("submit", {})])])
    first, second, third = (model.complete(HI, TOOLS) for _ in range(3))
    assert first.content == "looking" and first.tool_calls[0].name == "run_tests"
    assert first.tool_calls[0].arguments == {"tests": ["t::a"]}
    assert first.raw_message["tool_calls"][0]["id"] == first.tool_calls[0].id
    assert second.tool_calls[0].name == "submit"
    assert third.content == FakeModel.EXHAUSTED and third.tool_calls == []
    assert len(model.requests) == 3 and model.requests[0]["messages"] == HI
    assert isinstance(model, Model)


def test_tokens_are_estimated_unless_given() -> None:
    model = FakeModel([Reply("abc"), Reply("abc", prompt_tokens=7, completion_tokens=3)])
    estimated, given = model.complete(HI), model.complete(HI)
    assert estimated.prompt_tokens > 0 and estimated.completion_tokens > 0
    assert (given.prompt_tokens, given.completion_tokens) == (7, 3)


def test_malformed_arguments_give_a_call_error() -> None:
    [call] = FakeModel([Reply(tool_calls=[("submit", "{not json")])]).complete(HI, TOOLS).tool_calls
    assert call.name == "submit" and call.error.startswith("arguments are not valid JSON")


def test_text_mode_writes_and_parses_the_markup() -> None:
    model = FakeModel([Reply("I will test.", [("run_tests", {"tests": ["t::a", "t::b"]})])], tool_mode="text")
    reply = model.complete(HI, TOOLS)
    assert "<function=run_tests>" in reply.content and "tool_calls" not in reply.raw_message
    assert reply.tool_calls[0].arguments == {"tests": ["t::a", "t::b"]}


def test_a_scripted_error_is_raised() -> None:
    model = FakeModel([Reply(error=ModelError("too long", 400, "maximum context length"))])
    with pytest.raises(ModelError) as info:
        model.complete(HI)
    assert info.value.context_exceeded and not info.value.transient


def test_bad_tool_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="tool_mode"):
        FakeModel(tool_mode="xml")
