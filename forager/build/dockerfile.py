"""A Dockerfile that rebuilds a validated image without Forager, from its recorded recipe: the
same Python, dependencies, requirement files, project install, repairs, environment and test
command (``forager images dockerfile IMAGE``)."""

from __future__ import annotations

import json
import shlex
from typing import Any

PIP = "python -m pip install --no-input"
PTH_LINE = ("RUN d=/repo; [ -d /repo/src ] && d=/repo/src; "
            "echo \"import sys; sys.path.insert(0, '$d')\" > "
            "$(python -c 'import site; print(site.getsitepackages()[0])')/00-source.pth")
"""A non-editable install: the source tree first on sys.path, as the builder does it."""


def _source_lines(source: str, commit: str | None) -> list[str]:
    if source.startswith(("http://", "https://", "git@", "ssh://", "git://")) and commit:
        return [f"RUN git clone {shlex.quote(source)} /repo && git -C /repo checkout --detach {commit} && "
                "(git -C /repo submodule update --init --recursive || true)"]
    where = f"the sdist {source}" if source.startswith("pypi:") else source
    return [f"# the source tree ({where} @ {commit or '?'}) is the build context: docker build -f Dockerfile <tree>",
            "COPY . /repo"]


def _apt(recipe: dict[str, Any]) -> list[str]:
    """Debian packages: git, the toolchain when the build needed one, tools the tests call."""
    packages = ["git"] + (["gcc", "g++", "make"] if recipe.get("toolchain") else [])
    return packages + [str(r["value"]) for r in recipe.get("repairs", []) if r.get("fix") == "apt" and r.get("ok")]


def _install_lines(recipe: dict[str, Any]) -> list[str]:
    lines = []
    if pins := recipe.get("constraints"):  # the lock's pins (PIP_CONSTRAINT points there)
        lines.append("RUN mkdir -p /opt/forager && printf '%s\\n' "
                     f"{' '.join(shlex.quote(p) for p in pins)} > /opt/forager/constraints.txt")
    deps = [*recipe.get("deps", []), "pytest-timeout"]
    lines.append(f"RUN {PIP} {' '.join(shlex.quote(d) for d in deps)}")
    lines += [f"RUN {PIP} -r {shlex.quote(f)}" for f in recipe.get("requirement_files", [])]
    extras = recipe.get("extras") or []
    spec = f".[{','.join(extras)}]" if extras else "."
    editable = recipe.get("install_mode", "editable") == "editable"
    if any(r.get("fix") == "license-file" for r in recipe.get("repairs", [])):  # the builder's stand-in
        lines.append("RUN [ -e LICENSE ] || echo 'SPDX-License-Identifier: see pyproject.toml' > LICENSE")
    lines.append(f"RUN {PIP} {'-e ' if editable else ''}{shlex.quote(spec)}")
    if not editable:
        lines.append(PTH_LINE)
    for r in recipe.get("repairs", []):
        if r.get("fix") == "install" and r.get("ok") and r.get("value"):
            lines.append(f"RUN {PIP} {shlex.quote(r['value'])}  # repair: {str(r.get('why', ''))[:80]}")
    return lines


def dockerfile(image: dict[str, Any]) -> str:
    """The Dockerfile text of a catalogue row (``show_image``)."""
    recipe = image.get("recipe") or {}
    python = recipe.get("python") or image.get("python") or "3.11"
    env = recipe.get("env") or {}
    lines = [f"# Rebuilds {image['id']} (build {image.get('build_id', '?')}) without Forager.",
             f"# Validation: {json.dumps(image.get('tests') or {})}",
             f"FROM python:{python}-slim",
             f"RUN apt-get update && apt-get install -y --no-install-recommends {' '.join(_apt(recipe))}"
             " && rm -rf /var/lib/apt/lists/*",
             "RUN python -m venv /opt/venv",
             "ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv PYTHONDONTWRITEBYTECODE=1",
             *_source_lines(image.get("source", ""), image.get("commit")),
             "WORKDIR /repo"]
    if env:
        lines.append("ENV " + " ".join(f"{k}={json.dumps(str(v))}" for k, v in sorted(env.items())))
    lines += _install_lines(recipe)
    command = image.get("test_command") or "python -m pytest"
    lines.append(f"CMD {json.dumps(['bash', '-c', command])}")
    return "\n".join(lines) + "\n"
