"""The viewer's pages in headless Chromium: real rendering (screenshots decoded) and the DOM after scripts."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from needs import unavailable
from web_seed import seed_registry, serve_viewer

from forager.config import reset_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(forager_home: Path) -> dict[str, str]:
    """A registry with builds, images, tasks, jobs and runs over five days, one damaged trajectory
    file and one whose file is gone."""
    return seed_registry()


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
    with serve_viewer() as url:
        yield url


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
