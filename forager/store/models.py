"""The registry's tables: one SQLAlchemy 2 model per thing Forager records.

The schema is created and upgraded by the Alembic migrations in ``registry/`` (``session.upgrade``);
a change here needs a migration there. Status and kind columns hold the strings of
``forager.enums`` (``StrEnum``: a member is its string).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import UniqueConstraint

from forager.clock import utcnow
from forager.enums import BuildStatus, JobState, Origin, SessionState, TaskStatus


def new_id(prefix: str) -> str:
    """A fresh row id: ``prefix-`` and 12 random hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Repository(Base):
    __tablename__ = "repositories"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("repo"))
    source: Mapped[str] = mapped_column(String(500), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # git | local | pypi
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Build(Base):
    __tablename__ = "builds"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("build"))
    repository_id: Mapped[str | None] = mapped_column(ForeignKey("repositories.id"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    commit: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=BuildStatus.QUEUED, index=True)
    python: Mapped[str | None] = mapped_column(String(10))
    install: Mapped[dict[str, Any]] = mapped_column(default=dict)
    test_command: Mapped[str | None] = mapped_column(Text)
    tests: Mapped[dict[str, Any]] = mapped_column(default=dict)
    image: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
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
    status: Mapped[str] = mapped_column(String(20), default=BuildStatus.VALIDATED)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TestResult(Base):
    __tablename__ = "test_results"
    __test__ = False  # not a pytest class
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id"), index=True)
    test_id: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10))  # passed | failed | skipped | error
    flaky: Mapped[bool] = mapped_column(Boolean, default=False)
    """The two validation runs disagreed on this test."""
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
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("task"))
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)  # a TaskKind
    family: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.VALIDATED)
    setup_patch: Mapped[str] = mapped_column(Text)  # turns the image's code into the task state
    gold_patch: Mapped[str] = mapped_column(Text)  # turns the task state back into working code
    test_patch: Mapped[str] = mapped_column(Text, default="")
    fail_to_pass: Mapped[list[Any]] = mapped_column(default=list)
    pass_to_pass: Mapped[list[Any]] = mapped_column(default=list)
    problem_statement: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), index=True, default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


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
    origin: Mapped[str] = mapped_column(String(20), default=Origin.LOCAL)
    path: Mapped[str] = mapped_column(Text)  # where the trajectory file is stored
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Job(Base):
    """A unit of long work (a JobKind). Advanced by conditional UPDATEs (``forager.jobs.state``) so
    a redelivered job never runs twice."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED, index=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tok"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(20), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(10))  # a Scope
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AgentSession(Base):
    """A session over the API (``forager.sessions``): the row is the whole state, so any API process
    sharing the registry serves it; ``container`` names its sandbox on the Docker engine."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sess"))
    token_id: Mapped[str] = mapped_column(String(40), index=True)
    """The token that opened it: the only one that sees it."""
    task_id: Mapped[str] = mapped_column(String(40))
    trajectory_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default=SessionState.ACTIVE, index=True)
    container: Mapped[str] = mapped_column(String(200), default="")
    user: Mapped[str] = mapped_column(String(40), default="root")
    test_command: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    max_actions: Mapped[int] = mapped_column(Integer)
    action_timeout_s: Mapped[int] = mapped_column(Integer)
    busy_until: Mapped[datetime | None] = mapped_column(DateTime)
    """Set while one action (or the submit) runs: a second one is refused until then."""
    shell_owner: Mapped[str | None] = mapped_column(String(200))
    """The process whose shell ran the last action (another process starts its own shell)."""
    reward: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    end_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_active_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class SessionTurn(Base):
    """One recorded action of a session (a ``Turn`` of its trajectory, as JSON)."""

    __tablename__ = "session_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    turn: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ExecTrace(Base):
    """One execution trace (``forager.traces``): a function's call driven by one test, frame by
    frame. ``frames`` is the JSON list the collector wrote (locals as diffs: ``".."`` unchanged)."""

    __tablename__ = "traces"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("trace"))
    image_id: Mapped[str] = mapped_column(String(300), index=True)
    repository: Mapped[str] = mapped_column(String(500), index=True)
    path: Mapped[str] = mapped_column(Text)
    function: Mapped[str] = mapped_column(String(500))
    first_line: Mapped[int] = mapped_column(Integer)
    test: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="target")  # a TraceKind
    caller: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # a TraceStatus
    engine: Mapped[str] = mapped_column(String(20))
    python: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    n_frames: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text)
    frames: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Campaign(Base):
    """A farm campaign: sources to images, tasks and episodes, unattended (``forager.campaign``)."""

    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("camp"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the campaign makes: sources, versions per source, task quotas, episodes, agent."""
    state: Mapped[str] = mapped_column(String(20), default="active", index=True)  # a CampaignState
    runner: Mapped[str | None] = mapped_column(String(200))
    """host:pid of the ``campaign run`` driving it now (None: nobody)."""
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class CampaignItem(Base):
    """One unit of a campaign's work (a source version, an image's tasks of one kind, an episode),
    moved between ``ItemState``s only by conditional UPDATEs (``store.campaigns``)."""

    __tablename__ = "campaign_items"
    __table_args__ = (UniqueConstraint("campaign_id", "stage", "key", name="uq_campaign_item_key"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("citem"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20), index=True)  # a CampaignStage
    key: Mapped[str] = mapped_column(String(500))
    parent_id: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(500), default="")
    """The source line the item descends from (for reports)."""
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # an ItemState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(40))
    cause: Mapped[str | None] = mapped_column(String(40))  # a FailureCause
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retry_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ImagePush(Base):
    """An image pushed to a container registry: the reference workers pull it by (``repo@sha256:…``)."""

    __tablename__ = "image_pushes"
    image_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    registry_host: Mapped[str] = mapped_column(String(300), primary_key=True)
    ref: Mapped[str] = mapped_column(String(600))
    digest: Mapped[str] = mapped_column(String(100))
    pushed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
