"""Tasks: generating from an unknown image is refused before any job is made."""

from __future__ import annotations

from api_client import Api


def test_tasks_of_an_unknown_image_are_404(api: Api) -> None:
    r = api.client.post("/v1/tasks", json={"image": "forager/none:0"}, headers=api.write)
    assert r.status_code == 404
