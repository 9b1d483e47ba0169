"""The chat client against a local scripted OpenAI-compatible server (no Docker)."""

from __future__ import annotations

import socket
import time

import pytest
from fake_model import FakeModel, text_call

from forager.episode.tools import TOOLS
from forager.model import ModelError
from forager.model.client import ChatClient


def client(url: str, **kw: object) -> ChatClient:
    return ChatClient(url, "m", backoff_s=0.05, backoff_max_s=0.5, **kw)  # type: ignore[arg-type]


def test_native_tool_calls_and_usage() -> None:
    script = [{"content": "looking", "tool_calls": [("view", {"path": "a.py", "start_line": 3})]},
              {"tool_calls": [("bash", "{not json")]}]
    with FakeModel(script) as fake:
        c = client(fake.url, api_key="sk-test")
        first = c.complete([{"role": "user", "content": "hi"}], TOOLS)
        second = c.complete([{"role": "user", "content": "hi"}], TOOLS)
    assert first.content == "looking" and first.tool_calls[0].name == "view"
    assert first.tool_calls[0].arguments == {"path": "a.py", "start_line": 3}
    assert first.completion_tokens == 20 and first.attempts == 1
    assert first.raw_message["tool_calls"][0]["id"] == first.tool_calls[0].id
    assert second.tool_calls[0].error.startswith("arguments are not valid JSON")
    req = fake.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["tool_choice"] == "auto" and len(req["body"]["tools"]) == len(TOOLS)


def test_text_mode_client() -> None:
    """A text-mode client sends no tools and reads the call out of the reply."""
    with FakeModel([{"content": text_call("submit", {}), "usage": False}]) as fake:
        reply_obj = client(fake.url, tool_mode="text").complete([{"role": "user", "content": "go"}], TOOLS)
    assert reply_obj.tool_calls[0].name == "submit" and "tools" not in fake.requests[0]["body"]
    assert reply_obj.prompt_tokens > 0 and reply_obj.completion_tokens > 0  # estimated


def test_errors_are_retried_with_backoff() -> None:
    script = [{"status": 500}, {"status": 502}, {"status": 200, "content": "ok"}]
    with FakeModel(script) as fake:
        reply = client(fake.url).complete([{"role": "user", "content": "hi"}])
    assert reply.content == "ok" and reply.attempts == 3 and len(fake.requests) == 3
    gaps = [b["time"] - a["time"] for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
    assert gaps[0] >= 0.02 and gaps[1] >= 0.04  # exponential: 0.05 then 0.1, jittered down to half

    with FakeModel([{"status": 429, "retry_after": 0.4}, {"content": "later"}]) as fake:
        start = time.monotonic()
        assert client(fake.url).complete([{"role": "user", "content": "hi"}]).content == "later"
    assert time.monotonic() - start >= 0.4

    with FakeModel([{"status": 503}] * 10) as fake, pytest.raises(ModelError, match="after 3 attempts"):
        client(fake.url, max_retries=2).complete([{"role": "user", "content": "hi"}])
    assert len(fake.requests) == 3

    with FakeModel([{"raw": "<html>proxy error</html>"}, {"content": "fine"}]) as fake:
        assert client(fake.url).complete([{"role": "user", "content": "hi"}]).content == "fine"


def test_client_errors_fail_at_once() -> None:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens"}}
    with FakeModel([{"status": 400, "body": body}]) as fake, pytest.raises(ModelError) as info:
        client(fake.url).complete([{"role": "user", "content": "hi"}])
    assert info.value.status == 400 and info.value.context_exceeded and len(fake.requests) == 1

    with socket.socket() as s:  # a port with nothing listening: connection errors are retried
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match="ConnectError"):
        client(f"http://127.0.0.1:{port}", max_retries=1).complete([{"role": "user", "content": "x"}])



def test_errors_say_whether_they_are_transient() -> None:
    with FakeModel([{"status": 503}] * 3) as fake, pytest.raises(ModelError) as info:
        client(fake.url, max_retries=1).complete([{"role": "user", "content": "hi"}])
    assert info.value.transient
    with FakeModel([{"status": 401}]) as fake, pytest.raises(ModelError) as info:
        client(fake.url).complete([{"role": "user", "content": "hi"}])
    assert not info.value.transient and info.value.status == 401
