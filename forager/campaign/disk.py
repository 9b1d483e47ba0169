"""Disk hygiene on the Docker engine: disk used per image (its own layers, and with what it shares)
and per campaign, and ``images prune``, which removes what no validated image, task or campaign
needs: images of failed builds, this farm's images the registry does not know, dependency layers
no image on the engine descends from, and stopped Forager containers whose owner is gone.

Prune is careful on a shared engine: only images tagged with this farm's id are candidates besides
dependency layers, removal never forces (an image a container uses stays), and nothing younger
than ``min_age_h`` is touched (a build in progress commits its layers before it records them)."""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import docker.errors

from forager.config import get_settings
from forager.enums import BuildStatus
from forager.errors import InvalidInput
from forager.owner import OWNER_LABEL, is_dead
from forager.runtime import get_runtime
from forager.store import campaigns as rows
from forager.store import db

STOPPED = ("exited", "created", "dead")


def _client() -> Any:
    client = getattr(get_runtime(), "client", None)
    if client is None:
        raise InvalidInput("disk accounting and prune need the Docker runtime")
    return client


def image_sizes() -> dict[str, dict[str, int]]:
    """Per image tag on the engine: ``size`` (with shared layers) and ``unique`` (its own layers)."""
    out: dict[str, dict[str, int]] = {}
    for img in _client().df().get("Images") or []:
        size, shared = int(img.get("Size") or 0), int(img.get("SharedSize") or 0)
        unique = size - shared if shared >= 0 else size
        for tag in img.get("RepoTags") or []:
            out[tag] = {"size": size, "unique": unique}
    return out


def campaign_disk(ref: str) -> dict[str, Any]:
    """Disk used by a campaign's images: their own layers summed, and the median per image."""
    sizes = image_sizes()
    own = [sizes[i]["unique"] for i in rows.campaign_images(rows.get_campaign(ref).id) if i in sizes]
    return {"images": len(own), "unique_bytes": sum(own),
            "median_unique_bytes": int(statistics.median(own)) if own else 0}


@dataclass
class PruneReport:
    images: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0

    def summary(self) -> dict[str, Any]:
        return {"images_removed": self.images, "containers_removed": self.containers,
                "bytes_freed": max(self.bytes_before - self.bytes_after, 0)}


def _used_bytes(client: Any) -> int:
    return int(client.df().get("LayersSize") or 0)


def _old(created: str, min_age_h: float) -> bool:
    when = datetime.fromisoformat(created[:26].rstrip("Z").split(".")[0]).replace(tzinfo=UTC)
    return datetime.now(UTC) - when >= timedelta(hours=min_age_h)


def _image_candidates(client: Any, min_age_h: float, match: str) -> list[Any]:
    """Failed builds' images and this farm's unknown images; then unreferenced dependency layers."""
    farm, prefix = db.farm_id(), get_settings().image_prefix
    known = {i: status for i, status, _ in rows.image_rows()}
    images = client.images.list()
    out: list[Any] = []
    for img in images:
        tags = [t for t in img.tags if t.startswith(f"{prefix}/") and t.endswith(f"-{farm}")]
        unneeded = all(known.get(t) in (None, BuildStatus.FAILED) for t in tags)
        if tags and unneeded and _old(img.attrs["Created"], min_age_h) and all(match in t for t in tags):
            out.append(img)
    keep = [i for i in images if i not in out]
    layers_in_use = [tuple(i.attrs.get("RootFS", {}).get("Layers") or []) for i in keep]
    for img in images:
        if not any(t.startswith(f"{prefix}/deps:") for t in img.tags) or not _old(img.attrs["Created"], min_age_h):
            continue
        if match and not any(match in t for t in img.tags):
            continue
        mine = tuple(img.attrs.get("RootFS", {}).get("Layers") or [])
        if not any(len(other) > len(mine) and other[:len(mine)] == mine for other in layers_in_use):
            out.append(img)
    return out


def _stopped_containers(client: Any, match: str) -> list[dict[str, Any]]:
    """Stopped Forager containers of dead owners, as the engine lists them (no per-container
    look-up: on a busy engine a container may vanish between the list and a look-up)."""
    found = client.api.containers(all=True, filters={"label": "forager"})
    out = []
    for c in found:
        name = (c.get("Names") or ["?"])[0].lstrip("/")
        labels = c.get("Labels") or {}
        if c.get("State") in STOPPED and match in name and (OWNER_LABEL not in labels or is_dead(labels[OWNER_LABEL])):
            out.append({"id": c["Id"], "name": name})
    return out


def prune(min_age_h: float = 1.0, dry_run: bool = False, match: str = "") -> PruneReport:
    """Remove what nothing needs (see the module); ``dry_run`` only lists it; ``match`` limits it
    to images and containers whose names contain it."""
    client = _client()
    report = PruneReport(bytes_before=_used_bytes(client))
    for c in _stopped_containers(client, match):
        report.containers.append(c["name"])
        if not dry_run:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(c["id"], v=True)
    for img in _image_candidates(client, min_age_h, match):
        names = img.tags or [img.id]
        if not dry_run:
            try:
                for tag in names:
                    client.images.remove(tag, noprune=False)
            except docker.errors.APIError:  # in use by a container, or a parent of one kept
                continue
        report.images.extend(names)
    report.bytes_after = report.bytes_before if dry_run else _used_bytes(client)
    return report
