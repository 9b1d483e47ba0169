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
from forager.enums import CampaignStage, FailureCause, ItemState
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


def add_versions(campaign_id: str, spec: CampaignSpec, sources: list[str] | None = None) -> int:
    """Expand every source (or ``sources``) and insert its build items (idempotent: keys already
    there are kept). A source that cannot be expanded gets one failed item ``SOURCE@?``."""
    added = 0
    sources = spec.sources if sources is None else sources
    with ThreadPoolExecutor(EXPAND_THREADS) as pool:
        expanded = list(pool.map(lambda s: _expand(s, spec.versions_per_source), sources))
    for source, versions in zip(sources, expanded, strict=True):
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


def retry_unexpanded(campaign_id: str, spec: CampaignSpec) -> int:
    """Expand again the sources whose expansion failed for the machine's reasons (PyPI or a git
    server unreachable): their placeholder items are replaced by their versions; how many added."""
    retry = [i for i in rows.items(campaign_id, CampaignStage.BUILD, [ItemState.FAILED])
             if i.key.endswith("@?") and i.cause and FailureCause(i.cause).infrastructure]
    added = 0
    for item in retry:
        if rows.delete_item(item.id, ItemState.FAILED):
            added += add_versions(campaign_id, spec, [item.source])
    return added
