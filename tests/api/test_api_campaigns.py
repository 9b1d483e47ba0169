"""``/v1/campaigns``: create (checked sources and spec), funnel, cancel; scopes enforced."""

from __future__ import annotations

from api_client import Api

from forager.store import campaigns as rows


def test_create_show_cancel(api: Api) -> None:
    body = {"name": "api-c1", "sources": ["pypi:toolz==1.0.0", "pypi:six==1.16.0"],
            "tasks": {"mutate-fix": 2}, "episodes_per_task": 1, "start": False}
    assert api.client.post("/v1/campaigns", json=body, headers=api.read).status_code == 403
    r = api.client.post("/v1/campaigns", json=body, headers=api.write)
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["versions"] == 2 and out["stages"]["build"] == {"pending": 2} and out["state"] == "active"
    assert api.client.post("/v1/campaigns", json=body, headers=api.write).status_code == 409

    got = api.client.get(f"/v1/campaigns/{out['id']}", headers=api.read)
    assert got.status_code == 200 and got.json()["versions"] == 2
    assert api.client.get("/v1/campaigns/camp-nope", headers=api.read).status_code == 404

    c = api.client.post(f"/v1/campaigns/{out['id']}/cancel", headers=api.write)
    assert c.status_code == 200 and c.json()["state"] == "cancelled"
    assert c.json()["stages"]["build"] == {"cancelled": 2}
    assert rows.get_campaign("api-c1").state == "cancelled"


def test_bad_requests_are_refused(api: Api) -> None:
    bad = [
        {"name": "x", "sources": ["/etc"]},  # a server directory needs the admin scope
        {"name": "x", "sources": ["file:///etc/passwd"]},
        {"name": "x y", "sources": ["pypi:toolz"]},
        {"name": "x", "sources": ["pypi:toolz"], "tasks": {"rm-rf": 1}},
        {"name": "x", "sources": ["pypi:toolz"], "agent": "shell"},
        {"name": "x", "sources": []},
    ]
    for body in bad:
        r = api.client.post("/v1/campaigns", json={**body, "start": False}, headers=api.write)
        assert r.status_code in (403, 422), (body, r.status_code, r.text)
    assert rows.list_campaigns() == []
