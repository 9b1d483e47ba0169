"""What episodes read from the registry (``forager.episode``, replays): the facts of the image a
task runs in, and the trajectories still marked ``running`` (for the reaper of dead episodes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from forager.store import db


@dataclass
class ImageFacts:
    """What the registry knows of an image; empty fields when it is not there."""

    test_command: str = ""
    source: str = ""
    digest: str = ""
    env: dict[str, str] = field(default_factory=dict)


def image_facts(image_id: str) -> ImageFacts:
    """The test command, source, digest and test environment of ``image_id`` (empty when unknown)."""
    with db.session() as s:
        img = s.get(db.Image, image_id)
        if img is None:
            return ImageFacts()
        env = {str(k): str(v) for k, v in ((img.recipe or {}).get("env") or {}).items()}
        return ImageFacts(img.test_command, img.source, img.digest, env)


def image_test_command(image_id: str) -> str:
    """The test command recorded for ``image_id``; "" when the image is unknown."""
    with db.session() as s:
        row = s.get(db.Image, image_id)
        return row.test_command if row is not None else ""


def running_trajectory_ids() -> list[str]:
    """Ids of the indexed trajectories whose exit reason is still ``running``."""
    with db.session() as s:
        return list(s.scalars(select(db.Trajectory.id).where(db.Trajectory.exit_reason == "running")))
