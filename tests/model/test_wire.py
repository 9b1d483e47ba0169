"""The chat-completions wire format."""

from __future__ import annotations

from forager.model.wire import chat_url


def test_chat_url_forms() -> None:
    assert chat_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert chat_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_url("https://api.x/v1/chat/completions") == "https://api.x/v1/chat/completions"
