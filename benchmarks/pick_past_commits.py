"""Pick the past commits of the issue-14 evidence: one commit per fetched repository, 1.5-3 years old.

Rule: the window 2023-11-26 .. 2025-05-26 (commit date) is cut into one slot per repository
(repositories in alphabetical order of their mirror, slot i's target = window start + (i + 0.5) *
window / n), so the ages spread evenly over the window. Each repository gets the release tag
(reachable from HEAD, with a digit in its name) whose commit date is nearest its target, if one lies
within ``--tag-slack`` days of it; otherwise the last commit of the default branch's first-parent
line dated at or before the target (a plain main-branch commit), or, when that falls before the
window, the first one after the target. Only mirror paths and commit ids are
written.

    .venv/bin/python benchmarks/pick_past_commits.py --out benchmarks/past-commits.txt \\
        /work/.mirror/PyCQA+isort/repo /work/.mirror/Suor+funcy/repo ...
"""

from __future__ import annotations

import argparse
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

START, END = date(2023, 11, 26), date(2025, 5, 26)


def git(mirror: str, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={mirror}", *args], check=True, capture_output=True,
                          text=True).stdout


def tagged(mirror: str) -> list[tuple[date, str, str]]:
    out = []
    for line in git(mirror, "tag", "--merged", "HEAD").splitlines():
        if not re.search(r"\d", line):
            continue
        sha, day = git(mirror, "log", "-1", "--format=%H %cs", f"{line}^{{commit}}").split()
        when = date.fromisoformat(day)
        if START <= when <= END:
            out.append((when, sha, line))
    return out


def pick(mirror: str, target: date, slack: int) -> tuple[str, str, date]:
    near = sorted(tagged(mirror), key=lambda t: (abs((t[0] - target).days), t[2]))
    if near and abs((near[0][0] - target).days) <= slack:
        when, sha, tag = near[0]
        return sha, f"tag {tag}", when
    line = git(mirror, "log", "-1", "--first-parent", f"--before={target.isoformat()}T23:59:59",
               "--format=%H %cs", "HEAD").split()
    if not line or date.fromisoformat(line[1]) < START:
        after = git(mirror, "log", "--first-parent", "--reverse", f"--after={target.isoformat()}",
                    f"--before={END.isoformat()}T23:59:59", "--format=%H %cs", "HEAD").split()
        line = after[:2] or line
    return line[0], "main-branch commit", date.fromisoformat(line[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mirrors", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag-slack", type=int, default=60)
    args = ap.parse_args()
    mirrors = sorted(args.mirrors, key=str.lower)
    span = (END - START).days
    lines = [
        "# Issue 14 evidence: past commits (1.5-3 years old) of fetched repositories, one per repository.",
        "# Made by benchmarks/pick_past_commits.py: the window 2023-11-26..2025-05-26 is cut into one slot per",
        "# repository (alphabetical); each gets the release tag nearest its slot's middle (within 60 days),",
        "# else the last first-parent commit of the default branch before it (the first after it, inside the",
        "# window, when the last before it is older than the window).",
    ]
    for i, mirror in enumerate(mirrors):
        target = START + timedelta(days=round((i + 0.5) * span / len(mirrors)))
        sha, how, when = pick(mirror, target, args.tag_slack)
        lines.append(f"# {when} {how}")
        lines.append(f"{mirror}@{sha}")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
