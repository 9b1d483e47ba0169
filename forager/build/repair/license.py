"""Build backends that fetch the license text from the network at build time (``coherent.licensed``,
used by jaraco's project skeleton, reads it from GitHub when the tree has no LICENSE file): on a
farm whose build containers reach only the package index, a LICENSE file naming the project's
SPDX expression stands in, so the build never needs the network beyond the index."""

from __future__ import annotations

import re
from pathlib import Path

from forager.build.detect.project_files import read_toml

FETCHES_LICENSE = re.compile(r"site-packages/coherent/licensed/")


def needs_license_file(output: str, root: Path) -> bool:
    """Whether an install failed in a backend that fetches the license, and the tree has none."""
    return FETCHES_LICENSE.search(output) is not None and not (root / "LICENSE").exists()


def license_placeholder(root: Path) -> str:
    """The text of the stand-in LICENSE: the project's license expression."""
    license_ = read_toml(root / "pyproject.toml").get("project", {}).get("license")
    expression = license_ if isinstance(license_, str) else "UNKNOWN"
    return f"SPDX-License-Identifier: {expression}\n(written by Forager: the build backend fetches this text online)\n"
