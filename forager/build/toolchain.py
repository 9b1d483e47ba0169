"""Compiled extensions: a build-toolchain layer (Debian's gcc, g++, make and the Python headers)
that only projects needing it pay for, the project's own pure-Python switch as a fallback, and
the command-line tools a suite calls (``less``, ``cpp``) added when a failure names them."""

from __future__ import annotations

import re
from pathlib import Path

from forager.runtime import ExecResult, Sandbox

APT = ("export DEBIAN_FRONTEND=noninteractive; apt-get -q -o APT::Sandbox::User=root update >/dev/null && "
       "apt-get -q -o APT::Sandbox::User=root install -y --no-install-recommends {packages} "
       "&& rm -rf /var/lib/apt/lists/*")
HEADERS = ("python -c \"import os, sysconfig; raise SystemExit("
           "not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))\"")
TOOLCHAIN = "gcc g++ make"
NEEDS_COMPILER = re.compile(r"x86_64-linux-gnu-gcc|command '(\S*gcc|\S*g\+\+|cc|c\+\+)' failed|"
                            r"Python\.h: No such file|error: Microsoft Visual C\+\+|unable to execute '\S*gcc'|"
                            r"No such file or directory: '\S*gcc'|compiler not found|C compiler cannot create|"
                            r"Unknown compiler\(s\)|gcc: not found|cc: not found")
EXT_MARKERS = re.compile(r"\bext_modules\b|\bExtension\(|\bcythonize\(|\bbuild_ext\b")
BUILD_REQUIRES = re.compile(r"^(cython|cffi|pybind11|numpy|scikit-build|cmake|meson)", re.I)
SWITCH = re.compile(r"(?:environ\.get|getenv|environ\[)\s*\(?\s*['\"](\w*(?:NO_?EXT|PURE|NO_?CYTHON|WITHOUT_?C"
                    r"|DISABLE_?EXT|NO_?SPEEDUPS|NO_?CEXT)\w*)['\"]", re.I)
TOOL_PACKAGES = {"less": "less", "cpp": "cpp", "make": "make", "gcc": "gcc", "cc": "gcc", "patch": "patch",
                 "file": "file", "unzip": "unzip", "zip": "zip", "xz": "xz-utils", "bzip2": "bzip2",
                 "git": "git", "hg": "mercurial", "svn": "subversion", "diff": "diffutils", "gpg": "gnupg",
                 "openssl": "openssl", "curl": "curl", "wget": "wget", "sqlite3": "sqlite3", "man": "man-db",
                 "more": "util-linux", "vim": "vim-tiny", "nano": "nano", "bc": "bc", "tree": "tree",
                 "graphviz": "graphviz", "dot": "graphviz", "pandoc": "pandoc", "latex": "texlive-latex-base",
                 "pkg-config": "pkg-config", "tmux": "tmux", "zsh": "zsh", "fish": "fish", "expect": "expect"}
MISSING_TOOL = re.compile(r"No such file or directory: '(\S+?)'|(\S+): (?:command )?not found|"
                          r"which\('(\S+)'\) (?:is|returned) None|shutil\.which\(['\"](\S+)['\"]\)")


def _setuptools_builds(root: Path) -> bool:
    """Whether setup.py is what builds the project: no build backend declared, or setuptools'
    (tomli's setup.py builds mypyc extensions on request, but flit_core builds the project and
    never runs it: a toolchain layer there cost a minute and 450 MB)."""
    from forager.build.detect.project_files import read_toml

    backend = str(read_toml(root / "pyproject.toml").get("build-system", {}).get("build-backend", ""))
    return not backend or backend.startswith("setuptools")


def needs_toolchain(root: Path) -> str | None:
    """Why the project needs a compiler to install (read statically), or None."""
    setup_py = root / "setup.py"
    if (setup_py.is_file() and _setuptools_builds(root)
            and EXT_MARKERS.search(setup_py.read_text(errors="replace"))):
        return "setup.py builds extension modules"
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        m = re.search(r"requires\s*=\s*\[([^\]]*)\]", pyproject.read_text(errors="replace"))
        if m and any(BUILD_REQUIRES.match(r.strip(" '\"\n")) for r in m.group(1).split(",")):
            return "the build backend requires a compiled-extension tool"
    if next(iter(root.glob("*/**/*.pyx")), None) or next(iter(root.glob("*.pyx")), None):
        return "Cython sources (*.pyx)"
    return None


def pure_python_switch(root: Path) -> str | None:
    """The environment variable the project's setup.py reads to skip its extensions, if any."""
    setup_py = root / "setup.py"
    if not setup_py.is_file():
        return None
    m = SWITCH.search(setup_py.read_text(errors="replace"))
    return m.group(1) if m else None


def install_toolchain(box: Sandbox, timeout: float) -> ExecResult:
    """gcc, g++, make and (when the interpreter has none) Debian's Python headers, in ``box``."""
    cmd = f"{APT.format(packages=TOOLCHAIN)} && ({HEADERS} || {APT.format(packages='python3-dev')})"
    return box.exec(cmd, timeout)


def install_tools(box: Sandbox, packages: list[str], timeout: float) -> ExecResult:
    return box.exec(APT.format(packages=" ".join(packages)), timeout)


def missing_tools(text: str) -> list[str]:
    """Debian packages for the command-line tools a failure says are missing."""
    names = {n for groups in MISSING_TOOL.findall(text) for n in groups if n}
    return sorted({TOOL_PACKAGES[Path(n).name] for n in names if Path(n).name in TOOL_PACKAGES})
