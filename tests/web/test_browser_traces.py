"""The trace page in headless Chromium: rendered for real, the current line highlighted, and the
step slider's script moving to the frame a link names (``#step=N``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_browser import assert_real_rendering, browse
from trace_seed import seed_traces
from web_seed import serve_viewer

from forager.config import reset_settings
from forager.store.traces import TraceFilters, list_traces

pytestmark = pytest.mark.browser
HIGHLIGHT = (0xFF, 0xF8, 0xC5)
"""The current line's background (trace.css)."""


@pytest.fixture
def server(forager_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FORAGER_VIEWER_PUBLIC", "true")
    reset_settings()
    with serve_viewer() as url:
        yield url


def test_trace_page_renders_and_the_slider_script_moves_to_a_frame(server: str, tmp_path: Path) -> None:
    seed_traces(tmp_path)
    trace = list_traces(TraceFilters(function="running_total"), 1, None)[0][0].id
    pixels, dom = browse(f"{server}/ui/traces/{trace}?step=5", tmp_path / "trace.png")
    assert_real_rendering(pixels)
    yellow = np.all(pixels == np.array(HIGHLIGHT, dtype=np.uint8), axis=2)
    assert yellow.sum() > 2000, "the current line is not highlighted"
    rows = np.nonzero(yellow.any(axis=1))[0]
    assert rows.max() - rows.min() < 30, "more than one line is highlighted"
    assert re.findall(r'class="src-line current" data-line="(\d+)"', dom) == ["13"]
    # the server renders frame 0; the script follows the link to frame 12 (the loop's last test)
    _, dom = browse(f"{server}/ui/traces/{trace}#step=12", tmp_path / "trace12.png")
    assert re.search(r'id="frame-index">12<', dom)
    assert re.findall(r'class="src-line current" data-line="(\d+)"', dom) == ["11"]
    assert re.search(r'<tr class="changed"><th>out</th><td><code>\[2, 6, 12\]</code>', dom)
    _, dom = browse(f"{server}/ui/traces/{trace}#step=14", tmp_path / "trace14.png")
    assert re.search(r'id="arg-value">\[2, 6, 12\]<', dom) and 'id="frame-arg" class="frame-arg" hidden' not in dom
