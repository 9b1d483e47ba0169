"""A campaign's last stage: its episodes' trajectories exported as training records (chat JSONL or
Parquet), de-duplicated per repository like ``forager export``. ``campaign run`` writes
``$FORAGER_HOME/campaigns/NAME/trajectories.jsonl`` when the campaign is done; ``campaign export``
writes anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forager.config import get_settings
from forager.enums import CampaignStage, ItemState
from forager.errors import InvalidInput
from forager.store import campaigns as rows
from forager.store.trajectories import find
from forager.trajectory.dedup import dedup
from forager.trajectory.fileformat import read
from forager.trajectory.records import to_record
from forager.trajectory.schema import Trajectory
from forager.trajectory.writers import WRITERS


def _load(traj_ids: list[str]) -> tuple[list[Trajectory], dict[str, str]]:
    trajs, problems = [], {}
    for traj_id in traj_ids:
        row = find(traj_id)
        if row is None:
            problems[traj_id] = "not in the registry"
            continue
        try:
            loaded = read(Path(row.path))
        except Exception as exc:  # noqa: BLE001 - one bad record is reported, the export goes on
            problems[traj_id] = f"cannot be read: {type(exc).__name__}: {exc}"
            continue
        if loaded.error:
            problems[traj_id] = f"damaged: {loaded.error}"
        else:
            trajs.append(loaded.trajectory)
    return trajs, problems


def export_campaign(ref: str, out: Path | None = None, fmt: str = "chat-jsonl") -> dict[str, Any]:
    """Write the campaign's trajectories to ``out`` (default: under FORAGER_HOME); what was done."""
    if fmt not in WRITERS:
        raise InvalidInput(f"format must be one of {', '.join(WRITERS)}, not {fmt!r}")
    camp = rows.get_campaign(ref)
    ids = [str(i.result["trajectory_id"]) for i in rows.items(camp.id, CampaignStage.EPISODE, [ItemState.DONE])
           if i.result.get("trajectory_id")]
    trajs, problems = _load(ids)
    kept, duplicate_of = dedup(trajs)
    records = sorted((to_record(t) for t in kept), key=lambda r: r["id"])
    suffix = "parquet" if fmt == "parquet" else "jsonl"
    out = out or get_settings().home / "campaigns" / camp.name / f"trajectories.{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    WRITERS[fmt](records, out)
    return {"path": str(out), "selected": len(ids), "written": len(records), "duplicates": len(duplicate_of),
            "resolved": sum(1 for r in records if r["resolved"]), "problems": problems}
