"""The viewer's pages (forager.web.views, forager.web.auth) rendered from a seeded registry, through HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_seed import make_app, seed_registry

from forager.store import tokens


@pytest.fixture
def seeded(forager_home: Path) -> dict[str, str]:
    """A registry with builds, images, tasks, jobs and runs over five days, one damaged trajectory
    file and one whose file is gone."""
    return seed_registry()


@pytest.fixture
def client() -> TestClient:
    """A client that presents a read token (the viewer is not public by default)."""
    token, _ = tokens.create("viewer-test", "read")
    return TestClient(make_app(), headers={"Authorization": f"Bearer {token}"})


def test_overview_shows_farm_figures_and_plot(seeded: dict[str, str], client: TestClient) -> None:
    r = client.get("/ui/")
    assert r.status_code == 200
    text = r.text
    assert '15</div><div class="lbl">builds' in text
    assert "87%" in text  # 13 validated of 15 finished builds
    assert "<svg" in text and "<polyline" in text and "03-05" in text
    assert text.count('class="traj-row"') == 7  # the 7 stored runs (fewer than 10)
    assert "3 of 7 rewarded runs" in text and "43%" in text  # days 0, 2, 4 resolved


def test_overview_on_an_empty_registry(client: TestClient) -> None:
    r = client.get("/ui/")
    assert r.status_code == 200
    assert "no data yet" in r.text and "No builds yet." in r.text


def test_trajectory_list_filters(seeded: dict[str, str], client: TestClient) -> None:
    r = client.get("/ui/trajectories")
    assert r.status_code == 200 and r.text.count('class="traj-row"') == 7
    assert client.get("/ui/trajectories?resolved=yes").text.count('class="traj-row"') == 3
    assert client.get("/ui/trajectories?repository=nothing").text.count('class="traj-row"') == 0
    page = client.get("/ui/trajectories?limit=2&offset=2").text
    assert page.count('class="traj-row"') == 2 and "offset=0" in page and "offset=4" in page
    assert client.get("/ui/trajectories?resolved=maybe").status_code == 422


def test_trajectory_page_shows_turns_diffs_and_failing_tests(
    seeded: dict[str, str], client: TestClient
) -> None:
    r = client.get(f"/ui/trajectories/{seeded['day1']}")
    assert r.status_code == 200
    text = r.text
    assert len(re.findall(r'<li class="turn ', text)) == 7
    assert 'id="step-0"' in text and 'id="step-6"' in text
    assert '<span class="d-add">+    return a + b</span>' in text  # edits and git diff coloured
    assert '<span class="d-del">-    return a - b</span>' in text
    assert '<tr class="failing"><td>FAIL_TO_PASS</td><td><code>tests/test_calc.py::test_add</code>' in text
    assert "not resolved" in text
    # a 40-line observation starts collapsed, short ones open
    assert '<details class="obs"><summary>observation · 40 lines' in text
    assert '<details class="obs" open><summary>observation · 3 lines' in text
    assert "<script>alert" not in text and "&lt;script&gt;alert" in text


def test_trajectory_search(seeded: dict[str, str], client: TestClient) -> None:
    text = client.get(f"/ui/trajectories/{seeded['day0']}", params={"q": "needle4"}).text
    assert len(re.findall(r'<li class="turn ', text)) == 1
    assert "<mark>needle4</mark>" in text and "1 of 7 steps match" in text
    text = client.get(f"/ui/trajectories/{seeded['day0']}", params={"q": "hit 39"}).text
    assert '<details class="obs" open><summary>observation · 40 lines' in text  # opened for the match


def test_damaged_and_missing_files_are_marked(seeded: dict[str, str], client: TestClient) -> None:
    text = client.get("/ui/trajectories/traj-damaged").text
    assert 'id="load-error"' in text and 'id="damaged"' in text
    assert len(re.findall(r'<li class="turn ', text)) == 3  # steps 0..2 were whole
    text = client.get("/ui/trajectories/traj-gone").text
    assert "the stored file cannot be read" in text


def test_unknown_ids_and_paths_are_not_served(seeded: dict[str, str], client: TestClient) -> None:
    assert client.get("/ui/trajectories/traj-nope").status_code == 404
    assert client.get("/ui/trajectories/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/ui/static/..%2Fweb.py").status_code == 404
    css = client.get("/ui/static/forager.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
