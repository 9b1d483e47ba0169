"""The campaign rows' reads and writes (``forager.campaign``). Items are inserted once per
(campaign, stage, key) — a second insert of the same key is a no-op — and move between states only
by compare-and-set on ``state`` (and ``attempts`` or ``job_id``), so two runners never both take an
item and a resumed run never does an item twice."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forager.clock import utcnow
from forager.enums import CampaignState, ItemState
from forager.errors import InvalidInput, NotFound
from forager.store import db

EXAMPLES = 3
"""Example sources listed per failure cause."""


def create_campaign(name: str, spec: dict[str, Any]) -> db.Campaign:
    """A new campaign row; InvalidInput when the name is taken."""
    try:
        with db.session() as s:
            row = db.Campaign(name=name, spec=spec, state=CampaignState.ACTIVE.value)
            s.add(row)
        return row
    except IntegrityError:
        raise InvalidInput(f"a campaign named {name!r} already exists") from None


def get_campaign(ref: str) -> db.Campaign:
    """The campaign with this id or name (detached); NotFound otherwise."""
    with db.session() as s:
        row = s.get(db.Campaign, ref) or s.scalars(select(db.Campaign).where(db.Campaign.name == ref)).first()
        if row is None:
            raise NotFound(f"no campaign {ref!r}")
        return row


def list_campaigns() -> list[db.Campaign]:
    with db.session() as s:
        return list(s.scalars(select(db.Campaign).order_by(db.Campaign.created_at.desc())).all())


def set_state(campaign_id: str, from_states: Iterable[str], state: str) -> bool:
    """Move the campaign to ``state`` if it is in one of ``from_states``; True when it was."""
    values: dict[str, Any] = {"state": state}
    values["finished_at"] = None if state == CampaignState.ACTIVE else utcnow()
    with db.session() as s:
        res = s.execute(update(db.Campaign).where(db.Campaign.id == campaign_id,
                                                  db.Campaign.state.in_(tuple(from_states))).values(**values))
        return bool(getattr(res, "rowcount", 0) == 1)


def set_runner(campaign_id: str, expected: str | None, runner: str | None) -> bool:
    """Compare-and-set of the runner (``host:pid``) driving the campaign."""
    cond = db.Campaign.runner.is_(None) if expected is None else db.Campaign.runner == expected
    with db.session() as s:
        res = s.execute(update(db.Campaign).where(db.Campaign.id == campaign_id, cond).values(runner=runner))
        return bool(getattr(res, "rowcount", 0) == 1)


def add_item(campaign_id: str, stage: str, key: str, params: dict[str, Any], *, source: str = "",
             parent_id: str | None = None, state: str = ItemState.PENDING, cause: str | None = None,
             error: str | None = None) -> bool:
    """Insert an item; False when the campaign already has one with this stage and key."""
    try:
        with db.session() as s:
            s.add(db.CampaignItem(campaign_id=campaign_id, stage=stage, key=key[:500], params=params,
                                  source=source[:500], parent_id=parent_id, state=state, cause=cause,
                                  error=error, result={}, attempts=0,
                                  finished_at=utcnow() if state != ItemState.PENDING else None))
        return True
    except IntegrityError:
        return False


def items(campaign_id: str, stage: str | None = None, states: Iterable[str] | None = None,
          due_before: datetime | None = None, limit: int | None = None) -> list[db.CampaignItem]:
    """Items of a campaign (detached), oldest first; pending ones whose retry is not yet due are
    left out when ``due_before`` is given."""
    q = select(db.CampaignItem).where(db.CampaignItem.campaign_id == campaign_id)
    if stage is not None:
        q = q.where(db.CampaignItem.stage == stage)
    if states is not None:
        q = q.where(db.CampaignItem.state.in_(tuple(states)))
    if due_before is not None:
        q = q.where((db.CampaignItem.retry_at.is_(None)) | (db.CampaignItem.retry_at <= due_before))
    q = q.order_by(db.CampaignItem.created_at, db.CampaignItem.id)
    if limit is not None:
        q = q.limit(limit)
    with db.session() as s:
        return list(s.scalars(q).all())


def get_item(item_id: str) -> db.CampaignItem | None:
    with db.session() as s:
        return s.get(db.CampaignItem, item_id)


ITEM_PREFIX = "citem-"
_ITEM_JOB = re.compile(r"job-([0-9a-f]+)-([0-9]+)")


def job_id_for(item_id: str, attempt: int) -> str:
    """The job an item's attempt runs as: fixed by item and attempt, so a resumed run finds it."""
    return f"job-{item_id.removeprefix(ITEM_PREFIX)}-{attempt}"


def item_id_of(job_id: str) -> str | None:
    """The item whose attempt ``job_id`` is (None: not a campaign item's job)."""
    m = _ITEM_JOB.fullmatch(job_id)
    return ITEM_PREFIX + m.group(1) if m else None


def job_called_off(job_id: str) -> bool:
    """True when ``job_id`` is a campaign item's job and that campaign was cancelled (a primary-key
    read: a worker asks at each lease renewal)."""
    item_id = item_id_of(job_id)
    if item_id is None:
        return False
    q = (select(db.Campaign.state).join(db.CampaignItem, db.CampaignItem.campaign_id == db.Campaign.id)
         .where(db.CampaignItem.id == item_id))
    with db.session() as s:
        return s.scalars(q).first() == CampaignState.CANCELLED


def _cas(item_id: str, conds: list[Any], **values: Any) -> bool:
    with db.session() as s:
        res = s.execute(update(db.CampaignItem).where(db.CampaignItem.id == item_id, *conds).values(**values)
                        .execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)


def claim_item(item: db.CampaignItem, job_id: str) -> bool:
    """pending -> running under ``job_id`` (attempts + 1); False when someone else took it."""
    return _cas(item.id, [db.CampaignItem.state == ItemState.PENDING, db.CampaignItem.attempts == item.attempts],
                state=ItemState.RUNNING.value, attempts=item.attempts + 1, job_id=job_id, started_at=utcnow(),
                retry_at=None)


def finish_item(item: db.CampaignItem, state: str, result: dict[str, Any], cause: str | None = None,
                error: str | None = None) -> bool:
    """running (under the item's job) -> ``state`` with its result."""
    return _cas(item.id, [db.CampaignItem.state == ItemState.RUNNING, db.CampaignItem.job_id == item.job_id],
                state=state, result=result, cause=cause, error=error, finished_at=utcnow())


def retry_item(item: db.CampaignItem, retry_at: datetime, cause: str, error: str) -> bool:
    """running -> pending again, due at ``retry_at`` (an infrastructure failure)."""
    return _cas(item.id, [db.CampaignItem.state == ItemState.RUNNING, db.CampaignItem.job_id == item.job_id],
                state=ItemState.PENDING.value, retry_at=retry_at, cause=cause, error=error)


def cancel_items(campaign_id: str, states: Iterable[str]) -> int:
    """Every item of the campaign in ``states`` -> cancelled; how many."""
    with db.session() as s:
        res = s.execute(update(db.CampaignItem)
                        .where(db.CampaignItem.campaign_id == campaign_id,
                               db.CampaignItem.state.in_(tuple(states)))
                        .values(state=ItemState.CANCELLED.value, cause="cancelled", finished_at=utcnow())
                        .execution_options(synchronize_session=False))
        return int(getattr(res, "rowcount", 0) or 0)


def counts(campaign_id: str) -> dict[str, dict[str, int]]:
    """Items per stage and state: ``{stage: {state: n}}``."""
    q = (select(db.CampaignItem.stage, db.CampaignItem.state, func.count())
         .where(db.CampaignItem.campaign_id == campaign_id)
         .group_by(db.CampaignItem.stage, db.CampaignItem.state))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with db.session() as s:
        for stage, state, n in s.execute(q).all():
            out[stage][state] = int(n)
    return dict(out)


def failure_causes(campaign_id: str, stage: str) -> list[dict[str, Any]]:
    """Failed items of a stage by cause, most frequent first, each with a few example sources."""
    q = (select(db.CampaignItem.cause, db.CampaignItem.source, db.CampaignItem.error, db.CampaignItem.result,
                db.CampaignItem.params, db.CampaignItem.parent_id)
         .where(db.CampaignItem.campaign_id == campaign_id, db.CampaignItem.stage == stage,
                db.CampaignItem.state == ItemState.FAILED))
    by_cause: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with db.session() as s:
        for cause, source, error, result, params, parent_id in s.execute(q).all():
            key = cause or "other"
            by_cause[key] += 1
            if len(examples[key]) < EXAMPLES:
                version = (params or {}).get("label") or _version_of(s, parent_id)
                examples[key].append({"source": source, "version": version,
                                      "detail": (result or {}).get("detail", ""), "error": (error or "")[:300]})
    return [{"cause": c, "count": n, "examples": examples[c]} for c, n in by_cause.most_common()]


def _version_of(s: Session, item_id: str | None, depth: int = 3) -> str:
    """The version (build item's label) a later stage's item descends from: an image's tasks item
    names its build item as parent, an episode item its tasks item ('' when unknown)."""
    while item_id and depth > 0:
        row = s.get(db.CampaignItem, item_id)
        if row is None:
            return ""
        if (row.params or {}).get("label"):
            return str(row.params["label"])
        item_id, depth = row.parent_id, depth - 1
    return ""


def finish_times(campaign_id: str) -> list[tuple[str, str, datetime]]:
    """(stage, state, finished_at) of every finished item, oldest first (throughput over time)."""
    q = (select(db.CampaignItem.stage, db.CampaignItem.state, db.CampaignItem.finished_at)
         .where(db.CampaignItem.campaign_id == campaign_id, db.CampaignItem.finished_at.is_not(None))
         .order_by(db.CampaignItem.finished_at))
    with db.session() as s:
        return [(a, b, c) for a, b, c in s.execute(q).all() if c is not None]


def record_push(image_id: str, registry: str, ref: str, digest: str) -> None:
    """Remember where ``image_id`` was pushed (replacing an earlier push to the same registry)."""
    with db.session() as s:
        row = s.get(db.ImagePush, (image_id, registry))
        if row is None:
            s.add(db.ImagePush(image_id=image_id, registry_host=registry, ref=ref, digest=digest))
        else:
            row.ref, row.digest, row.pushed_at = ref, digest, utcnow()


def get_push(image_id: str, registry: str) -> db.ImagePush | None:
    with db.session() as s:
        return s.get(db.ImagePush, (image_id, registry))


def build_log_outputs(build_id: str) -> list[str]:
    """The output of each step of a build, in order (what failure classification reads)."""
    q = select(db.BuildLog.output).where(db.BuildLog.build_id == build_id).order_by(db.BuildLog.id)
    with db.session() as s:
        return [o or "" for o in s.scalars(q).all()]


def task_ids_of(image: str, kind: str, limit: int) -> list[str]:
    """The first ``limit`` validated tasks of ``kind`` made from ``image``, oldest first."""
    q = (select(db.Task.id).where(db.Task.image_id == image, db.Task.kind == kind,
                                  db.Task.status == "validated")
         .order_by(db.Task.created_at, db.Task.id).limit(limit))
    with db.session() as s:
        return list(s.scalars(q).all())


def images_to_revalidate(created_before: datetime | None, campaign_id: str | None) -> list[db.Image]:
    """Validated images (detached), made before ``created_before`` and by campaign ``campaign_id`` when given."""
    q = select(db.Image).where(db.Image.status == "validated")
    if created_before is not None:
        q = q.where(db.Image.created_at <= created_before)
    with db.session() as s:
        found = list(s.scalars(q.order_by(db.Image.created_at)).all())
    if campaign_id is None:
        return found
    mine = {str(i.result.get("image")) for i in items(campaign_id, "build", [ItemState.DONE])}
    return [i for i in found if i.id in mine]


def mark_drifted(image_id: str, status: str) -> int:
    """Set the image's status and its validated tasks' status to ``status``; how many tasks."""
    with db.session() as s:
        s.execute(update(db.Image).where(db.Image.id == image_id).values(status=status))
        res = s.execute(update(db.Task).where(db.Task.image_id == image_id, db.Task.status == "validated")
                        .values(status=status))
        return int(getattr(res, "rowcount", 0) or 0)


def image_rows() -> list[tuple[str, str, str]]:
    """(image id, status, build id) of every image in the registry."""
    with db.session() as s:
        return [(a, b, c) for a, b, c in s.execute(select(db.Image.id, db.Image.status, db.Image.build_id)).all()]


def campaign_images(campaign_id: str) -> list[str]:
    """The images a campaign's builds validated."""
    return [str(i.result["image"]) for i in items(campaign_id, "build", [ItemState.DONE]) if i.result.get("image")]


def delete_item(item_id: str, state: str) -> bool:
    """Delete an item still in ``state`` (a placeholder replaced by the items it stood for)."""
    with db.session() as s:
        res = s.execute(delete(db.CampaignItem).where(db.CampaignItem.id == item_id, db.CampaignItem.state == state))
        return bool(getattr(res, "rowcount", 0) == 1)
