"""Pick the past commits of the issue-14 evidence: one commit per fetched repository, 1.5-3 years old.

Rule: the window 2023-11-26 .. 2025-05-26 (commit date) is cut into one slot per repository
(repositories in alphabetical order of their mirror, slot i's target = window start + (i + 0.5) *
window / n), so the ages spread evenly over the window. Each repository gets the release tag
(reachable from HEAD, with a digit in its name) whose commit date is nearest its target, if one lies
within ``--tag-slack`` days of it; otherwise the last commit of the default branch's first-parent
line dated at or before the target (a plain main-branch commit), or, when that falls before the
window, the first one after the target. With ``--append``, commits already in the file are not picked
again (the second set: ``--shift 0.5 --tag-slack -1``, main-branch commits of other ages).
Only mirror paths and commit ids are written.

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


def main_line(mirror: str) -> list[tuple[date, str]]:
    """(date, sha) of the default branch's first-parent commits inside the window, oldest first."""
    out = git(mirror, "log", "--first-parent", "--reverse", f"--after={START.isoformat()}T00:00:00",
              f"--before={END.isoformat()}T23:59:59", "--format=%cs %H", "HEAD").split()
    return [(date.fromisoformat(out[i]), out[i + 1]) for i in range(0, len(out), 2)]


def pick(mirror: str, target: date, slack: int, taken: set[str]) -> tuple[str, str, date]:
    near = sorted(tagged(mirror), key=lambda t: (abs((t[0] - target).days), t[2])) if slack >= 0 else []
    near = [t for t in near if t[1] not in taken]
    if near and abs((near[0][0] - target).days) <= slack:
        when, sha, tag = near[0]
        return sha, f"tag {tag}", when
    line = [(d, sha) for d, sha in main_line(mirror) if sha not in taken]
    before = [c for c in line if c[0] <= target]
    when, sha = before[-1] if before else line[0]
    return sha, "main-branch commit", when


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mirrors", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag-slack", type=int, default=60, help="-1: main-branch commits only")
    ap.add_argument("--shift", type=float, default=0.0,
                    help="move every slot's target by this share of the window (wrapping round)")
    ap.add_argument("--append", action="store_true", help="add to --out instead of replacing it")
    args = ap.parse_args()
    mirrors = sorted(args.mirrors, key=str.lower)
    span = (END - START).days
    header = [
        "# Issue 14 evidence: past commits (1.5-3 years old) of fetched repositories, one per repository.",
        "# Made by benchmarks/pick_past_commits.py: the window 2023-11-26..2025-05-26 is cut into one slot per",
        "# repository (alphabetical); each gets the release tag nearest its slot's middle (within 60 days),",
        "# else the last first-parent commit of the default branch before it (the first after it, inside the",
        "# window, when the last before it is older than the window).",
    ]
    kind = "main-branch commits only" if args.tag_slack < 0 else f"tags within {args.tag_slack} days"
    old = Path(args.out).read_text() if args.append else ""
    number = 2 + sum(line.startswith("# Set ") for line in old.splitlines())
    lines = [f"# Set {number}: slots shifted by {args.shift:g} of the window, {kind}."] if args.append else header
    taken = {line.rpartition("@")[2] for line in old.splitlines() if "@" in line and not line.startswith("#")}
    for i, mirror in enumerate(mirrors):
        offset = ((i + 0.5) / len(mirrors) + args.shift) % 1.0
        target = START + timedelta(days=round(offset * span))
        sha, how, when = pick(mirror, target, args.tag_slack, taken)
        lines.append(f"# {when} {how}")
        lines.append(f"{mirror}@{sha}")
    Path(args.out).write_text(old + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
