"""Following a trajectory file while it grows (forager.trajectory.replay.follow)."""

from __future__ import annotations

import threading
import time
from io import StringIO
from pathlib import Path

from replay_samples import sample
from rich.console import Console

from forager.trajectory import fileformat, replay


def test_follow_prints_new_steps_until_the_outcome(tmp_path: Path) -> None:
    traj = sample()
    path = tmp_path / "live.jsonl"
    lines = fileformat.to_lines(traj)
    path.write_text("\n".join(lines[:2]) + "\n")  # header and step 0

    def writer() -> None:  # rewrites in place (not atomically): readers may catch it empty or cut
        for n in range(3, len(lines) + 1):
            time.sleep(0.15)
            path.write_text("")
            time.sleep(0.06)
            path.write_text("\n".join(lines[:n]) + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    buf = StringIO()
    result = replay.follow(
        str(path), Console(file=buf, width=120, color_system=None), interval=0.05, timeout=20
    )
    thread.join()
    out = buf.getvalue()
    assert result.error is None
    assert [out.count(f"step {i} ") for i in range(4)] == [1, 1, 1, 1]  # each step printed once
    assert out.index("step 3 ") < out.index("NOT RESOLVED")
