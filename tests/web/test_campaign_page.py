"""The campaign pages: funnel, throughput and failure causes drawn as SVG, checked as HTML and
rendered in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_browser import assert_real_rendering, browse
from web_seed import make_app, serve_viewer

from forager.clock import utcnow
from forager.config import reset_settings
from forager.store import campaigns as rows
from forager.store import db


def seed_campaign() -> str:
    camp = rows.create_campaign("farm-1", {"sources": ["pypi:toolz", "pypi:six"]})
    t0 = utcnow() - timedelta(hours=2)
    with db.session() as s:
        for i in range(6):
            ok = i < 4
            s.add(db.CampaignItem(campaign_id=camp.id, stage="build", key=f"pypi:toolz=={i}@{i}",
                                  source="pypi:toolz" if i % 2 else "pypi:six", params={},
                                  state="done" if ok else "failed", cause=None if ok else "install-failed",
                                  result={"image": f"img{i}"} if ok else {"detail": "lxml"},
                                  started_at=t0, finished_at=t0 + timedelta(minutes=15 * i)))
        s.add(db.CampaignItem(campaign_id=camp.id, stage="tasks", key="img0:mutate-fix", params={}, state="done",
                              result={"task_ids": ["task-a", "task-b"]}, started_at=t0,
                              finished_at=t0 + timedelta(minutes=40)))
        s.add(db.CampaignItem(campaign_id=camp.id, stage="episode", key="task-a#0", params={}, state="done",
                              result={"resolved": True, "trajectory_id": "traj-a"}, started_at=t0,
                              finished_at=t0 + timedelta(minutes=50)))
    return camp.id


@pytest.fixture
def public(forager_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FORAGER_VIEWER_PUBLIC", "true")
    reset_settings()
    return seed_campaign()


def test_campaign_page_html(public: str) -> None:
    client = TestClient(make_app())
    listing = client.get("/ui/campaigns")
    assert listing.status_code == 200 and "farm-1" in listing.text
    r = client.get("/ui/campaigns/farm-1")
    assert r.status_code == 200
    text = r.text
    assert text.count("<svg") == 3 and "<polyline" in text
    assert 'aria-label="Funnel"' in text and "images validated" in text
    assert "install-failed" in text and "(lxml)" in text
    assert client.get("/ui/campaigns/nope").status_code == 404


def test_campaign_page_needs_sign_in(forager_home: Path) -> None:
    seed_campaign()
    r = TestClient(make_app()).get("/ui/campaigns/farm-1", follow_redirects=False)
    assert r.status_code in (302, 303, 401)


@pytest.fixture
def server(public: str) -> Iterator[str]:
    with serve_viewer() as url:
        yield url


@pytest.mark.browser
def test_campaign_page_renders_in_chromium(server: str, tmp_path: Path) -> None:
    pixels, dom = browse(f"{server}/ui/campaigns/farm-1", tmp_path / "campaign.png")
    assert_real_rendering(pixels)
    assert dom.count('class="bar"') == 5 + 1  # five funnel bars, one failure cause
    assert "<polyline" in dom and 'id="funnel"' in dom and 'id="causes"' in dom
