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
