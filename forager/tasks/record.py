"""A judged candidate as the columns of a task row, with the metadata training needs: lines and
files changed, FAIL_TO_PASS count, the changed function's call depth from the tests, family, the
behavioural key, how each part of the guarantee was established, and the repository's
contamination flag (``forager.contamination``)."""

from __future__ import annotations

from typing import Any

from forager.contamination import evaluation_sets
from forager.enums import TaskKind
from forager.model import Model
from forager.tasks.behaviour import behaviour_key, patch_stats
from forager.tasks.candidates import Candidate
from forager.tasks.evaluate import Judged
from forager.tasks.statements import model_statement, template_statement

ESTABLISHED_FAST = {
    "fail_to_pass_fail_in_task_state": "run: the covering tests (or every passing test, where cheaper) "
                                       "with the setup patch applied, against a control run of the "
                                       "same tests on the image",
    "gold_patch_restores_image": "check: git apply of the gold patch, then git diff --quiet HEAD",
    "pass_after_gold": "baseline: the gold state is the validated image, whose passing tests are known",
}
ESTABLISHED_WHOLE = {
    **ESTABLISHED_FAST,
    "fail_to_pass_fail_in_task_state": "run: the whole suite in a fresh pytest process with the setup "
                                       "patch applied (module-level code calls the changed function "
                                       "or the change is outside a function body), against a control "
                                       "run of the same tests",
}
ESTABLISHED_RUN = {
    "fail_to_pass_fail_in_task_state": "run: the tests the commit touches, in the task state, and again "
                                       "with the gold patch applied (fail before, pass after)",
    "pass_after_gold": "run: with the gold patch applied, the tests of the files the commit touches and "
                       "the image's passing tests that call a file the gold patch changes (the call "
                       "map); PASS_TO_PASS are those that pass",
}
ESTABLISHED_RUN_WHOLE = {
    **ESTABLISHED_RUN,
    "pass_after_gold": "run: the whole suite with the gold patch applied (no call map)",
}


def contamination(source: str | None) -> dict[str, Any]:
    sets = evaluation_sets(source or "")
    return {"contaminated": bool(sets), "evaluation_sets": sets}


def _established(cand: Candidate, judged: Judged) -> dict[str, str]:
    if cand.kind == TaskKind.FROM_HISTORY:
        return ESTABLISHED_RUN_WHOLE if judged.whole_suite else ESTABLISHED_RUN
    whole = len(cand.relevant_tests or []) >= len(judged.fail_to_pass) + len(judged.pass_to_pass)
    return ESTABLISHED_WHOLE if cand.swap is None and whole else ESTABLISHED_FAST


def task_fields(cand: Candidate, judged: Judged, fp: str, head: str, writer: Model | None,
                source: str | None) -> dict[str, Any]:
    """The columns of the task row (``meta`` carries the metadata)."""
    template = template_statement(cand, judged.fail_to_pass, judged.messages)
    statement = model_statement(cand, judged.fail_to_pass, template, writer) if writer else None
    lines, files = patch_stats(cand.setup_patch if cand.kind != TaskKind.FROM_HISTORY else cand.gold_patch)
    meta: dict[str, Any] = {
        "description": cand.description, "path": cand.path, "function": cand.function,
        "commit": cand.commit, "parent": cand.parent, "base_commit": head,
        "statement_source": "model" if statement else "template",
        "lines_changed": lines, "files_changed": files, "fail_to_pass_count": len(judged.fail_to_pass),
        "call_depth": cand.depth, "family": cand.family,
        "behaviour": behaviour_key(cand.path, cand.function, judged.fail_to_pass, judged.messages),
        "established": _established(cand, judged),
        **contamination(source),
    }
    if cand.parts:
        meta["parts"] = cand.parts
    return {
        "kind": cand.kind, "family": cand.family, "setup_patch": cand.setup_patch,
        "gold_patch": cand.gold_patch, "test_patch": cand.test_patch, "fail_to_pass": judged.fail_to_pass,
        "pass_to_pass": judged.pass_to_pass, "problem_statement": statement or template,
        "fingerprint": fp, "meta": meta,
    }
