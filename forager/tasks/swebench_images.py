"""Which image each imported SWE-bench row runs on, building the ones that are missing.

In order: the validated image named by ``image_name``; a validated image of the same repository
built at ``base_commit``; with a source for the repository (``--source REPO=SPEC``), the image
built from it at ``base_commit`` (one build per source and commit); without one, the newest
validated image of the same repository (its history must hold ``base_commit``, checked in the
workspace). A row with none of these is reported, never guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from forager.contamination import owner_and_name
from forager.runtime import Runtime, get_runtime
from forager.store import db
from forager.store.swebench_db import validated_images
from forager.store.tasks_db import find_image
from forager.tasks.swebench import SwebenchRow

Progress = Callable[[str], None]


@dataclass
class ImagePlan:
    image: db.Image | None
    rows: list[SwebenchRow] = field(default_factory=list)
    reason: str = ""
    """Why there is no image (when ``image`` is None)."""


def same_repository(source: str, repo: str, spec: str | None) -> bool:
    """Whether an image built from ``source`` is of the row's ``repo`` (or of its mapped source)."""
    if source in (spec, repo):
        return True
    full = owner_and_name(source)
    return bool(full) and full == repo.strip().lower()


def _known_image(row: SwebenchRow, images: list[db.Image], spec: str | None) -> db.Image | None:
    for img in images:
        if row.image_name and img.id == row.image_name:
            return img
    for img in images:
        if same_repository(img.source, row.repo, spec) and (img.commit or "").startswith(row.base_commit):
            return img
    return None


def _history_image(row: SwebenchRow, images: list[db.Image]) -> db.Image | None:
    return next((i for i in images if same_repository(i.source, row.repo, None)), None)


def _build(spec: str, commit: str, built: dict[tuple[str, str], db.Image | str], log: Progress) -> db.Image | str:
    """The image of ``spec`` at ``commit``, built once per import; the reason when it fails."""
    key = (spec, commit)
    if key not in built:
        from forager.build.builder import build

        log(f"building {spec} at {commit[:12]}")
        res = build(spec, commit=commit)
        img = find_image(res.image) if res.status == "validated" and res.image else None
        built[key] = img if img is not None else (
            f"the build of {spec} at {commit[:12]} did not validate: {res.error or res.status}")
    return built[key]


def resolve_images(rows: list[SwebenchRow], sources: dict[str, str], log: Progress,
                   runtime: Runtime | None = None) -> list[ImagePlan]:
    """The rows grouped by the image they run on (rows with no image grouped by the reason)."""
    rt = runtime or get_runtime()
    images = [i for i in validated_images() if rt.image_exists(i.id)]
    built: dict[tuple[str, str], db.Image | str] = {}
    plans: dict[str, ImagePlan] = {}
    for row in rows:
        spec = sources.get(row.repo)
        found: db.Image | str | None = _known_image(row, images, spec)
        if found is None and spec:
            found = _build(spec, row.base_commit, built, log)
        if found is None:
            found = _history_image(row, images) or (
                f"no validated image of {row.repo} and no source to build it (--source {row.repo}=SPEC)")
        if isinstance(found, str):
            plans.setdefault("reason:" + found, ImagePlan(None, reason=found)).rows.append(row)
        else:
            plans.setdefault(found.id, ImagePlan(found)).rows.append(row)
    return list(plans.values())
