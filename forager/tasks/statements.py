"""Problem statements: a template built from the failing tests' names and errors (lines quoting the
patch dropped), or an issue-style text written by the configured model (rejected if it quotes the
patch). The model is reached through the shared model client, with its retries."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from forager.config import get_settings
from forager.enums import TaskKind
from forager.model import Model, ModelConfig, ModelError, get_model
from forager.tasks.candidates import Candidate
from forager.tasks.fingerprint import changed_lines

if TYPE_CHECKING:
    from forager.config import Settings

STATEMENT_RETRIES = 2
"""At most this many retries per statement (fewer when ``FORAGER_MODEL_RETRIES`` says so): the
template stands in when the model fails, so a dead endpoint costs seconds per task, not minutes."""
STATEMENT_BACKOFF_S = 0.5
STATEMENT_TIMEOUT_S = 120.0
"""At most this long per request (less when ``FORAGER_MODEL_TIMEOUT_S`` says so)."""
PROMPT = (
    "Write a short GitHub issue (3-8 sentences) reporting the bug described below, as a user who "
    "noticed the symptoms would. Describe the wrong behaviour and the expected one. Do NOT mention "
    "the fix, the diff, file line numbers, or which code was changed.\n\n"
    "{template}\n\nFor your eyes only (never quote it), the change that caused it:\n{patch}")


def _leaks(cand: Candidate, min_len: int) -> list[str]:
    """Changed lines of the candidate's patches long enough to count as quoting them."""
    return [ln for ln in changed_lines(cand.setup_patch) + changed_lines(cand.gold_patch) if len(ln) >= min_len]


def _error_lines(message: str, leaks: list[str], limit: int = 3) -> list[str]:
    lines = [ln[1:].strip() for ln in message.splitlines() if ln.startswith("E ")]
    if not lines:
        lines = [ln.strip() for ln in message.splitlines() if ln.strip()][-1:]
    safe = [ln for ln in lines if ln and not any(leak in ln for leak in leaks)]
    return [ln[:300] for ln in safe[:limit]]


def _headline(cand: Candidate, n: int) -> str:
    if cand.kind == TaskKind.IMPLEMENT_FEATURE:
        return (f"The function `{cand.function}` in `{cand.path}` is not implemented yet: it raises "
                "NotImplementedError. Implement it so that it behaves as the tests below expect.")
    if cand.kind == TaskKind.FROM_HISTORY:
        return ("The test suite has been updated for a change that the code does not have yet"
                + (f" ({cand.subject.strip()})" if cand.subject.strip() else "")
                + f". {n} test{'s' if n != 1 else ''} fail.")
    return (f"Something in this repository is broken: {n} test{'s' if n != 1 else ''} that used to pass "
            f"now fail{'s' if n == 1 else ''}.")


QUOTED_ERRORS = 5
"""Failing tests (the first in node-id order) whose errors a statement quotes (their ``E`` lines)."""


def template_statement(cand: Candidate, fail_to_pass: list[str], messages: dict[str, str]) -> str:
    """The failing tests (the first 20) with the errors of the first five, no line quoting the patch."""
    leaks = _leaks(cand, 6)
    n = len(fail_to_pass)
    parts = [_headline(cand, n), "", "Failing tests:"]
    for i, test in enumerate(fail_to_pass[:20]):
        parts.append(f"- {test}")
        if i < QUOTED_ERRORS:
            parts += [f"    {ln}" for ln in _error_lines(messages.get(test, ""), leaks)]
    if n > 20:
        parts.append(f"- ... and {n - 20} more")
    parts += ["", "Change the source code, not the tests, so that these tests pass and the other tests "
              "keep passing."]
    return "\n".join(parts)


def statement_model(settings: Settings) -> Model | None:
    """The model that writes statements: ``FORAGER_MODEL_URL`` with the server's key, or None."""
    if not settings.model_url:
        return None
    limits = ModelConfig.from_settings(settings)
    limits = replace(limits, timeout_s=min(limits.timeout_s, STATEMENT_TIMEOUT_S),
                     retries=min(limits.retries, STATEMENT_RETRIES))
    return get_model("openai", url=settings.model_url, model=settings.model_name or "default",
                     api_key=settings.model_api_key, temperature=0.2, backoff_s=STATEMENT_BACKOFF_S,
                     config=limits)


def model_statement(cand: Candidate, fail_to_pass: list[str], template: str,
                    model: Model | None = None) -> str | None:
    """An issue-style statement written by ``model`` (default: the configured one); None when there
    is none, it fails, or its text quotes the patch."""
    own = model is None
    model = model or statement_model(get_settings())
    if model is None:
        return None
    prompt = PROMPT.format(template=template, patch=cand.setup_patch[:4000])
    try:
        text = model.complete([{"role": "user", "content": prompt}]).content.strip()
    except ModelError:
        return None
    finally:
        if own:
            model.close()
    if not text or any(leak in text for leak in _leaks(cand, 8)) or "diff --git" in text:
        return None
    return text
