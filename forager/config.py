"""All settings in one place. Every field reads from a ``FORAGER_*`` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORAGER_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".forager")
    """All local state lives here: database, caches, sources, trajectories."""
    database_url: str = ""
    """SQLAlchemy URL; empty means SQLite at ``$FORAGER_HOME/forager.db``."""

    # --- builds -------------------------------------------------------------------------------
    ca_bundle: Path | None = None
    """Extra CA bundle mounted into build containers (TLS-intercepting or corporate proxies).
    Defaults to the host's system bundle when present."""
    base_images: str = "auto"
    """``bootstrap`` (forager/base:* from debootstrap), ``official`` (python:X.Y-slim), or ``auto``."""
    default_python: str = "3.11"
    pass_threshold: float = 0.9
    """A build validates when tests were collected and this share of non-skipped tests pass."""
    repair_rounds: int = 6
    test_timeout_s: int = 900
    """Wall-clock limit on one whole test run inside the container."""
    per_test_timeout_s: int = 120
    install_timeout_s: int = 1200
    pids_limit: int = 1024
    memory_limit: str = "4g"
    cpus: float = 2.0
    pip_cache_volume: str = "forager-pip-cache"
    build_disk_limit_mb: int = 20_000
    """Largest writable layer a build container may grow to; the build fails past it."""
    source_max_mb: int = 2_000
    """Largest source a build fetches: a git clone, an sdist download, or its extracted files."""
    source_connect_timeout_s: float = 30.0
    """A git or HTTP server that accepts and then says nothing is given up after this long."""
    image_prefix: str = "forager"

    # --- agents -------------------------------------------------------------------------------
    command_timeout_s: int = 60
    output_limit: int = 16000
    max_steps: int = 100
    model_url: str = ""
    model_name: str = ""
    model_api_key: str = ""
    model_endpoints: str = ""
    """Comma-separated endpoints the server's own ``model_api_key`` may be sent to; ``model_url`` is
    always one. A caller-supplied URL outside them gets the caller's key or none."""
    model_max_tokens: int = 4096
    """Completion tokens per model call."""
    model_timeout_s: float = 300.0
    model_retries: int = 6
    max_tokens: int = 2_000_000
    """Token budget of one episode (prompt + completion, summed over calls); 0 means none."""
    max_wall_s: float = 3600.0
    """Wall-time budget of one episode's agent loop."""
    episode_disk_limit_mb: int = 2048
    """Writable space of an episode (its /repo, /tmp and home together); writes past it fail."""
    max_diff_file_mb: int = 10
    """Files larger than this are left out of an episode's diff (and so of its reward), and named."""

    # --- distributed mode ---------------------------------------------------------------------
    executor: str = "embedded"
    """``embedded`` (in-process) or ``celery``."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    registry: str = ""
    """Optional container registry to push built images to (host[:port]/namespace)."""
    redis_key_prefix: str = "forager:"
    """Prefix of every Celery key in Redis (lets several farms or test runs share one Redis)."""
    embedded_concurrency: str = "build=1,tasks=1,agent=2"
    """Threads per queue of the in-process executor (embedded mode)."""
    job_time_limit_s: int = 7200
    """Hard limit on one job attempt (Celery task_time_limit); the soft limit is 95% of it."""
    job_visibility_timeout_s: int = 0
    """Redis visibility timeout; 0 means job_time_limit_s + 10%. Must exceed the time limit."""
    job_restore_interval_s: int = 10
    """How often a worker looks for messages whose visibility timeout lapsed (a lost worker's jobs)."""
    job_lease_s: float = 60.0
    """A running job renews its lease every third of this; a job whose lease lapsed may be taken over."""
    job_max_attempts: int = 3
    job_retry_backoff_s: float = 10.0
    """First retry delay after a transient error; doubles per attempt (capped at 10 minutes)."""
    api_max_upload_bytes: int = 32 * 1024 * 1024
    """Largest trajectory upload accepted (compressed size as sent, and decompressed size); 413 above."""
    viewer_public: bool = False
    """Serve the /ui viewer without a token (only on a trusted network)."""

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

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
