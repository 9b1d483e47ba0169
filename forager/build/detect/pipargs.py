"""Reading ``pip install`` / ``uv pip install`` command lines of CI scripts and requirement files.

Only what names a distribution is read as one: option values (``--group typecheck``,
``--index-url URL``), GitHub expressions (``${{ matrix.extras }}``, ``${{ github.ref_name }}``) and
shell variables are never sent to an index. ``-e .[a,b]`` / ``.[a,b]`` name the project's extras.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from forager.build.detect.requirements import clean_requirement

EXPRESSION = re.compile(r"\$\{\{.*?\}\}|\$\{[^}]*\}|\$\w+|%\w+%")
"""GitHub expressions and shell/cmd variables: their values are unknown statically."""
UNKNOWN = "\x00"
UV_SYNC = re.compile(r"\buv sync\b([^\n&|;#]*)")
INSTALL = re.compile(r"(?:\bpip3?(?:\.\d+)?|\buv pip|\bpython3?(?:\.\d+)? -m pip|\bpy -m pip)\s+install\s+"
                     r"([^\n&|;#]+)")
VALUE_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "--index", "--default-index", "-f", "--find-links",
    "--group", "--extra", "--python", "-p", "--target", "-t", "--prefix", "--root", "--upgrade-strategy",
    "-C", "--config-settings", "--config-setting", "--only-binary", "--no-binary", "--platform",
    "--python-version", "--implementation", "--abi", "--src", "--trusted-host", "--cache-dir", "--log",
    "--report", "--progress-bar", "--exclude-newer", "--resolution", "--prerelease", "--index-strategy",
    "--keyring-provider", "--python-platform", "--uploaded-prior-to", "--global-option", "--install-option",
    "--root-user-action", "--override", "--build-constraint", "-e", "--editable", "-r", "--requirement",
    "-c", "--constraint"})
"""Options followed by a value (which is never a requirement)."""
EXTRAS_ONLY = re.compile(r"^\.?/?\[([^\]]+)\]$")
EDITABLE_SELF = re.compile(r"^(?:-e\s+|--editable[\s=]+)?(?:\./?|file:\.?/?)?\[([^\]]+)\]\s*(?:#.*)?$")
"""A requirement-file line that installs the project itself with extras: ``-e .[a,b]``, ``.[a]``."""


@dataclass
class PipArgs:
    reqs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    """PEP 735 dependency groups named with ``--group``."""


def _tokens(args: str) -> list[str]:
    return [t.strip("'\"") for t in args.split()]


def _extras(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip() and UNKNOWN not in e]


def _value(out: PipArgs, opt: str, value: str, root: Path) -> None:
    """What an option's value names: a requirement file, the project's extras, a group."""
    if UNKNOWN in value:
        return
    if opt in ("-r", "--requirement") and (root / value).is_file():
        out.files.append(value)
    elif opt in ("-e", "--editable") and (m := re.match(r"^\.?/?\[([^\]]+)\]$", value.removeprefix("."))):
        out.extras.extend(_extras(m.group(1)))
    elif opt == "--group":
        out.groups.append(value)


def _install_args(args: str, root: Path, python: str, out: PipArgs) -> None:
    tokens = _tokens(args)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        opt, eq, inline = tok.partition("=")
        if opt in VALUE_OPTIONS:
            value = inline if eq else (tokens[i + 1] if i + 1 < len(tokens) else "")
            _value(out, opt, value, root)
            i += 1 if eq else 2
            continue
        if em := EXTRAS_ONLY.match(tok):
            out.extras.extend(_extras(em.group(1)))
        elif not tok.startswith("-") and UNKNOWN not in tok and (req := clean_requirement(tok, python)):
            out.reqs.append(req)
        i += 1


def pip_install_args(script: str, root: Path, python: str) -> PipArgs:
    """Requirements, requirement files, extras and groups named by the ``pip install`` lines of a
    script (continuation lines joined, expressions and variables made unknown)."""
    text = EXPRESSION.sub(UNKNOWN, script.replace("\\\n", " "))
    out = PipArgs()
    for m in INSTALL.finditer(text):
        _install_args(m.group(1), root, python, out)
    for m in UV_SYNC.finditer(text):  # uv's project install: its extras and groups
        tokens = _tokens(m.group(1))
        for opt, value in zip(tokens, [*tokens[1:], ""][:len(tokens)], strict=True):  # a bare `uv sync` too
            if opt in ("--extra", "--group") and value and UNKNOWN not in value:
                (out.extras if opt == "--extra" else out.groups).append(value)
    return out


def self_extras(path: Path) -> list[str]:
    """The project's extras that a requirement file installs it with (``-e .[a,b]`` lines)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [e for line in lines if (m := EDITABLE_SELF.match(line.strip())) for e in _extras(m.group(1))]
