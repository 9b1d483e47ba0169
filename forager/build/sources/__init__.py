"""Getting a repository's code onto this machine: a git URL (pinned to a commit), a local
directory, or a PyPI sdist (``pypi:NAME[==VERSION]``), each within the source limits.

``resolve`` picks the kind; ``gitclone``, ``local`` and ``pypi`` fetch; ``sdist`` unpacks safely;
``base`` holds the ``Source`` record and ``SourceError``.
"""

from forager.build.sources.base import Source, SourceError
from forager.build.sources.resolve import resolve

__all__ = ["Source", "SourceError", "resolve"]
