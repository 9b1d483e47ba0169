"""A job called off while it runs (its campaign cancelled, perhaps from another machine): the process
running it notices at a lease renewal, ends its work there and records it failed, never retried; a
job claimed after the cancel never runs; episodes stop per thread. No engine: diagnostic jobs."""

from __future__ import annotations

import threading
import time

import pytest

from forager import jobs
from forager.config import reset_settings
from forager.enums import CampaignState
from forager.episode.budget import Budget, EpisodeState, Interrupted, release_thread, stop_thread
from forager.errors import EngineError
from forager.jobs import calloff
from forager.jobs.calloff import CANCELLED
from forager.jobs.handlers import JOB_KINDS
from forager.store import campaigns as rows
from forager.store import db
from forager.trajectory.schema import Trajectory


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_JOB_LEASE_S", "0.6")  # a renewal every 0.2 s
    monkeypatch.setenv("FORAGER_JOB_RETRY_BACKOFF_S", "0")
    reset_settings()


def _item_job(params: dict[str, object]) -> tuple[db.Campaign, db.Job]:
    camp = rows.create_campaign(f"c-{time.monotonic_ns()}", {"sources": []})
    assert rows.add_item(camp.id, "build", "k", {})
    item = rows.items(camp.id)[0]
    job, _ = jobs.create("noop", params, rows.job_id_for(item.id, 1))
    return camp, job


def test_job_ids_name_their_item() -> None:
    assert rows.item_id_of(rows.job_id_for("citem-0a1b2c3d4e5f", 2)) == "citem-0a1b2c3d4e5f"
    assert rows.item_id_of(db.new_id("job")) is None  # an API job: no campaign to ask
    assert rows.item_id_of(jobs.idempotent_id("key")) is None
    assert not rows.job_called_off(rows.job_id_for("citem-000000000000", 1))  # no such item


def test_a_running_job_whose_campaign_is_cancelled_ends_failed_and_is_not_retried(
        short_lease: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[tuple[str, int]] = []
    monkeypatch.setattr(calloff, "end_here", lambda job, thread: ended.append((job.id, thread)) or 0)

    def ends_in_an_engine_error(params: dict[str, object], ctx: object) -> dict[str, object]:
        time.sleep(1.5)  # its containers went away under it: a transient error, retried were it not called off
        raise EngineError("container gone")

    monkeypatch.setitem(JOB_KINDS, "noop", ends_in_an_engine_error)
    camp, job = _item_job({"duration": 1.5})
    threading.Timer(0.3, rows.set_state, (camp.id, [CampaignState.ACTIVE], CampaignState.CANCELLED)).start()
    me = threading.get_ident()
    out = jobs.execute(job.id, "w1")
    done = jobs.get_job(job.id)
    assert out.status == "failed" and done is not None and done.state == "failed" and done.error == CANCELLED
    assert done.attempts == 1 and [e["event"] for e in done.result["history"]] == ["started", "failed"]
    assert ended and set(ended) == {(job.id, me)}  # told at each renewal, naming the job's thread


def test_a_job_claimed_after_the_cancel_never_runs(short_lease: None) -> None:
    camp, job = _item_job({"duration": 5})
    rows.set_state(camp.id, [CampaignState.ACTIVE], CampaignState.CANCELLED)
    t0 = time.monotonic()
    assert jobs.execute(job.id, "w1").status == "failed"
    done = jobs.get_job(job.id)
    assert done is not None and done.error == CANCELLED and "slept" not in done.result
    assert time.monotonic() - t0 < 3


def test_other_jobs_run_on(short_lease: None) -> None:
    _camp, job = _item_job({"duration": 0.5})
    api_job, _ = jobs.create("noop", {"duration": 0.5})
    assert jobs.execute(job.id, "w1").status == "succeeded"
    assert jobs.execute(api_job.id, "w1").status == "succeeded"


def test_an_episode_stops_only_in_the_thread_told_to() -> None:
    state = EpisodeState(Trajectory(task_id="t", agent="oracle"), Budget(10, 0, 600), persist=False)
    seen: dict[str, str] = {}

    def other() -> None:
        seen["other"] = state.out_of_budget() or "goes on"

    stop_thread(threading.get_ident())
    try:
        with pytest.raises(Interrupted):
            state.out_of_budget()
        t = threading.Thread(target=other)
        t.start()
        t.join()
    finally:
        release_thread(threading.get_ident())
    assert seen == {"other": "goes on"} and state.out_of_budget() == ""
