"""Why a build failed, as a cause class (``forager.enums.FailureCause``) read from its error and
its step logs: no tests, install failed (naming the distribution), collection failed, below the
pass threshold, timeout, unsupported Python, a resource limit, a bad source — or the machine's
fault (engine, disk, network), which is retried and never counted against the repository.

Rules are tried in order; the first that matches decides. Infrastructure signs are looked for
first: a pip install that failed because the network dropped is the network's fault, not the
repository's."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from forager.enums import FailureCause


@dataclass(frozen=True)
class Failure:
    cause: FailureCause
    detail: str = ""
    """What the cause is about, when known: the distribution that failed to install, the Python asked for."""

    @property
    def infrastructure(self) -> bool:
        return self.cause.infrastructure


_INFRA: list[tuple[FailureCause, re.Pattern[str]]] = [
    (FailureCause.INFRA_DISK, re.compile(r"no space left on device|disk quota exceeded|"
                                         r"write /var/lib/docker", re.I)),
    (FailureCause.INFRA_NETWORK, re.compile(
        r"temporary failure in name resolution|name or service not known|network is unreachable|"
        r"connection (?:reset|refused|timed out|aborted)|read ?timed ?out|max retries exceeded|"
        r"pypi unreachable|could not download |remote end closed connection|"
        r"could not fetch \S+: unreachable", re.I)),
    (FailureCause.INFRA_ENGINE, re.compile(
        r"error while fetching server api version|cannot connect to the docker daemon|docker\.errors|"
        r"bootstrap of \w+ failed|base image setup failed|cannot pull |the worker running it was lost|"
        r"500 server error|conflict.*container name|engine (?:error|did not answer)", re.I)),
]

_DIST = [
    re.compile(r"No matching distribution found for ([A-Za-z0-9_.\-\[\]]+)"),
    re.compile(r"Could not find a version that satisfies the requirement ([A-Za-z0-9_.\-\[\]]+)"),
    re.compile(r"Failed (?:to build|building wheel for) ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Building wheel for ([A-Za-z0-9_.\-]+) \(pyproject\.toml\) \.\.\. error"),
    re.compile(r"error: subprocess-exited-with-error\s+×\s+\w[\w ]*? for ([A-Za-z0-9_.\-]+)"),
    re.compile(r"ResolutionImpossible.*?requested ([A-Za-z0-9_.\-]+)", re.S),
    re.compile(r"Cannot install ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Running setup\.py install for ([A-Za-z0-9_.\-]+) \.\.\. error"),
]

_PYTHON = re.compile(
    r"requires a different python|requires-python|python_requires|no base for python ([\d.]+)|"
    r"unsupported python|python ([\d.]+) is not supported|only (?:supports|runs on) python", re.I)
_COLLECTION = re.compile(r"the test run produced no results|error(?:s)? (?:during|while) collect|"
                         r"ImportError while (?:importing|loading)|collection_errors", re.I)
_RESOURCE = re.compile(r"disk limit:|out of memory or processes|killed, out of memory|larger than the \d+ MB|"
                       r"more than \d+ files", re.I)
_SOURCE = re.compile(r"no package .* on PyPI|has no sdist|not a git URL|no commit |unsafe member|"
                     r"points out of the tree|is not a git repository|could not be unpacked", re.I)


def distribution(text: str) -> str:
    """The distribution pip failed on, named in ``text`` (pip's output), or ''."""
    for pattern in _DIST:
        found = pattern.findall(text)
        if found:
            return str(found[-1]).strip(".")
    return ""


def _python_asked(text: str) -> str:
    m = re.search(r"(?:requires a different python|requires-python)[^\n]*?([<>=!~]=?\s*[\d.]+[^\n']*)", text, re.I)
    return m.group(1).strip()[:80] if m else ""


def _repository_cause(error: str, logs: str, tests: dict[str, int]) -> Failure:
    low = error.lower()
    if "timed out" in low or "timeout" in low:
        return Failure(FailureCause.TIMEOUT)
    if _RESOURCE.search(error):
        return Failure(FailureCause.RESOURCE_LIMIT, error[:120])
    if _SOURCE.search(error):
        return Failure(FailureCause.SOURCE, error[:120])
    if _PYTHON.search(error) or (low.startswith("project install failed") and _PYTHON.search(logs)):
        return Failure(FailureCause.UNSUPPORTED_PYTHON, _python_asked(error + "\n" + logs))
    if low.startswith(("project install failed", "could not prepare /repo")):
        return Failure(FailureCause.INSTALL_FAILED, distribution(error) or distribution(logs))
    if low.startswith("no tests found"):
        return Failure(FailureCause.NO_TESTS)
    if low.startswith("no tests ran"):
        cause = FailureCause.COLLECTION_FAILED if tests.get("collection_errors") else FailureCause.NO_TESTS
        return Failure(cause)
    if _COLLECTION.search(error):
        return Failure(FailureCause.COLLECTION_FAILED, distribution(logs))
    if low.startswith("pass rate"):
        return Failure(FailureCause.BELOW_THRESHOLD, error.split(" below")[0].removeprefix("pass rate ").strip())
    if "abnormally" in low:
        return Failure(FailureCause.RESOURCE_LIMIT if "killed" in low else FailureCause.OTHER, error[:120])
    return Failure(FailureCause.OTHER, error[:120])


def classify(error: str | None, logs: Iterable[str] = (), tests: dict[str, int] | None = None) -> Failure:
    """The cause of a failed build from its error, its step logs' output and its test counts."""
    error = (error or "").strip()
    log_text = "\n".join(logs)
    for cause, pattern in _INFRA:
        if pattern.search(error):
            return Failure(cause, error[:120])
    install_like = error.lower().startswith(("project install failed", "internal error"))
    if install_like:  # pip's own output says whether the network dropped under it
        for cause, pattern in _INFRA:
            if pattern.search(log_text[-20_000:]) and cause is not FailureCause.INFRA_ENGINE:
                return Failure(cause, "during the install")
    if error.lower().startswith("internal error"):
        return Failure(FailureCause.OTHER, error[:120])
    return _repository_cause(error, log_text, tests or {})
