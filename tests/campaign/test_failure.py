"""Failure causes read from real builder messages and pip output."""

from __future__ import annotations

import pytest

from forager.build.failure import classify, distribution
from forager.enums import FailureCause

PIP_NO_DIST = (
    "Collecting forager-fixture-no-such-distribution>=1.0\n"
    "ERROR: Could not find a version that satisfies the requirement forager-fixture-no-such-distribution>=1.0 "
    "(from badinstall) (from versions: none)\n"
    "ERROR: No matching distribution found for forager-fixture-no-such-distribution>=1.0")
PIP_WHEEL = """  Building wheel for lxml (pyproject.toml) ... error
  error: subprocess-exited-with-error
ERROR: Failed building wheel for lxml
Failed to build lxml"""
PIP_NETWORK = """WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(':
Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/requests/"""


@pytest.mark.parametrize(("error", "logs", "tests", "cause", "detail"), [
    ("no tests found: no test_*.py / *_test.py files and no tests/ directory", [], {}, FailureCause.NO_TESTS, ""),
    ("no tests ran (all skipped or none collected)", [], {"collection_errors": 0}, FailureCause.NO_TESTS, ""),
    ("no tests ran (all skipped or none collected)", [], {"collection_errors": 3},
     FailureCause.COLLECTION_FAILED, ""),
    ("the test run produced no results: ImportError while loading conftest", [], {},
     FailureCause.COLLECTION_FAILED, ""),
    (f"project install failed: {PIP_NO_DIST}", [], {}, FailureCause.INSTALL_FAILED,
     "forager-fixture-no-such-distribution"),
    ("project install failed: see log", [PIP_WHEEL], {}, FailureCause.INSTALL_FAILED, "lxml"),
    ("project install failed: ERROR: Package 'x' requires a different Python: 3.11.2 not in '>=3.12'", [], {},
     FailureCause.UNSUPPORTED_PYTHON, ">=3.12"),
    ("pass rate 30% below the 90% threshold", [], {}, FailureCause.BELOW_THRESHOLD, "30%"),
    ("the test suite timed out", [], {}, FailureCause.TIMEOUT, ""),
    ("disk limit: the build container wrote 30000 MB, more than 20000", [], {}, FailureCause.RESOURCE_LIMIT, None),
    ("no package 'nope' on PyPI", [], {}, FailureCause.SOURCE, None),
    ("PyPI unreachable: [Errno -3] Temporary failure in name resolution", [], {}, FailureCause.INFRA_NETWORK, None),
    ("could not fetch https://example.invalid/x.git: unreachable or not a repository", [], {},
     FailureCause.INFRA_NETWORK, None),
    ("project install failed: see log", [PIP_NETWORK], {}, FailureCause.INFRA_NETWORK, None),
    ("no Docker engine answers: Error while fetching server API version", [], {}, FailureCause.INFRA_ENGINE, None),
    ("could not commit: write /var/lib/docker/overlay2/x: no space left on device", [], {},
     FailureCause.INFRA_DISK, None),
    ("internal error: KeyError: 'x'", [], {}, FailureCause.OTHER, None),
])
def test_classify(error: str, logs: list[str], tests: dict[str, int], cause: FailureCause, detail: str | None) -> None:
    failure = classify(error, logs, tests)
    assert failure.cause is cause
    assert failure.infrastructure == cause.value.startswith("infra-")
    if detail is not None:
        assert failure.detail == detail


def test_distribution_names_the_last_failure() -> None:
    assert distribution(PIP_WHEEL) == "lxml"
    assert distribution("nothing here") == ""
