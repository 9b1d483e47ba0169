"""Unified patches: they apply with git both ways, and long files show only the change."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mutation_samples import SNIPPET

from forager.tasks.mutations import mutate_source, unified_patch


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_patches_apply_with_git(tmp_path: Path, trailing_newline: bool) -> None:
    src = SNIPPET if trailing_newline else SNIPPET.rstrip("\n")
    (tmp_path / "pkg").mkdir()
    target = tmp_path / "pkg" / "mod.py"
    target.write_text(src)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for m in mutate_source(src)[:40]:
        patch = unified_patch("pkg/mod.py", src, m.source)
        (tmp_path / "p.diff").write_text(patch)
        subprocess.run(["git", "apply", "p.diff"], cwd=tmp_path, check=True)
        assert target.read_text() == m.source
        subprocess.run(["git", "apply", "-R", "p.diff"], cwd=tmp_path, check=True)
        assert target.read_text() == src
    assert unified_patch("pkg/mod.py", src, src) == ""


def test_patch_of_a_long_file_shows_only_the_changed_line() -> None:
    block = "def f{i}(x):\n    if x:\n        return {i}\n    else:\n        return -x\n\n\n"
    src = "".join(block.format(i=i) for i in range(120))
    mutated = src.replace("        return 60\n", "        return 61\n")
    patch = unified_patch("m.py", src, mutated)
    changed = [ln for ln in patch.splitlines()[3:] if ln[:1] in "+-"]
    assert changed == ["-        return 60", "+        return 61"]


def test_unified_patch_of_a_long_file_matches_only_the_change() -> None:
    """The matcher sees only the changed middle (it is quadratic on whole long files); the hunk is
    the one a whole-file diff gives: three lines of context, the right line numbers."""
    from forager.tasks.mutations import unified_patch

    old = "".join(f"x = {i}\n" for i in range(20000))
    new = old.replace("x = 12345\n", "x = -1\n")
    patch = unified_patch("big.py", old, new)
    assert patch.splitlines()[3:] == ["@@ -12343,7 +12343,7 @@", " x = 12342", " x = 12343", " x = 12344",
                                      "-x = 12345", "+x = -1", " x = 12346", " x = 12347", " x = 12348"]
