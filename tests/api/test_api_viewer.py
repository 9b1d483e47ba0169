"""The viewer mounted in the API: it needs a token (or FORAGER_VIEWER_PUBLIC), signs in through an
HttpOnly cookie, never redirects off-site."""

from __future__ import annotations

import pytest
from api_client import (
    Api,
)

from forager.config import reset_settings
from forager.store import tokens


def test_the_viewer_needs_a_token(api: Api, secrets_stored: str) -> None:
    c = api.client
    pages = ["/ui/", "/ui", "/ui/trajectories", f"/ui/trajectories/{secrets_stored}"]
    for path in pages:
        r = c.get(path)
        assert r.status_code == 401 and 'id="login"' in r.text, path
        assert "GOLD_PATCH_MARKER" not in r.text and "s3cr3t" not in r.text and "build-secret" not in r.text
        bad = c.get(path, headers={"Authorization": "Bearer fgr_00000000_" + "a" * 43})
        assert bad.status_code == 401 and "unknown or revoked" in bad.text
        assert c.get(path, headers=api.read).status_code == 200, path
    assert c.get("/ui/static/forager.css").status_code == 200  # the sign-in page's style stays open

    # the sign-in form keeps the token in an HttpOnly cookie for /ui, then the pages open
    token = api.read["Authorization"].removeprefix("Bearer ")
    assert c.post("/ui/login", data={"token": "nope"}).status_code == 401
    r = c.post("/ui/login", data={"token": token, "next": f"/ui/trajectories/{secrets_stored}"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/trajectories/{secrets_stored}"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    page = c.get(f"/ui/trajectories/{secrets_stored}")
    assert page.status_code == 200 and "GOLD_PATCH_MARKER" in page.text
    # never an open redirect
    for target in ("//evil.example/ui", "https://evil.example/", "/ui/..\\evil"):
        r = c.post("/ui/login", data={"token": token, "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/ui/", target
    c.post("/ui/logout")
    c.cookies.clear()
    # a revoked token no longer opens the viewer
    info = tokens.verify(token)
    assert info is not None and tokens.revoke(info.id)
    assert c.get("/ui/", headers=api.read).status_code == 401


def test_a_public_viewer_opens_without_a_token(api: Api, secrets_stored: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_VIEWER_PUBLIC", "true")
    reset_settings()
    assert api.client.get("/ui/").status_code == 200
    assert api.client.get(f"/ui/trajectories/{secrets_stored}").status_code == 200
