"""The builder's registry rows (``forager.build``): the build row from start to finish, its log
lines and per-test results, the repository it builds, the image it enters in the catalogue, the
catalogue's reads, and the conditional UPDATE that fails the builds of dead owners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from forager.clock import utcnow
from forager.enums import BuildStatus
from forager.errors import NotFound
from forager.store import db
from forager.store.session import get_detached


@dataclass(frozen=True)
class TestOutcome:
    """One test's result in a validation run."""

    test_id: str
    outcome: str
    flaky: bool
    duration_s: float


def start_build(build_id: str | None, source: str, commit: str | None, owner: str) -> str:
    """The build row, new or (a job delivered again) started afresh: old logs and results dropped;
    ``running`` under ``owner``. Its id."""
    with db.session() as s:
        row = s.get(db.Build, build_id) if build_id else None
        if row is None:
            row = db.Build(id=build_id or db.new_id("build"), source=source, commit=commit)
            s.add(row)
        else:
            s.query(db.BuildLog).filter_by(build_id=row.id).delete()
            s.query(db.TestResult).filter_by(build_id=row.id).delete()
        row.status, row.error, row.created_at, row.owner = BuildStatus.RUNNING, None, utcnow(), owner
        return str(row.id)


def register_source(build_id: str, spec: str, name: str, kind: str, commit: str) -> str:
    """The repository row of source ``spec`` (made on first sight), linked to the build; its id."""
    with db.session() as s:
        repo = s.query(db.Repository).filter_by(source=spec).one_or_none()
        if repo is None:
            repo = db.Repository(source=spec, name=name, kind=kind)
            s.add(repo)
            s.flush()
        b = s.get(db.Build, build_id)
        assert b is not None
        b.repository_id, b.source, b.commit = repo.id, spec, commit
        return str(repo.id)


def finish_build(build_id: str, values: dict[str, Any]) -> None:
    """Set the build row's columns named in ``values``, and ``finished_at`` to now."""
    with db.session() as s:
        b = s.get(db.Build, build_id)
        assert b is not None
        for column, value in values.items():
            setattr(b, column, value)
        b.finished_at = utcnow()


def add_log(build_id: str, step: str, command: str, exit_code: int | None, output: str,
            duration_s: float) -> None:
    """Append one line to a build's log."""
    with db.session() as s:
        s.add(db.BuildLog(build_id=build_id, step=step, command=command, exit_code=exit_code, output=output,
                          duration_s=duration_s))


def add_test_results(build_id: str, results: list[TestOutcome]) -> None:
    """Record a build's per-test results."""
    with db.session() as s:
        for r in results:
            s.add(db.TestResult(build_id=build_id, test_id=r.test_id, outcome=r.outcome, flaky=r.flaky,
                                duration_s=r.duration_s))


def drop_test_results(build_id: str) -> None:
    """Forget a build's per-test results (a second path replaces the first's)."""
    with db.session() as s:
        s.query(db.TestResult).filter_by(build_id=build_id).delete()


def save_image(fields: dict[str, Any]) -> None:
    """Add (or replace) an image's catalogue row; ``fields`` are its columns, ``id`` included."""
    with db.session() as s:
        s.merge(db.Image(**fields))


def get_image(image_id: str) -> db.Image | None:
    """The catalogue row of ``image_id`` (detached), or None."""
    return get_detached(db.Image, image_id)


def running_builds() -> list[tuple[str, str | None]]:
    """(id, owner) of every build in ``running``."""
    with db.session() as s:
        rows = s.scalars(select(db.Build).where(db.Build.status == BuildStatus.RUNNING)).all()
        return [(b.id, b.owner) for b in rows]


def fail_if_still_owned(build_id: str, owner: str | None, error: str) -> bool:
    """Fail a build still ``running`` under ``owner`` (a conditional UPDATE: a build that started
    again under a new owner is left alone) and log why; True when this call failed it."""
    with db.session() as s:
        res = s.execute(update(db.Build)
                        .where(db.Build.id == build_id, db.Build.status == BuildStatus.RUNNING,
                               db.Build.owner == owner)
                        .values(status=BuildStatus.FAILED, error=error, finished_at=utcnow())
                        .execution_options(synchronize_session=False))
        if res.rowcount == 1:  # type: ignore[attr-defined]  # Result of an UPDATE is a CursorResult
            s.add(db.BuildLog(build_id=build_id, step="failed", output=error))
            return True
        return False


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
