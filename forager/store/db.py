"""The registry: SQLAlchemy 2 models for everything Forager records, and the session factory.

The schema is created and upgraded by the Alembic migrations in ``registry/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from forager.config import get_settings


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Repository(Base):
    __tablename__ = "repositories"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("repo"))
    source: Mapped[str] = mapped_column(String(500), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # git | local | pypi
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class Build(Base):
    __tablename__ = "builds"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("build"))
    repository_id: Mapped[str | None] = mapped_column(ForeignKey("repositories.id"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    commit: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    # queued | running | validated | failed
    python: Mapped[str | None] = mapped_column(String(10))
    install: Mapped[dict[str, Any]] = mapped_column(default=dict)
    test_command: Mapped[str | None] = mapped_column(Text)
    tests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    owner: Mapped[str | None] = mapped_column(String(200))
    """host:pid of the process running the build (``reap_dead_owners`` fails it when that dies)."""


class Farm(Base):
    """One row: this registry's random id, set by the migration. Image tags carry it, so two farms
    sharing one Docker engine never overwrite each other's images."""

    __tablename__ = "farm"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)


class Image(Base):
    __tablename__ = "images"
    id: Mapped[str] = mapped_column(String(300), primary_key=True)  # the image tag
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id"), index=True)
    repository_id: Mapped[str | None] = mapped_column(ForeignKey("repositories.id"), index=True)
    digest: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(500))
    commit: Mapped[str | None] = mapped_column(String(64))
    python: Mapped[str] = mapped_column(String(10))
    recipe: Mapped[dict[str, Any]] = mapped_column(default=dict)
    test_command: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="validated")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class TestResult(Base):
    __tablename__ = "test_results"
    __test__ = False  # not a pytest class
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id"), index=True)
    test_id: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10))  # passed | failed | skipped | error
    second_outcome: Mapped[str | None] = mapped_column(String(10))
    flaky: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)


class BuildLog(Base):
    __tablename__ = "build_logs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id"), index=True)
    step: Mapped[str] = mapped_column(String(100))
    command: Mapped[str] = mapped_column(Text, default="")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("task"))
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)  # mutate-fix | implement-feature | from-history
    family: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="validated")
    setup_patch: Mapped[str] = mapped_column(Text)  # turns the image's code into the task state
    gold_patch: Mapped[str] = mapped_column(Text)  # turns the task state back into working code
    test_patch: Mapped[str] = mapped_column(Text, default="")
    fail_to_pass: Mapped[list[Any]] = mapped_column(default=list)
    pass_to_pass: Mapped[list[Any]] = mapped_column(default=list)
    problem_statement: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), index=True, default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class Trajectory(Base):
    __tablename__ = "trajectories"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("traj"))
    task_id: Mapped[str | None] = mapped_column(String(40), index=True)
    image: Mapped[str | None] = mapped_column(String(300))
    repository: Mapped[str | None] = mapped_column(String(500), index=True)
    kind: Mapped[str | None] = mapped_column(String(30), index=True)
    model: Mapped[str | None] = mapped_column(String(200))
    agent: Mapped[str | None] = mapped_column(String(30))
    resolved: Mapped[bool | None] = mapped_column(Boolean, index=True)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    exit_reason: Mapped[str | None] = mapped_column(String(50))
    duration_s: Mapped[float | None] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(20), default="local")  # local | upload
    path: Mapped[str] = mapped_column(Text)  # where the trajectory file is stored
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)


class Job(Base):
    """A unit of long work (build, tasks, run). Advanced by conditional UPDATEs so a redelivered
    job never runs twice."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    kind: Mapped[str] = mapped_column(String(20), index=True)  # build | tasks | run
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    # queued | running | succeeded | failed
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tok"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(20), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(10))  # read | write | admin
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


# --------------------------------------------------------------------------------------------
MIGRATIONS = Path(__file__).resolve().parents[2] / "registry"


@lru_cache
def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_ready: set[str] = set()


def engine() -> Engine:
    url = get_settings().resolved_database_url()
    if url not in _ready:
        upgrade(url)
        _ready.add(url)
    return _engine(url)


@lru_cache
def _farm_id(url: str) -> str:
    with session() as s:
        row = s.query(Farm).first()
        return row.id if row is not None else "0"


def farm_id() -> str:
    """This farm's short random id (one per registry database)."""
    return _farm_id(get_settings().resolved_database_url())


@contextmanager
def session() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    maker = sessionmaker(engine(), expire_on_commit=False)
    with maker() as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
