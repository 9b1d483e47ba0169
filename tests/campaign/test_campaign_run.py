"""A campaign end to end on the real engine: fixture sources (one git repository with two
releases, and packages that fail in known ways) to images, tasks and resolved oracle episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_sources import fixture, released_minipkg

from forager.campaign.funnel import report
from forager.campaign.plan import create
from forager.campaign.runner import limits_of, run
from forager.config import reset_settings
from forager.store import campaigns as rows

pytestmark = pytest.mark.docker


def test_campaign_end_to_end(runtime: object, tmp_path: Path, forager_home: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_CAMPAIGN_POLL_S", "0.5")
    reset_settings()
    repo = released_minipkg(tmp_path / "minipkg-git")
    sources = [str(repo), fixture("notests"), fixture("lowpass"), fixture("badinstall")]
    camp = create("e2e", {"sources": sources, "versions_per_source": 2, "tasks": {"mutate-fix": 1},
                          "episodes_per_task": 1, "agent": "oracle", "traces_per_image": 2})
    ticks: list[dict[str, object]] = []
    out = run(camp.name, limits_of(2), on_tick=ticks.append)

    assert out["state"] == "done" and ticks, out
    assert out["versions"] == 5  # two releases of the git repository, one version of each other fixture
    assert out["images_validated"] == 2
    assert out["tasks"] == 2 and out["episodes"] == 2 and out["episodes_resolved"] == 2
    # the traces stage: each validated image traced, its traces stored under that image
    traced = rows.items(camp.id, "traces")
    assert len(traced) == 2 and all(i.state == "done" for i in traced), [(i.state, i.error) for i in traced]
    assert out["traces"] >= 2
    from forager.store.traces import TraceFilters, list_traces
    for item in traced:
        assert list_traces(TraceFilters(image=item.params["image"]), 10, None)[0], item.params["image"]
    builds = {i.params["label"]: i for i in rows.items(camp.id, "build") if i.state == "done"}
    assert set(builds) == {"v0.1", "v0.2"}
    assert builds["v0.1"].result["image"] != builds["v0.2"].result["image"]
    causes = {c["cause"]: c for c in report(camp.id)["failures"]["build"]}
    assert set(causes) == {"no-tests", "below-threshold", "install-failed"}
    assert causes["install-failed"]["examples"][0]["detail"] == "forager-fixture-no-such-distribution"
    assert causes["below-threshold"]["examples"][0]["source"] == fixture("lowpass")
    exported = forager_home / "campaigns" / "e2e" / "trajectories.jsonl"  # the last stage
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    # two episodes, exported after near-duplicate removal (the two releases differ by a comment, so
    # their trajectories are one when the generator picked the same bug in both, else two)
    assert 1 <= len(records) <= 2 and all(r["resolved"] and r["repository"] for r in records)
    if len({r["final_diff"] for r in records}) < len(records):
        raise AssertionError("identical trajectories were both exported")
    # a second run finds nothing to do and changes nothing
    again = run(camp.name, limits_of(2))
    assert {k: again[k] for k in ("images_validated", "tasks", "episodes")} == {
        k: out[k] for k in ("images_validated", "tasks", "episodes")}
