"""Settings are checked when they load: bad values stop with a message naming the variable."""

from __future__ import annotations

import pytest

from forager.config import Settings, SettingsError, get_settings, reset_settings


@pytest.mark.parametrize(("env", "value", "says"), [
    ("FORAGER_EXECUTOR", "kafka", "'embedded' or 'celery'"),
    ("FORAGER_RUNTIME", "podman", "'docker' or 'local'"),
    ("FORAGER_BASE_IMAGES", "alpine", "'auto', 'bootstrap' or 'official'"),
    ("FORAGER_PASS_THRESHOLD", "0", "greater than 0"),
    ("FORAGER_PASS_THRESHOLD", "1.5", "less than or equal to 1"),
    ("FORAGER_PIDS_LIMIT", "0", "greater than 0"),
    ("FORAGER_TEST_TIMEOUT_S", "-5", "greater than 0"),
    ("FORAGER_JOB_MAX_ATTEMPTS", "0", "greater than 0"),
    ("FORAGER_MEMORY_LIMIT", "lots", "not a memory size"),
    ("FORAGER_EMBEDDED_CONCURRENCY", "gpu=2", "not QUEUE=N"),
    ("FORAGER_EMBEDDED_CONCURRENCY", "agent=0", "not QUEUE=N"),
])
def test_bad_values_are_refused_at_load(monkeypatch: pytest.MonkeyPatch, env: str, value: str, says: str) -> None:
    monkeypatch.setenv(env, value)
    reset_settings()
    with pytest.raises(SettingsError, match=env) as err:
        get_settings()
    assert says in str(err.value) and isinstance(err.value, ValueError)


def test_visibility_timeout_must_exceed_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_JOB_TIME_LIMIT_S", "600")
    monkeypatch.setenv("FORAGER_JOB_VISIBILITY_TIMEOUT_S", "600")
    reset_settings()
    with pytest.raises(SettingsError, match="FORAGER_JOB_VISIBILITY_TIMEOUT_S .* must exceed FORAGER_JOB_TIME_LIMIT_S"):
        get_settings()
    monkeypatch.setenv("FORAGER_JOB_VISIBILITY_TIMEOUT_S", "0")  # derived: above the limit
    reset_settings()
    assert get_settings().visibility_timeout_s == 720


def test_defaults_load_and_derived_values() -> None:
    s = Settings()
    assert s.executor == "embedded" and s.runtime == "docker"
    assert s.embedded_threads == {"build": 1, "tasks": 1, "agent": 2}
    assert Settings(embedded_concurrency="agent=4").embedded_threads == {"build": 1, "tasks": 1, "agent": 4}
    assert Settings(memory_limit="512mb").memory_limit == "512mb"
