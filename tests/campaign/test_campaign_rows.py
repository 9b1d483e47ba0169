"""Campaign rows: an item is inserted once per key and claimed by one runner only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from forager.enums import CampaignStage, ItemState
from forager.store import campaigns as rows


def test_items_are_inserted_once_and_claimed_once() -> None:
    camp = rows.create_campaign("rows", {"sources": ["x"]})
    assert rows.add_item(camp.id, CampaignStage.BUILD, "x@1", {"source": "x"}, source="x")
    assert not rows.add_item(camp.id, CampaignStage.BUILD, "x@1", {"source": "x"}, source="x")
    [item] = rows.items(camp.id)
    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda n: rows.claim_item(item, f"job-{n}"), range(8)))
    assert wins.count(True) == 1
    [running] = rows.items(camp.id, states=[ItemState.RUNNING])
    assert running.attempts == 1
    stale = item  # a second settle under an old job id changes nothing
    stale.job_id = "job-someone-else"
    assert not rows.finish_item(stale, ItemState.DONE, {})
    assert rows.finish_item(running, ItemState.DONE, {"ok": 1})
    assert rows.counts(camp.id) == {"build": {"done": 1}}


def test_report_examples_name_the_version_later_stages_descend_from() -> None:
    """A failed tasks or episode item's example names its source version (its build item's label),
    as a failed build's does; it used to be empty."""
    camp = rows.create_campaign("report", {"sources": ["pypi:cachetools"]})
    rows.add_item(camp.id, CampaignStage.BUILD, "pypi:cachetools@7.3.3", {"source": "pypi:cachetools",
                                                                         "label": "7.3.3"}, source="pypi:cachetools")
    [build] = rows.items(camp.id)
    rows.add_item(camp.id, CampaignStage.TASKS, "img:mutate-fix", {"image": "img"}, source="pypi:cachetools",
                  parent_id=build.id, state=ItemState.FAILED, cause="no-tasks", error="no candidate")
    [tasks] = rows.items(camp.id, CampaignStage.TASKS)
    rows.add_item(camp.id, CampaignStage.EPISODE, "task-1#0", {"task_id": "task-1"}, source="pypi:cachetools",
                  parent_id=tasks.id, state=ItemState.FAILED, cause="episode-error", error="boom")
    [no_tasks] = rows.failure_causes(camp.id, CampaignStage.TASKS)
    [episode] = rows.failure_causes(camp.id, CampaignStage.EPISODE)
    assert no_tasks["examples"][0]["version"] == "7.3.3" == episode["examples"][0]["version"]
    assert no_tasks["examples"][0]["source"] == "pypi:cachetools"


def test_a_job_its_worker_ended_after_a_cancel_is_settled_cancelled_not_failed() -> None:
    """A worker that saw the cancel records its job failed with the cancel as its error; a runner that
    settles it before noticing the cancel records the item cancelled, never a build failure."""
    from forager import jobs
    from forager.campaign.runner import _settle_running
    from forager.campaign.spec import CampaignSpec
    from forager.jobs.calloff import CANCELLED
    from forager.jobs.state import cas

    camp = rows.create_campaign("race", {"sources": ["x"]})
    rows.add_item(camp.id, CampaignStage.BUILD, "x@1", {"source": "x"}, source="x")
    [item] = rows.items(camp.id)
    job_id = rows.job_id_for(item.id, 1)
    assert rows.claim_item(item, job_id)
    job, _ = jobs.create("build", {"source": "x", "commit": None}, job_id)
    assert cas(job.id, "queued", 0, state="failed", error=CANCELLED)
    _settle_running(camp.id, CampaignSpec(sources=["x"]))
    [done] = rows.items(camp.id)
    assert (done.state, done.cause) == ("cancelled", "cancelled")
    assert rows.failure_causes(camp.id, CampaignStage.BUILD) == []
