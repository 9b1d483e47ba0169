"""The workspace container: one that stopped is replaced at the next reset."""

from __future__ import annotations

from typing import Any

from forager.tasks.workspace import Workspace


def test_workspace_replaces_a_stopped_container(minipkg_build: Any) -> None:
    said: list[str] = []
    ws = Workspace(minipkg_build.image, minipkg_build.test_command, progress=said.append)
    try:
        old = ws.box
        assert old is not None
        old.kill()  # type: ignore[attr-defined]
        ws.reset()
        assert ws.box is not old and ws.sh("git status --short", 60).ok
        assert any("starting a new one" in s for s in said)
    finally:
        ws.remove()
