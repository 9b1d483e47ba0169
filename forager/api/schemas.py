"""The API's request and response bodies (pydantic). Every model here appears in the OpenAPI
contract (``api/openapi.json``): renaming a class or a field changes the contract."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from forager.enums import JobKind, JobState, Origin, Queue, Scope, SessionState, TaskKind, TaskStatus
from forager.redact import redact, redact_text
from forager.sessions.limits import Budgets as SessionBudgets
from forager.trajectory.schema import Reward

T = TypeVar("T")
SESSION_META_MAX = 16 * 1024


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class Orm(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Shown = Annotated[str, AfterValidator(redact_text)]
"""A text shown in a response: credentials in URLs inside it are replaced by ``***``."""
ShownJSON = Annotated[dict[str, Any], AfterValidator(redact)]


class RepositoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=500, examples=["https://github.com/pallets/itsdangerous.git"],
                        description="git URL, `pypi:NAME[==VERSION]`, or (admin scope) a server directory")


class RepositoryOut(Orm):
    id: str
    source: Shown
    name: str
    kind: str
    created_at: datetime


class BuildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=500, examples=["pypi:itsdangerous==2.2.0"])
    commit: str | None = Field(None, pattern=r"^[0-9A-Za-z._/-]{1,64}$")
    python: str | None = Field(None, pattern=r"^3\.\d{1,2}$", examples=["3.11"])


class JobOut(Orm):
    id: str
    kind: JobKind
    state: JobState = Field(description="queued | running | succeeded | failed")
    params: ShownJSON
    result: ShownJSON = Field(description="While running: `heartbeat` and `history`; at the end, "
                                   "what the job produced, and `history`.")
    error: Shown | None
    attempts: int
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BuildOut(Orm):
    id: str
    repository_id: str | None
    source: Shown
    commit: str | None
    status: str
    python: str | None
    test_command: str | None
    tests: dict[str, Any]
    image: str | None
    error: Shown | None
    duration_s: float | None
    created_at: datetime
    finished_at: datetime | None


class BuildStatus(BaseModel):
    id: str
    job: JobOut | None
    build: BuildOut | None


class BuildLogOut(Orm):
    id: int
    step: str
    command: Shown
    exit_code: int | None
    output: Shown
    duration_s: float
    created_at: datetime


class BuildLogs(BaseModel):
    build_id: str | None
    items: list[BuildLogOut]
    next_after: int | None = Field(description="Pass as `after` to get only newer lines.")


class ImageOut(Orm):
    id: str
    build_id: str
    repository_id: str | None
    digest: str
    source: Shown
    commit: str | None
    python: str
    test_command: str
    status: str
    size_bytes: int
    created_at: datetime


class ImageDetail(ImageOut):
    recipe: ShownJSON
    tests: dict[str, int] = Field(description="Count of test results by outcome, and `flaky`.")


class TasksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(min_length=1, max_length=300, description="A validated image (its tag).")
    kind: TaskKind = TaskKind.MUTATE_FIX
    max_tasks: int = Field(5, ge=1, le=200, description="Stop after this many validated tasks.")
    max_candidates: int | None = Field(None, ge=1, le=5000, description="Candidates to try (8 x max).")
    seed: int = Field(0, ge=0, le=2**31)


class TaskOut(Orm):
    id: str
    image_id: str
    kind: TaskKind
    family: str | None
    status: TaskStatus
    fail_to_pass: list[Any]
    pass_to_pass: list[Any]
    fingerprint: str
    created_at: datetime


class TaskDetail(TaskOut):
    setup_patch: str
    gold_patch: str
    test_patch: str
    problem_statement: str
    meta: ShownJSON


class RunsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_ids: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1, max_length=500)
    episodes: int = Field(1, ge=1, le=100, description="Episodes per task.")
    agent: str = Field("llm", min_length=1, max_length=30)
    model_url: str | None = Field(
        None, max_length=500, pattern=r"^https?://[^\s]+$",
        description="An OpenAI-compatible endpoint. The server's own key goes only to its trusted endpoints "
                    "(FORAGER_MODEL_URL, FORAGER_MODEL_ENDPOINTS); another endpoint gets `model_api_key`, "
                    "or no key.")
    model_api_key: SecretStr | None = Field(
        None, min_length=1, max_length=1000,
        description="The key for `model_url`. Write-only: never stored, answered or logged; held in the "
                    "memory of the API process for its jobs (embedded executor only), lost on a restart.")
    model_name: str | None = Field(None, max_length=200)
    max_steps: int | None = Field(None, ge=1, le=1000)


class RunBatch(BaseModel):
    jobs: list[JobOut]


class NoopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: float = Field(0.0, ge=0, le=60)
    queue: Queue = Queue.TASKS


class TrajectorySummary(Orm):
    id: str
    task_id: str | None
    image: str | None
    repository: str | None
    kind: str | None
    model: str | None
    agent: str | None
    resolved: bool | None
    complete: bool
    steps: int
    exit_reason: str | None
    duration_s: float | None
    origin: Origin
    sha256: str
    created_at: datetime


class UploadOut(BaseModel):
    id: str
    sha256: str = Field(description="SHA-256 of the stored file (what `/raw` returns).")
    steps: int
    uploaded_id: str | None = Field(description="The `id` the upload carried, replaced by `id`.")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scope: Scope = Scope.READ


class TokenOut(BaseModel):
    id: str
    name: str
    scope: Scope
    prefix: str
    revoked: bool = False


class NewToken(TokenOut):
    token: str = Field(description="The bearer token. Shown only once.")


class Health(BaseModel):
    status: str
    database: str
    executor: str
    version: str


class Stats(BaseModel):
    builds: dict[str, Any]
    images: dict[str, Any]
    tasks: dict[str, Any]
    trajectories: dict[str, Any]
    jobs: dict[str, Any]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: str = Field(min_length=1, max_length=40, description="The task to act in.")
    model: str | None = Field(None, max_length=200, description="The client's model name, recorded.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Anything the client wants recorded "
                                 "with the trajectory (at most 16 KiB as JSON).")
    budgets: SessionBudgets | None = Field(None, description="Lower limits than the farm's (never higher).")

    @field_validator("meta")
    @classmethod
    def _small_meta(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > SESSION_META_MAX:
            raise ValueError(f"meta is larger than {SESSION_META_MAX} bytes as JSON")
        return value


class SessionLimitsOut(BaseModel):
    max_actions: int
    action_timeout_s: int
    max_payload_bytes: int
    idle_timeout_s: float
    sessions_per_token: int
    sessions_total: int


class SessionOut(BaseModel):
    id: str
    task_id: str
    trajectory_id: str = Field(description="The trajectory the farm records (`/v1/trajectories/{id}`).")
    state: SessionState = Field(description="active | submitted | ended | expired | failed")
    steps: int
    max_actions: int
    action_timeout_s: int
    model: str | None
    end_reason: str | None
    reward: dict[str, Any] | None = Field(description="The judged reward, once submitted.")
    created_at: datetime
    last_active_at: datetime
    ended_at: datetime | None


class SessionCreated(SessionOut):
    problem_statement: str
    tools: list[dict[str, Any]] = Field(description="The tools as JSON schemas (OpenAI function format): "
                                                    "the same tools Forager's own agent uses.")
    limits: SessionLimitsOut


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str = Field(min_length=1, max_length=40, description="One of the session's tools.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="The tool's arguments.")


class ActionOut(BaseModel):
    step: int = Field(description="The index of this action in the trajectory.")
    observation: str = Field(description="What the container answered (long output keeps head and tail).")
    exit_code: int | None = Field(description="null: no exit status (a bad call, or killed from outside).")
    duration_s: float
    timed_out: bool
    state: SessionState
    reward: Reward | None = Field(None, description="After a `submit` call: the judged reward.")


class SubmitOut(SessionOut):
    resolved: bool
