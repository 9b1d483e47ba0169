"""Fixed costs of a generation, paid once: the call map is traced once per image and reused by later
generations on it (no engine: the traced run is replaced by a recorder of the calls it gets), and a
test command that names its rootdir is not probed by a collection of the whole suite."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from forager.tasks import callmap
from forager.tasks.baseline import Baseline

TRACED = Baseline(["t::a", "t::b"], {}, {("pkg/m.py", 3): ["t::a"], ("pkg/m.py", 9): ["t::a", "t::b"]}, 4.5,
                  {("pkg/m.py", 3): 1, ("pkg/m.py", 9): 2}, {("pkg/m.py", 9)}, {"pkg/early.py"})


def test_the_call_map_is_traced_once_per_image_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []

    def traced(ws, passed, durations):  # type: ignore[no-untyped-def]
        runs.append(ws.image)
        return Baseline(TRACED.passed, durations, TRACED.callers, TRACED.run_s, TRACED.depth,
                        TRACED.import_time, TRACED.preimported)

    monkeypatch.setattr(callmap, "collect_baseline", traced)
    reads: list[str] = []

    def sources(ws, baseline):  # type: ignore[no-untyped-def]
        reads.append(ws.image)
        return {"pkg/m.py": "def f():\n    return 1\n"}

    monkeypatch.setattr(callmap, "read_sources", sources)
    ws, other = SimpleNamespace(image="forager/x:1"), SimpleNamespace(image="forager/y:1")
    first, cached = callmap.cached_baseline(ws, ["t::a", "t::b"], {"t::a": 0.1}, tmp_path)  # type: ignore[arg-type]
    assert not cached and runs == ["forager/x:1"]
    again, cached = callmap.cached_baseline(ws, ["t::b", "t::a"], {"t::a": 0.2}, tmp_path)  # type: ignore[arg-type]
    assert cached and runs == ["forager/x:1"]
    assert (again.passed, again.callers, again.depth, again.run_s) == (first.passed, first.callers, first.depth, 4.5)
    assert again.import_time == {("pkg/m.py", 9)} and again.at_import("pkg/early.py", 1)
    assert again.durations == {"t::a": 0.2}  # the image's durations, not the stored ones
    # the source files are kept with the map: a later generation reads none in the container
    assert again.sources == {"pkg/m.py": "def f():\n    return 1\n"} and reads == ["forager/x:1"]
    kept = callmap.load_kept(tmp_path, "forager/x:1", ["t::a", "t::b"], {})
    assert kept is not None and kept.sources == again.sources and kept.callers == first.callers
    assert callmap.load_kept(tmp_path, "forager/x:2", ["t::a", "t::b"], {}) is None
    callmap.cached_baseline(other, ["t::a", "t::b"], {}, tmp_path)  # type: ignore[arg-type]
    callmap.cached_baseline(ws, ["t::a"], {}, tmp_path)  # type: ignore[arg-type]  # other passing tests: traced again
    assert runs == ["forager/x:1", "forager/y:1", "forager/x:1"]
    for f in tmp_path.iterdir():
        f.write_text("{not json")
    callmap.cached_baseline(ws, ["t::a", "t::b"], {}, tmp_path)  # type: ignore[arg-type]  # a broken file is traced again
    assert len(runs) == 4


def test_a_test_command_that_names_its_rootdir_is_not_probed() -> None:
    from forager.tasks.workspace import Workspace

    calls: list[str] = []
    ws = SimpleNamespace(test_command="python -m pytest --rootdir=/repo tests", sh=lambda c, t=0: calls.append(c))
    Workspace._pin_rootdir(ws)  # type: ignore[arg-type]
    assert calls == [] and ws.test_command == "python -m pytest --rootdir=/repo tests"


def test_control_runs_are_kept_per_image_and_session_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast judge's control runs are kept beside the call map: a later generation on the same
    image (and the same passing tests) reads them; another image, another list of passing tests or
    another session runner does not; two generations' controls are merged, not overwritten."""
    passed = ["t::a", "t::b"]
    assert callmap.load_controls(tmp_path, "forager/x:1", passed) == ({}, {})
    callmap.store_controls(tmp_path, "forager/x:1", passed, {"k1": {"t::a"}}, {"k1": 0.5})
    callmap.store_controls(tmp_path, "forager/x:1", passed, {"k2": {"t::a", "t::b"}}, {})
    assert callmap.load_controls(tmp_path, "forager/x:1", passed) == (
        {"k1": {"t::a"}, "k2": {"t::a", "t::b"}}, {"k1": 0.5})
    assert callmap.load_controls(tmp_path, "forager/y:1", passed) == ({}, {})
    assert callmap.load_controls(tmp_path, "forager/x:1", ["t::a"]) == ({}, {})
    assert callmap.load_controls(None, "forager/x:1", passed) == ({}, {})
    monkeypatch.setattr(callmap, "SESSION_SOURCE", "another runner")
    assert callmap.load_controls(tmp_path, "forager/x:1", passed) == ({}, {})
    monkeypatch.undo()
    for f in tmp_path.glob("*.controls-*.json"):
        f.write_text("{not json")  # a torn file reads as none
    assert callmap.load_controls(tmp_path, "forager/x:1", passed) == ({}, {})
