"""Models chosen by kind, with limits from settings."""

from __future__ import annotations

import pytest

from forager.config import get_settings
from forager.errors import InvalidInput
from forager.model import ModelConfig, get_model, register_model
from forager.model.client import ChatClient
from forager.model.fake import FakeModel, Reply


def test_kinds() -> None:
    fake = get_model("fake", script=[Reply("x")])
    assert isinstance(fake, FakeModel) and fake.complete([]).content == "x"
    client = get_model("openai", url="http://127.0.0.1:1/v1", model="m", tool_mode="text")
    assert isinstance(client, ChatClient) and client.tool_mode == "text"
    client.close()
    with pytest.raises(InvalidInput, match="unknown model kind"):
        get_model("nope")
    register_model("fake-too", lambda **kw: FakeModel(**kw))
    assert isinstance(get_model("fake-too"), FakeModel)


def test_limits_come_from_settings() -> None:
    settings = get_settings()
    client = ChatClient("http://127.0.0.1:1", "m")
    assert (client.max_tokens, client.timeout_s, client.max_retries) == (
        settings.model_max_tokens, settings.model_timeout_s, settings.model_retries)
    limits = ModelConfig(max_tokens=11, timeout_s=2.0, retries=1)
    client = get_model("openai", url="http://127.0.0.1:1", model="m", config=limits)
    assert isinstance(client, ChatClient)
    assert (client.max_tokens, client.timeout_s, client.max_retries) == (11, 2.0, 1)
    assert client.sampling["max_tokens"] == 11
