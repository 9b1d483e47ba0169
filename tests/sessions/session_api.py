"""What the session tests share: an app on a fresh registry with tokens, and one action helper."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from forager.api.app import create_app
from forager.store import tokens


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    write: dict[str, str]
    other: dict[str, str]
    """A second write token: it must never see the first one's sessions."""


def auth(scope: str, name: str = "") -> dict[str, str]:
    token, _ = tokens.create(name or f"test-{scope}", scope)
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def open_api() -> Iterator[Api]:
    with TestClient(create_app()) as client:
        yield Api(client, auth("read"), auth("write"), auth("write", "other"))


def act(api: Api, sid: str, tool: str, headers: dict[str, str] | None = None, **arguments: Any) -> httpx.Response:
    return api.client.post(f"/v1/sessions/{sid}/actions", headers=headers or api.write,
                           json={"tool": tool, "arguments": arguments})
