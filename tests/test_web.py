"""The web viewer: pages rendered from a seeded registry, checked through HTTP and in headless Chromium."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from conftest import unavailable
from fastapi import FastAPI
from fastapi.testclient import TestClient

from forager.config import reset_settings
from forager.store import db, tokens
from forager.trajectory import schema as trajectory
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn
from forager.web.app import router

DIFF = (
    "diff --git a/src/calc.py b/src/calc.py\n--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1,2 +1,2 @@\n"
    " def add(a, b):\n-    return a - b\n+    return a + b\n"
)


def make_app() -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


def sample(traj_id: str, steps: int = 6, resolved: bool = False) -> Trajectory:
    turns = []
    for i in range(steps):
        if i % 3 == 0:
            action = Action(tool="bash", args={"command": f"grep -rn add src  # {i}"})
            obs = "\n".join(f"src/calc.py:{n}: def add(a, b):  # hit {n}" for n in range(40 if i == 3 else 3))
            code = 0
        elif i % 3 == 1:
            action = Action(
                tool="edit",
                args={"path": "src/calc.py", "old_str": "return a - b", "new_str": "return a + b"},
            )
            obs, code = "The file src/calc.py was edited.", 0
        else:
            action = Action(tool="bash", args={"command": "python -m pytest -q tests"})
            obs, code = "F..\nFAILED tests/test_calc.py::test_add - assert -1 == 3\n1 failed, 2 passed", 1
        turns.append(
            Turn(
                index=i,
                model_message=f"Step {i}: I will look for needle{i}.",
                action=action,
                observation=obs,
                exit_code=code,
                duration_s=0.1 * i,
            )
        )
    turns.append(
        Turn(
            index=steps,
            model_message="<script>alert('x')</script> done",
            action=Action(tool="bash", args={"command": "git diff"}),
            observation=DIFF,
            exit_code=0,
        )
    )
    return Trajectory(
        id=traj_id,
        task_id="task-1",
        image="forager/minipkg:1",
        image_digest="sha256:" + "a" * 64,
        repository="minipkg",
        kind="mutate-fix",
        model=ModelInfo(name="scripted"),
        problem_statement="add() returns the wrong result.",
        turns=turns,
        final_diff=DIFF,
        reward=Reward(
            resolved=resolved,
            fail_to_pass={"tests/test_calc.py::test_add": "passed" if resolved else "failed"},
            pass_to_pass={
                "tests/test_text.py::test_upper": "passed",
                "tests/test_calc.py::test_sub": "passed",
            },
        ),
        exit_reason="submitted",
        duration_s=12.5,
    )


@pytest.fixture
def seeded(forager_home: Path) -> dict[str, str]:
    """A registry with builds, images, tasks, jobs and runs over five days, one damaged trajectory
    file and one whose file is gone."""
    base = datetime(2025, 3, 1, 12, 0)
    with db.session() as s:
        s.add(db.Repository(id="repo-1", source="pypi:minipkg", name="minipkg", kind="pypi"))
        for d in range(5):
            for k in range(d + 1):
                status = "failed" if k == 0 and d % 2 else "validated"
                s.add(
                    db.Build(
                        id=f"build-{d}-{k}",
                        source="pypi:minipkg",
                        status=status,
                        created_at=base + timedelta(days=d),
                        duration_s=30.0 + k,
                    )
                )
        s.add(
            db.Image(
                id="forager/minipkg:1",
                build_id="build-0-0",
                digest="sha256:" + "a" * 64,
                source="pypi:minipkg",
                python="3.11",
                test_command="pytest",
            )
        )
        for d in range(5):
            s.add(
                db.Task(
                    id=f"task-{d}",
                    image_id="forager/minipkg:1",
                    kind="mutate-fix",
                    setup_patch="",
                    gold_patch="",
                    created_at=base + timedelta(days=d),
                )
            )
        s.add(db.Job(kind="run", state="succeeded"))
        s.add(db.Job(kind="build", state="failed"))
    ids = {}
    for d in range(5):
        tid = f"traj-day{d}"
        trajectory.save(sample(tid, resolved=d % 2 == 0))
        ids[f"day{d}"] = tid
    trajectory.save(sample("traj-damaged"))
    path = trajectory.stored_path("traj-damaged")
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(raw[: raw.index(b'"type": "turn"', raw.index(b'"index": 3')) - 20] + b'\n{"type": "tu')
    trajectory.save(sample("traj-gone", steps=2))
    trajectory.stored_path("traj-gone").unlink()
    with db.session() as s:
        for d in range(5):
            s.get(db.Trajectory, f"traj-day{d}").created_at = base + timedelta(days=d)
    return ids


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


# ----------------------------------------------------------------------------- headless Chromium
def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into an array, undoing the row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.int32)
    prev = np.zeros(width * bpp, dtype=np.int32)
    for r in range(height):
        f, line = raw[r, 0], raw[r, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:
            cur = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif f == 2:
            cur = (line + prev) % 256
        else:
            cur = line.copy()
            for i in range(width * bpp):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                if f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) % 256
        out[r] = cur
        prev = cur
    return out.reshape(height, width, bpp)[:, :, :3].astype(np.uint8)


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        unavailable("no chromium (apt-get install -y chromium)")
    return exe


@pytest.fixture
def server(seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The viewer over HTTP for a browser, opened with FORAGER_VIEWER_PUBLIC=true."""
    monkeypatch.setenv("FORAGER_VIEWER_PUBLIC", "true")
    reset_settings()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(make_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def browse(url: str, out: Path, size: tuple[int, int] = (1280, 900)) -> tuple[np.ndarray, str]:
    """A screenshot and the DOM after scripts ran, from a fresh headless Chromium profile."""
    exe = chromium()
    common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
    ]
    for mode in ("shot", "dom"):
        profile = out.parent / f"profile-{out.stem}-{mode}"
        args = [exe, *common, f"--user-data-dir={profile}"]
        args += [f"--screenshot={out}", url] if mode == "shot" else ["--dump-dom", url]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if mode == "dom":
            dom = proc.stdout
    assert out.exists(), proc.stderr[-2000:]
    return decode_png(out.read_bytes()), dom


def assert_real_rendering(pixels: np.ndarray, size: tuple[int, int] = (1280, 900)) -> None:
    assert pixels.shape[:2] == (size[1], size[0])
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 50, f"only {len(colours)} colours: a blank page?"
    top_bar = pixels[5:30, 400:800].reshape(-1, 3).mean(axis=0)
    assert (top_bar < 80).all(), f"the dark header bar is missing: {top_bar}"  # the CSS applied


def test_pages_render_in_headless_chromium(server: str, tmp_path: Path, seeded: dict[str, str]) -> None:
    keep = os.environ.get("FORAGER_SCREENSHOT_DIR")
    pixels, dom = browse(f"{server}/ui/trajectories/{seeded['day1']}", tmp_path / "trajectory.png")
    assert_real_rendering(pixels)
    assert len(re.findall(r'<li class="turn ', dom)) == 7
    assert 'class="d-add"' in dom and 'id="outcome"' in dom
    pixels, dom = browse(f"{server}/ui/", tmp_path / "overview.png")
    assert_real_rendering(pixels)
    assert "<polyline" in dom and 'id="stats"' in dom
    pixels, dom = browse(f"{server}/ui/trajectories/traj-damaged", tmp_path / "damaged.png")
    assert_real_rendering(pixels)
    assert 'id="load-error"' in dom
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("trajectory.png", "overview.png", "damaged.png"):
            shutil.copy(tmp_path / name, Path(keep) / name)


def test_long_trajectory_page_shows_one_page_of_steps_and_links_all() -> None:
    from forager.trajectory.schema import Action, LoadResult, Trajectory, Turn
    from forager.web.app import PAGE_TURNS, trajectory_page

    turns = [Turn(index=i, action=Action(tool="bash", args={"command": f"echo step{i}"}),
                  observation=f"out-{i}", exit_code=0) for i in range(450)]
    result = LoadResult(trajectory=Trajectory(id="traj-long", turns=turns), valid_lines=452)
    first = trajectory_page(result)
    assert first.count('class="turn ') == PAGE_TURNS and "out-0<" in first and "out-300<" not in first
    assert 'href="?start=400#step-449"' in first and 'href="#step-199"' in first
    third = trajectory_page(result, start=401)
    assert third.count('class="turn ') == 50 and "out-449<" in third
    found = trajectory_page(result, q="step333")
    assert found.count('class="turn ') == 1 and "out-333" in found
