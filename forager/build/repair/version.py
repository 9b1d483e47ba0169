"""VCS-versioned builds (setuptools-scm, hatch-vcs) in a checkout without tags: a version to pretend."""

from __future__ import annotations

import re

from forager.runtime import Sandbox

PRETEND_VERSION = "SETUPTOOLS_SCM_PRETEND_VERSION"


def needs_pretend_version(output: str) -> bool:
    """Whether an install failed because the build backend could not find a version."""
    return bool(re.search(r"setuptools[-_]scm was unable to detect version|unable to detect version|"
                          r"LookupError: .*version|hatch-vcs|vcs_versioning", output, re.I))


def pretend_version_env(box: Sandbox) -> dict[str, str]:
    """The sdist's version (PKG-INFO) when there is one, else 0.0.0."""
    res = box.exec("sed -n 's/^Version: //p' /repo/PKG-INFO 2>/dev/null | head -1", 30)
    return {PRETEND_VERSION: res.output.strip() or "0.0.0"}
