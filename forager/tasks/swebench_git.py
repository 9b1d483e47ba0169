"""The git side of SWE-bench rows, inside a container of a task's image (/repo): the commit that
holds a task's ``base_commit`` state, and the task state from a row.

A Forager task is the image's /repo HEAD (``environment_setup_commit``) plus a setup patch; its
SWE-bench ``base_commit`` is the commit whose tree is that state *without* the test patch (the
harness applies ``test_patch`` itself). When a real commit of the history has that tree (a
from-history task's parent) it is that commit; otherwise it is the *state commit*: made with
``git commit-tree`` on top of the HEAD with a fixed author, committer, dates and message, so
anyone holding the image and the setup patch makes the same id again (``state_commit``).
"""

from __future__ import annotations

import shlex

from forager.runtime import ExecResult, Sandbox

REPO = "/repo"
STATE_MESSAGE = "Forager task state"
STATE_ENV = {
    "GIT_AUTHOR_NAME": "Forager", "GIT_AUTHOR_EMAIL": "tasks@forager.invalid",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00+0000", "GIT_COMMITTER_NAME": "Forager",
    "GIT_COMMITTER_EMAIL": "tasks@forager.invalid", "GIT_COMMITTER_DATE": "1970-01-01T00:00:00+0000",
}
"""Who and when a state commit says: fixed, so its id depends on the tree and the HEAD alone."""
PATCH_FILE = "/tmp/forager-swebench.patch"


def git(box: Sandbox, command: str, timeout: float = 120, env: dict[str, str] | None = None) -> ExecResult:
    return box.exec(command, timeout, workdir=REPO, env=env)


def _last_line(res: ExecResult) -> str:
    lines = res.output.strip().splitlines()
    return lines[-1].strip() if res.ok and lines else ""


def alive(box: Sandbox) -> bool:
    """Whether the container still answers."""
    try:
        return box.exec("true", 30).ok
    except Exception:  # noqa: BLE001 - a container the engine lost answers with an API error
        return False


def head(box: Sandbox) -> str:
    return _last_line(git(box, "git rev-parse HEAD", 60))


def describe(box: Sandbox) -> str:
    """The nearest tag (or the abbreviated HEAD) of /repo: the row's ``version``."""
    return _last_line(git(box, "git describe --tags --always", 60))


def resolve(box: Sandbox, ref: str) -> str:
    """The full id of commit ``ref`` in /repo, or "" when there is none."""
    return _last_line(git(box, f"git rev-parse --verify -q {shlex.quote(ref + '^{commit}')}", 60))


def tree_of(box: Sandbox, commit: str) -> str:
    return _last_line(git(box, f"git rev-parse --verify -q {shlex.quote(commit + '^{tree}')}", 60))


def checkout(box: Sandbox, commit: str) -> str | None:
    """/repo at ``commit``, every change and untracked file gone; the error, if any."""
    res = git(box, f"git checkout -q -f --detach {shlex.quote(commit)} && git clean -fdq", 120)
    return None if res.ok else (res.output.strip()[-300:] or "git checkout failed")


def apply(box: Sandbox, patch: str, *, reverse: bool = False) -> str | None:
    """``git apply --index`` (``-R`` when ``reverse``); the error text when it does not apply."""
    if not patch.strip():
        return None
    box.put_files({PATCH_FILE: patch.encode()})
    flag = "-R " if reverse else ""
    res = git(box, f"git apply --index {flag}--whitespace=nowarn {PATCH_FILE}", 120)
    return None if res.ok else (res.output.strip()[-500:] or f"git apply exited {res.exit_code}")


def state_commit(box: Sandbox, base: str, setup_patch: str, test_patch: str) -> tuple[str, str] | str:
    """(tree, state commit) of ``base`` with ``setup_patch`` applied and ``test_patch`` taken back
    out; or why that cannot be made. /repo is left at the state commit."""
    err = checkout(box, base)
    if err:
        return f"cannot check out {base}: {err}"
    err = apply(box, setup_patch)
    if err:
        return f"setup_patch does not apply to {base[:12]}: {err}"
    err = apply(box, test_patch, reverse=True)
    if err:
        return f"test_patch is not part of the task state: {err}"
    tree = _last_line(git(box, "git write-tree", 120))
    if not tree:
        return "git write-tree failed"
    commit = _last_line(git(box, f"git commit-tree {tree} -p {base} -m {shlex.quote(STATE_MESSAGE)}",
                            60, env=STATE_ENV))
    if not commit:
        return "git commit-tree failed"
    git(box, f"git checkout -q -f --detach {commit}", 120)
    return tree, commit


def base_commit(box: Sandbox, head_commit: str, setup_patch: str, test_patch: str,
                real: str | None) -> str:
    """The ``base_commit`` of a task: the HEAD or ``real`` (a commit of the history, e.g. a
    from-history task's parent) when its tree is the task state without the test patch, else the
    state commit. Raises ValueError with the reason when the patches do not make a state."""
    made = state_commit(box, head_commit, setup_patch, test_patch)
    if isinstance(made, str):
        raise ValueError(made)
    tree, commit = made
    for candidate in (head_commit, real):
        if candidate and tree_of(box, candidate) == tree:
            return resolve(box, candidate)
    return commit
