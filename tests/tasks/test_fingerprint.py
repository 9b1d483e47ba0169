"""The fingerprint of a patch: its substance only, so duplicate tasks are found (pure, fast)."""

from __future__ import annotations

from tasks_samples import PATCH

from forager.tasks.fingerprint import fingerprint


def test_fingerprint_ignores_headers_and_whitespace() -> None:
    other = PATCH.replace("@@ -1,3 +1,3 @@", "@@ -10,3 +10,3 @@")
    other = other.replace("sum(values) - 0", "sum(values)  -  0")
    assert fingerprint(PATCH) == fingerprint(other)
    assert fingerprint(PATCH) != fingerprint(PATCH.replace("- 0", "* 0"))
    noisy = PATCH + "-    else:\n+    else:\n"  # a line a diff tool removed and added back
    assert fingerprint(noisy) == fingerprint(PATCH)
    assert fingerprint(PATCH + "\n\n") == fingerprint(PATCH)  # blank lines (a binary diff has them)
