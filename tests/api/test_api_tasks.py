"""Tasks: generating from an unknown image is refused before any job is made."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_client import Api, open_api


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened


def test_tasks_of_an_unknown_image_are_404(api: Api) -> None:
    r = api.client.post("/v1/tasks", json={"image": "forager/none:0"}, headers=api.write)
    assert r.status_code == 404
