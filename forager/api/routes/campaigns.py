"""``/v1/campaigns``: create a campaign (its runner starts in the API process), its funnel and
failure report, and cancelling it."""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from forager.api.deps import Read, Write
from forager.api.sources import check_source
from forager.campaign.cancel import cancel
from forager.campaign.funnel import report
from forager.campaign.plan import create
from forager.campaign.runner import limits_of, run
from forager.errors import ForagerError, InvalidInput

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
log = logging.getLogger("forager.campaign")
MAX_API_SOURCES = 10_000


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    sources: list[str] = Field(min_length=1, max_length=MAX_API_SOURCES, examples=[["pypi:toolz"]])
    versions_per_source: int = Field(1, ge=1, le=50)
    tasks: dict[str, int] = Field(default_factory=lambda: {"mutate-fix": 5})
    episodes_per_task: int = Field(1, ge=0, le=100)
    agent: str = Field("oracle", pattern=r"^(oracle|llm)$")
    model_url: str | None = Field(None, max_length=500)
    model_name: str | None = Field(None, max_length=200)
    concurrency: int = Field(1, ge=1, le=64, description="items at once in each stage")
    start: bool = Field(True, description="start running it in the API process")


class CampaignOut(BaseModel):
    id: str
    campaign: str
    state: str
    versions: int
    images_validated: int
    builds_failed: int
    builds_failed_infrastructure: int
    tasks: int
    episodes: int
    episodes_resolved: int
    stages: dict[str, dict[str, int]]
    images_per_hour: float | None = None
    tasks_per_hour: float | None = None
    episodes_per_hour: float | None = None
    failures: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


def _run_in_background(campaign_id: str, concurrency: int) -> None:
    def target() -> None:
        try:
            run(campaign_id, limits_of(concurrency))
        except ForagerError as exc:
            log.warning("campaign %s: %s", campaign_id, exc)
        except Exception:  # noqa: BLE001 - a later `campaign run` resumes it
            log.exception("campaign %s stopped", campaign_id)

    threading.Thread(target=target, daemon=True, name=f"campaign-{campaign_id}").start()


@router.post("", response_model=CampaignOut, status_code=202)
def create_campaign(body: CampaignIn, token: Write) -> CampaignOut:
    sources = [check_source(s, token)[2] for s in body.sources]
    values = body.model_dump(exclude={"name", "concurrency", "start"})
    values["sources"] = sources
    try:
        camp = create(body.name, values)
    except InvalidInput as exc:
        raise HTTPException(409 if "already exists" in str(exc) else 422, str(exc)) from None
    if body.start:
        _run_in_background(camp.id, body.concurrency)
    return CampaignOut(**report(camp.id))


@router.get("/{campaign_id}", response_model=CampaignOut)
def campaign_funnel(campaign_id: str, _: Read) -> CampaignOut:
    return CampaignOut(**report(campaign_id))


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
def cancel_campaign(campaign_id: str, _: Write) -> CampaignOut:
    report(campaign_id)  # NotFound before anything changes
    cancel(campaign_id)
    return CampaignOut(**report(campaign_id))
