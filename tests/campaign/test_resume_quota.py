"""A campaign's tasks job repeated after an interruption (its first attempt stored its task before
the worker or runner died) makes no task again: it fills the quota, it does not add to it. A task
generation asked for through the API still makes ``max_tasks`` new ones. No engine: generation is
replaced by a stand-in that counts what it was asked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from forager.campaign.spec import CampaignSpec
from forager.campaign.stages import job_params
from forager.enums import CampaignStage
from forager.jobs import handlers
from forager.jobs.state import JobContext
from forager.store import campaigns as rows
from forager.store import db

IMAGE = "forager/minipkg:q"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``max_tasks`` each generation was asked for; each makes that many tasks."""
    import forager.tasks.generate as gen

    calls: list[int] = []

    def generate(image: str, kind: str, n: int, **_: Any) -> Any:
        calls.append(n)
        made = [_task(f"task-new-{len(calls)}-{i}") for i in range(n)]
        return SimpleNamespace(tasks=[{"id": t} for t in made], summary=lambda: {"candidates": n})

    monkeypatch.setattr(gen, "generate", generate)
    monkeypatch.setattr(handlers, "ensure_image", lambda tag: "present")
    with db.session() as s:
        s.add(db.Build(id="build-q", source="minipkg", status="validated"))
        s.flush()
        s.add(db.Image(id=IMAGE, build_id="build-q", digest="", source="minipkg", python="3.11", test_command="pytest"))
    return calls


def _task(task_id: str) -> str:
    with db.session() as s:
        s.add(db.Task(id=task_id, image_id=IMAGE, kind="mutate-fix", setup_patch="x", gold_patch="y"))
    return task_id


def _params(quota: int) -> dict[str, Any]:
    camp = rows.create_campaign(f"q{quota}", {"sources": ["minipkg"]})
    rows.add_item(camp.id, CampaignStage.TASKS, f"{IMAGE}:mutate-fix", {"image": IMAGE, "kind": "mutate-fix",
                                                                        "max_tasks": quota})
    [item] = rows.items(camp.id)
    return job_params(item, CampaignSpec(sources=["minipkg"], tasks={"mutate-fix": quota}))


def test_a_repeated_campaign_generation_fills_its_quota_only(asked: list[int]) -> None:
    ctx = JobContext("job-x", 2, "w")
    _task("task-from-the-killed-attempt")
    out = handlers.job_tasks(_params(1), ctx)  # quota met by the interrupted attempt: nothing made
    assert asked == [] and out["already_made"] == 1
    assert rows.task_ids_of(IMAGE, "mutate-fix", 10) == ["task-from-the-killed-attempt"]
    handlers.job_tasks(_params(3), ctx)  # one there, two to make
    assert asked == [2] and len(rows.task_ids_of(IMAGE, "mutate-fix", 10)) == 3


def test_an_api_generation_makes_max_tasks_new_ones(asked: list[int]) -> None:
    _task("task-earlier")
    handlers.job_tasks({"image": IMAGE, "kind": "mutate-fix", "max_tasks": 2}, JobContext("job-y", 1, "w"))
    assert asked == [2]
