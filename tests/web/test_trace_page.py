"""The trace pages of the viewer (forager.web.trace_page), through HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from trace_seed import seed_traces
from web_seed import make_app

from forager.store import tokens
from forager.store.traces import TraceFilters, add_traces, list_traces


@pytest.fixture
def client() -> TestClient:
    token, _ = tokens.create("viewer-test", "read")
    return TestClient(make_app(), headers={"Authorization": f"Bearer {token}"})


def test_a_trace_opens_at_a_step_with_its_line_highlighted_and_locals_beside(
        client: TestClient, tmp_path: Path) -> None:
    seed_traces(tmp_path)
    total = list_traces(TraceFilters(function="running_total"), 1, None)[0][0].id
    page = client.get(f"/ui/traces/{total}?step=5").text
    assert re.findall(r'class="src-line current" data-line="(\d+)"', page) == ["13"]
    assert '<tr class="changed"><th>total</th><td><code>2</code>' in page
    assert 'id="frame-arg" class="frame-arg" hidden' in page
    frames = json.loads(re.search(r'id="trace-frames">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert len(frames) == 15 and frames[-1]["arg"] == "[2, 6, 12]" and frames[5]["locals"]["out"] == "[]"
    last = client.get(f"/ui/traces/{total}?step=999").text  # clamped to the last frame
    assert "<h3 id=\"arg-title\">returned</h3><pre id=\"arg-value\">[2, 6, 12]</pre>" in last


def test_values_cannot_inject_markup(client: TestClient) -> None:
    evil = "'</script><script>alert(1)</script>'"
    frames = [{"event": "call", "line": 1, "source": "def f(x):", "locals": {"x": evil}},
              {"event": "return", "line": 2, "source": "    return x", "arg": evil}]
    ids, _ = add_traces("forager/x:1", "pypi:x==1", 0, [{
        "path": "x.py", "function": "f", "first_line": 1, "test": "t", "kind": "target", "caller": None,
        "status": "complete", "engine": "settrace", "python": "3.11.2", "n_frames": 2, "size_bytes": 10,
        "fingerprint": "f" * 64, "source": "def f(x):\n    return x", "frames": json.dumps(frames)}])
    page = client.get(f"/ui/traces/{ids[0]}").text
    assert "<script>alert(1)" not in page and page.count("<script") == 3  # the frames, trace.js, viewer.js


def test_the_list_the_missing_and_the_signed_out(client: TestClient, tmp_path: Path) -> None:
    ids = seed_traces(tmp_path)
    listing = client.get("/ui/traces").text
    assert all(f'href="/ui/traces/{i}"' in listing for i in ids)
    assert client.get("/ui/traces?image=forager/none").text.count("/ui/traces/trace-") == 0
    assert client.get("/ui/traces/trace-nothere").status_code == 404
    assert TestClient(make_app()).get(f"/ui/traces/{ids[0]}").status_code == 401
