"""The terminal view of a trajectory (forager.trajectory.replay.render), and `forager replay` without --execute."""

from __future__ import annotations

import gzip
import json
from io import StringIO
from pathlib import Path

import pytest
from replay_samples import render, sample
from rich.console import Console
from typer.testing import CliRunner

from forager.cli.main import app
from forager.trajectory import fileformat, replay
from forager.trajectory.present import looks_like_diff
from forager.trajectory.replay.render import diff_text
from forager.trajectory.store import save


def test_view_shows_every_turn_folds_long_output_and_colours_diffs(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    fileformat.write(sample(), path)
    out = render(replay.open_trajectory(str(path)))
    for i in range(4):
        assert f"step {i} " in out
    assert "$ ls" in out and "+return a + b" in out and "-return a - b" in out
    assert "[... 70 lines folded ...]" in out and "\n100\n" in out
    assert "NOT RESOLVED" in out and "failing FAIL_TO_PASS tests/test_a.py::test_add failed" in out
    full = render(replay.open_trajectory(str(path)), full=True)
    assert "folded" not in full and "\n50\n" in full


def test_diff_colouring() -> None:
    text = diff_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n c")
    styles = {text.plain[s.start : s.end].strip(): str(s.style) for s in text.spans}
    assert styles["-a"] == "red" and styles["+b"] == "green" and styles["@@ -1 +1 @@"] == "cyan"
    assert looks_like_diff("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b")
    assert not looks_like_diff("- a list item\n+ not a diff")


def test_one_step_and_bad_step(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    fileformat.write(sample(), path)
    out = render(replay.open_trajectory(str(path)), step=3)
    assert "step 3 " in out and "step 2 " not in out and "1 failed" in out
    with pytest.raises(replay.ReplayError, match=r"no step 7: the trajectory has steps 0\.\.3"):
        render(replay.open_trajectory(str(path)), step=7)


def test_stored_id_and_missing_reference(tmp_path: Path) -> None:
    tid = save(sample())
    assert "step 3 " in render(replay.open_trajectory(tid))
    with pytest.raises(replay.ReplayError, match="no trajectory"):
        replay.open_trajectory("traj-missing")


def test_truncated_file_is_shown_as_far_as_valid_with_the_error_marked(tmp_path: Path) -> None:
    raw = gzip.decompress(fileformat.dumps(sample()))
    cut = raw[: raw.index(b'"index": 3') + 5]  # the fourth turn's line is cut short
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    out = render(replay.open_trajectory(str(path)))
    assert "step 2 " in out and "step 3 " not in out
    assert out.count("DAMAGED OR INCOMPLETE: line 5") == 2  # at the top and where reading stopped
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(fileformat.dumps(sample())[:-30])
    assert "DAMAGED OR INCOMPLETE" in render(replay.open_trajectory(str(gz)))


def test_outside_agent_trajectory_as_one_json_object(tmp_path: Path) -> None:
    """Uploaded trajectories: one JSON object, unknown tools, no exit codes, no reward."""
    data = {
        "agent": "other-agent",
        "turns": [
            {
                "index": 1,
                "model_message": "thinking",
                "action": {"tool": "str_replace_editor", "args": {"command": "view", "path": "/repo"}},
                "observation": "a.py\nb.py",
            },
            {"index": 2, "model_message": "final answer, no tool"},
        ],
    }
    path = tmp_path / "upload.json"
    path.write_text(json.dumps(data))
    out = render(replay.open_trajectory(str(path)))
    assert 'str_replace_editor {"command": "view", "path": "/repo"}' in out
    assert "exit -" in out and "step 2 message" in out and "no reward recorded" in out


def test_cli_view_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    fileformat.write(sample(), path)
    runner = CliRunner()
    r = runner.invoke(app, ["replay", str(path), "--step", "1"])
    assert r.exit_code == 0 and "+return a + b" in r.stdout
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(gzip.decompress(fileformat.dumps(sample()))[:400])
    r = runner.invoke(app, ["replay", str(broken)])
    assert r.exit_code == 1 and "DAMAGED" in r.stdout
    assert runner.invoke(app, ["replay", "traj-nothing"]).exit_code == 2
    assert runner.invoke(app, ["replay", str(path), "--step", "99"]).exit_code == 2


def test_recorded_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    traj = sample(1)
    traj.turns[0].observation = "\x1b[2J\x1b]0;owned\x07red \x1b[31mtext\x1b[0m\rprogress\x00"
    path = tmp_path / "esc.jsonl.gz"
    fileformat.write(traj, path)
    buf = StringIO()
    replay.show(replay.open_trajectory(str(path)), Console(file=buf, width=100, color_system="truecolor",
                                                           force_terminal=True))
    out = buf.getvalue()
    assert "\x1b[2J" not in out and "\x07" not in out and "\x00" not in out and "\r" not in out
    assert "red text\nprogress?" in out
