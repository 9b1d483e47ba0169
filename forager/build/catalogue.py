"""The image catalogue: each validated (or failed) repository image's row with its recipe and
per-test results, and the queries the CLI and task generation read it with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from forager.build.recipe import Recipe
from forager.build.sources.base import Source
from forager.errors import NotFound
from forager.runtime import get_runtime
from forager.store import db


def record_image(image: str, build_id: str, repository_id: str, status: str, recipe: Recipe, src: Source) -> None:
    """Add (or replace) the catalogue row of a built image."""
    rt = get_runtime()
    with db.session() as s:
        s.merge(db.Image(
            id=image, build_id=build_id, repository_id=repository_id, digest=rt.image_digest(image) or "",
            source=src.spec, commit=src.commit, python=recipe.python, recipe=recipe.to_dict(),
            test_command=recipe.full_test_command(), status=status, size_bytes=rt.image_size(image)))


def list_images() -> list[dict[str, Any]]:
    """Every image, newest first, with its passed and total test counts."""
    with db.session() as s:
        rows = s.scalars(select(db.Image).order_by(db.Image.created_at.desc())).all()
        out = []
        for img in rows:
            counts = dict(s.execute(
                select(db.TestResult.outcome, func.count()).where(db.TestResult.build_id == img.build_id)
                .group_by(db.TestResult.outcome)).all())
            out.append({"id": img.id, "source": img.source, "commit": img.commit, "python": img.python,
                        "status": img.status, "digest": img.digest, "size_bytes": img.size_bytes,
                        "passed": counts.get("passed", 0), "total": sum(counts.values()),
                        "created_at": img.created_at.isoformat()})
        return out


def show_image(image_id: str) -> dict[str, Any] | None:
    """An image's recipe, test command and per-test results; None when there is no such image."""
    with db.session() as s:
        img = s.get(db.Image, image_id)
        if img is None:
            return None
        build = s.get(db.Build, img.build_id)
        tests = s.scalars(select(db.TestResult).where(db.TestResult.build_id == img.build_id)).all()
        return {
            "id": img.id, "digest": img.digest, "source": img.source, "commit": img.commit,
            "python": img.python, "status": img.status, "size_bytes": img.size_bytes,
            "test_command": img.test_command, "recipe": img.recipe, "build_id": img.build_id,
            "tests": build.tests if build else {},
            "results": [{"id": t.test_id, "outcome": t.outcome, "flaky": t.flaky} for t in tests],
        }


def passing_tests(image_id: str) -> list[str]:
    """The PASS_TO_PASS baseline of an image: tests that passed in both validation runs."""
    with db.session() as s:
        img = s.get(db.Image, image_id)
        if img is None:
            raise NotFound(f"no image {image_id!r}")
        return list(s.scalars(select(db.TestResult.test_id).where(
            db.TestResult.build_id == img.build_id, db.TestResult.outcome == "passed",
            db.TestResult.flaky.is_(False))).all())
