"""Creating a campaign: the spec checked, each source line expanded into versions, one build item
per version. A source that cannot be expanded is recorded as a failed build item with its cause,
never raised: the campaign goes on with the others."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from forager.build.failure import classify
from forager.build.sources.base import SourceError
from forager.campaign.spec import CampaignSpec
from forager.campaign.versions import SourceVersion, expand
from forager.enums import CampaignStage, ItemState
from forager.errors import InvalidInput
from forager.store import campaigns as rows
from forager.store import db

EXPAND_THREADS = 8
"""Sources expanded at once (PyPI look-ups and git clones are network-bound)."""


def check_spec(values: dict[str, Any]) -> CampaignSpec:
    try:
        return CampaignSpec(**values)
    except ValidationError as exc:
        raise InvalidInput("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None


def _expand(source: str, k: int) -> list[SourceVersion] | Exception:
    try:
        return expand(source, k)
    except (SourceError, OSError, ValueError) as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - one bad source never stops the campaign
        return exc


def add_versions(campaign_id: str, spec: CampaignSpec) -> int:
    """Expand every source and insert its build items (idempotent: keys already there are kept)."""
    added = 0
    with ThreadPoolExecutor(EXPAND_THREADS) as pool:
        expanded = list(pool.map(lambda s: _expand(s, spec.versions_per_source), spec.sources))
    for source, versions in zip(spec.sources, expanded, strict=True):
        if isinstance(versions, Exception):
            failure = classify(str(versions))
            added += rows.add_item(campaign_id, CampaignStage.BUILD, f"{source}@?", {"source": source},
                                   source=source, state=ItemState.FAILED, cause=failure.cause,
                                   error=str(versions)[:2000])
            continue
        for v in versions:
            added += rows.add_item(campaign_id, CampaignStage.BUILD, v.key,
                                   {"source": v.spec, "commit": v.commit, "label": v.label}, source=source)
    return added


def create(name: str, values: dict[str, Any]) -> db.Campaign:
    """A new campaign with its build items; InvalidInput for a bad spec or a taken name."""
    if not name or len(name) > 200 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidInput(f"campaign names are letters, digits, '-', '_' and '.': {name[:80]!r}")
    spec = check_spec(values)
    camp = rows.create_campaign(name, spec.model_dump(mode="json"))
    add_versions(camp.id, spec)
    return camp
