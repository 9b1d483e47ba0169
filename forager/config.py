"""All settings in one place. Every field reads from a ``FORAGER_*`` environment variable.

Settings are checked when they load, not where they are used: limits must be positive, choices
must be known, and the Celery visibility timeout must exceed the job time limit. A bad value stops
``get_settings()`` with one ``SettingsError`` naming every ``FORAGER_*`` variable at fault.
Components take the values they need from here (``Limits.from_settings``, ``ModelConfig``,
``JobPolicy``); no other module restates a default.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from forager.enums import Queue
from forager.errors import InvalidInput

ENV_PREFIX = "FORAGER_"
MEMORY_RE = re.compile(r"^\d+([kmg]b?|b)?$", re.IGNORECASE)
"""A Docker memory size: bytes, or a number with b, k, m or g (``4g``, ``256m``, ``512mb``)."""


class SettingsError(InvalidInput):
    """One or more ``FORAGER_*`` variables hold a value Forager cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".forager")
    """All local state lives here: database, caches, sources, trajectories."""
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite at ``$FORAGER_HOME/forager.db``."""
    runtime: Literal["docker", "local"] = "docker"
    """The container runtime sandboxes run on (``forager.runtime``'s registry)."""

    # --- builds -------------------------------------------------------------------------------
    ca_bundle: Path | None = None
    """Extra CA bundle mounted into build containers (TLS-intercepting or corporate proxies).
    Defaults to the host's system bundle when present."""
    base_images: Literal["auto", "bootstrap", "official"] = "auto"
    """``bootstrap`` (forager/base:* from debootstrap), ``official`` (python:X.Y-slim), or ``auto``."""
    default_python: str = Field(default="3.11", pattern=r"^\d+\.\d+$")
    pass_threshold: float = Field(default=0.9, gt=0, le=1)
    """A build validates when tests were collected and this share of non-skipped tests pass."""
    repair_rounds: int = Field(default=6, ge=0)
    test_timeout_s: int = Field(default=900, gt=0)
    """Wall-clock limit on one whole test run inside the container."""
    per_test_timeout_s: int = Field(default=120, gt=0)
    install_timeout_s: int = Field(default=1200, gt=0)
    pids_limit: int = Field(default=1024, gt=0)
    memory_limit: str = "4g"
    cpus: float = Field(default=2.0, gt=0)
    pip_cache_volume: str = Field(default="forager-pip-cache", min_length=1)
    build_disk_limit_mb: int = Field(default=20_000, gt=0)
    """Largest writable layer a build container may grow to; the build fails past it."""
    source_max_mb: int = Field(default=2_000, gt=0)
    """Largest source a build fetches: a git clone, an sdist download, or its extracted files."""
    source_connect_timeout_s: float = Field(default=30.0, gt=0)
    """A git or HTTP server that accepts and then says nothing is given up after this long."""
    image_prefix: str = Field(default="forager", min_length=1)
    first_run_test_timeout_s: int = Field(default=30, gt=0)
    """Per-test limit of a build's first test run: tests that pass it are left out as hanging
    (named in the recipe) before validation at ``per_test_timeout_s``."""
    ipv6_loopback: bool = True
    """Containers get a working ``::1`` (sysctl net.ipv6.conf.lo.disable_ipv6=0)."""
    resolve_as_of_commit: bool = True
    """Git sources resolve dependencies uploaded before the commit's date (``PIP_UPLOADED_PRIOR_TO``)."""
    validation_runs: int = Field(default=2, ge=2, le=5)
    """Validation runs per image: tests whose outcome differs between any two are flaky (3, as some
    peers use, costs one more run)."""
    ci_path: bool = True
    """When the static recipe does not validate, try the maintainers' CI test job as the recipe."""
    installer: Literal["uv", "pip"] = "uv"
    """What build containers install with: ``uv`` (``uv pip install``, pip where uv fails) or ``pip``."""
    uv_binary: Path | None = None
    """The uv executable copied into build containers (a Linux build for the engine's architecture);
    by default the one of Forager's own environment (the ``uv`` package). None found: pip only."""

    # --- tasks --------------------------------------------------------------------------------
    task_workers: int = Field(default=0, ge=0, le=16)
    """Workspace containers one ``tasks generate`` call judges injected candidates in, side by side
    (the call map's traced run is split across them too); 0: one per core, at most 4."""

    # --- agents -------------------------------------------------------------------------------
    command_timeout_s: int = Field(default=60, gt=0)
    output_limit: int = Field(default=16000, gt=0)
    max_steps: int = Field(default=100, gt=0)
    model_url: str = ""
    model_name: str = ""
    model_api_key: str = ""
    model_endpoints: str = ""
    """Comma-separated endpoints the server's own ``model_api_key`` may be sent to; ``model_url`` is
    always one. A caller-supplied URL outside them gets the caller's key or none."""
    model_max_tokens: int = Field(default=4096, gt=0)
    """Completion tokens per model call."""
    model_timeout_s: float = Field(default=300.0, gt=0)
    model_retries: int = Field(default=6, ge=0)
    max_tokens: int = Field(default=2_000_000, ge=0)
    """Token budget of one episode (prompt + completion, summed over calls); 0 means none."""
    max_wall_s: float = Field(default=3600.0, gt=0)
    """Wall-time budget of one episode's agent loop."""
    episode_disk_limit_mb: int = Field(default=2048, gt=0)
    """Writable space of an episode (its /repo, /tmp and home together); writes past it fail."""
    max_diff_file_mb: int = Field(default=10, gt=0)
    """Files larger than this are left out of an episode's diff (and so of its reward), and named."""

    # --- distributed mode ---------------------------------------------------------------------
    executor: Literal["embedded", "celery"] = "embedded"
    """``embedded`` (in-process threads) or ``celery`` (Redis broker, separate workers)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    registry: str = ""
    """Optional container registry to push built images to (host[:port]/namespace)."""
    redis_key_prefix: str = "forager:"
    """Prefix of every Celery key in Redis (lets several farms or test runs share one Redis)."""
    embedded_concurrency: str = "build=1,tasks=1,agent=2"
    """Threads per queue of the in-process executor (embedded mode): ``queue=N,...``, 1 if unnamed."""
    job_time_limit_s: int = Field(default=7200, gt=0)
    """Hard limit on one job attempt (Celery task_time_limit); the soft limit is 95% of it."""
    job_visibility_timeout_s: int = Field(default=0, ge=0)
    """Redis visibility timeout; 0 means job_time_limit_s + 10% + 60 s. Must exceed the time limit."""
    job_restore_interval_s: int = Field(default=10, gt=0)
    """How often a worker looks for messages whose visibility timeout lapsed (a lost worker's jobs)."""
    job_lease_s: float = Field(default=60.0, gt=0)
    """A running job renews its lease every third of this; a job whose lease lapsed may be taken over."""
    job_max_attempts: int = Field(default=3, gt=0)
    job_retry_backoff_s: float = Field(default=10.0, ge=0)
    """First retry delay after a transient error; doubles per attempt (capped at 10 minutes)."""
    api_max_upload_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    """Largest trajectory upload accepted (compressed size as sent, and decompressed size); 413 above."""
    viewer_public: bool = False
    """Serve the /ui viewer without a token (only on a trusted network)."""

    # --- sessions (agents acting through the API) -------------------------------------------
    session_max_actions: int = Field(default=500, gt=0)
    """Actions one session may take (a request's ``budgets`` may only lower it)."""
    session_action_timeout_s: int = Field(default=120, gt=0)
    """Seconds one action may run (its whole process tree is killed then); ``budgets`` may lower it."""
    session_max_payload_bytes: int = Field(default=1_000_000, gt=0)
    """Largest request body a session endpoint accepts; 413 above."""
    session_max_per_token: int = Field(default=8, gt=0)
    """Active sessions one token may hold; 429 with Retry-After above."""
    session_max_total: int = Field(default=64, gt=0)
    """Active sessions on the farm; 429 with Retry-After above."""
    session_idle_timeout_s: float = Field(default=900.0, gt=0)
    """A session with no action for this long is ended (``expired``) by the reaper."""
    session_reap_interval_s: float = Field(default=30.0, gt=0)
    """How often each API process sweeps sessions (idle ones, dead containers, orphans)."""
    # --- execution traces (forager.traces) ------------------------------------------------------
    trace_functions: int = Field(default=20, gt=0)
    """Functions an image's trace collection picks (``forager traces collect --functions``)."""
    trace_per_function: int = Field(default=3, gt=0)
    """Tests (so traces) per picked function (``--per-function``)."""
    trace_max_per_image: int = Field(default=500, gt=0)
    """No collection run writes more traces than this for one image."""
    trace_max_frames: int = Field(default=1000, gt=0)
    """Frames per trace; a longer call is kept up to here and marked truncated."""
    trace_value_chars: int = Field(default=200, ge=8)
    """Characters per local variable's or return value's ``repr``."""
    trace_callees: Literal["step", "trace"] = "step"
    """Calls from a traced function into other repository functions: stepped over, or traced as
    their own traces."""
    trace_engine: Literal["auto", "settrace", "monitoring"] = "auto"
    """``auto``: ``sys.monitoring`` on Python 3.12+, ``sys.settrace`` before."""
    trace_output_mb: int = Field(default=64, gt=0)
    """The tracer's output file is read up to this size (a test could write to it)."""
    # --- campaigns ------------------------------------------------------------------------------
    campaign_poll_s: float = Field(default=2.0, gt=0)
    """How often ``campaign run`` looks at its items' jobs."""
    campaign_infra_attempts: int = Field(default=4, gt=0)
    """Attempts at an item whose failures are the machine's (engine, disk, network)."""
    campaign_retry_backoff_s: float = Field(default=30.0, ge=0)
    """First wait before retrying an infrastructure failure; doubles per attempt (capped at 1 hour)."""
    campaign_cancel_wait_s: float = Field(default=300.0, gt=0)
    """How long a cancel waits for running work to end before recording it cancelled anyway."""

    # --- checks at load -------------------------------------------------------------------------
    @field_validator("memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        if not MEMORY_RE.match(value.strip()):
            raise ValueError(f"{value!r} is not a memory size such as 4g, 256m or 1073741824")
        return value.strip()

    @field_validator("embedded_concurrency")
    @classmethod
    def _concurrency_spec(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, _, n = part.partition("=")
            if name.strip() not in list(Queue) or not n.strip().isdigit() or int(n) < 1:
                raise ValueError(f"{part!r} is not QUEUE=N with N >= 1 and QUEUE one of "
                                 f"{', '.join(Queue)}")
        return value

    @model_validator(mode="after")
    def _visibility_exceeds_time_limit(self) -> Settings:
        if self.visibility_timeout_s <= self.job_time_limit_s:
            raise ValueError(f"FORAGER_JOB_VISIBILITY_TIMEOUT_S ({self.job_visibility_timeout_s}) must exceed "
                             f"FORAGER_JOB_TIME_LIMIT_S ({self.job_time_limit_s}), or a long job is delivered twice")
        return self

    # --- derived values -------------------------------------------------------------------------
    @property
    def visibility_timeout_s(self) -> int:
        """The Redis visibility timeout in effect (the setting, or the time limit + 10% + 60 s)."""
        return self.job_visibility_timeout_s or int(self.job_time_limit_s * 1.1) + 60

    @property
    def embedded_threads(self) -> dict[str, int]:
        """Threads per queue of the embedded executor (1 for a queue the setting does not name)."""
        out = {q.value: 1 for q in Queue}
        for part in filter(None, (p.strip() for p in self.embedded_concurrency.split(","))):
            name, _, n = part.partition("=")
            out[name.strip()] = int(n)
        return out

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'forager.db'}"

    def resolved_ca_bundle(self) -> Path | None:
        if self.ca_bundle:
            return self.ca_bundle
        system = Path("/etc/ssl/certs/ca-certificates.crt")
        return system if system.exists() else None

    def trusted_model_endpoints(self) -> set[str]:
        urls = [u.strip() for u in self.model_endpoints.split(",")] + [self.model_url]
        return {u.rstrip("/") for u in urls if u.strip()}

    @property
    def sources_dir(self) -> Path:
        return self.home / "sources"

    @property
    def trajectories_dir(self) -> Path:
        return self.home / "trajectories"


def _explain(exc: ValidationError) -> str:
    """One line per bad variable: ``FORAGER_NAME: what is wrong (got VALUE)``."""
    lines = []
    for err in exc.errors():
        name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper() if err["loc"] else "settings"
        got = f" (got {err['input']!r})" if err["loc"] else ""
        lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}{got}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings() -> Settings:
    """Read and check the settings from the environment; a ``SettingsError`` says what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    get_settings.cache_clear()
