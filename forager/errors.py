"""One root for every error Forager raises on purpose, with subclasses named by meaning.

``ForagerError.transient`` says whether trying again later may succeed (an engine, broker or
network that did not answer): the job runner retries those with backoff and never counts them
against a repository. Everything else is permanent: a result to record, not to retry. Classes that
mean "not found" or "bad input" also mix in the builtin a caller would expect (``LookupError``,
``ValueError``), so generic handlers keep working.
"""

from __future__ import annotations


class ForagerError(Exception):
    """Root of every error Forager raises on purpose."""

    transient: bool = False


class NotFound(ForagerError, LookupError):
    """A named thing (task, build, image, trajectory, job, token) does not exist."""

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError does not
        return str(self.args[0]) if self.args else ""


class InvalidInput(ForagerError, ValueError):
    """A request, option or file that cannot be used as given."""


class EngineError(ForagerError):
    """The container engine failed or did not answer (worth trying again later)."""

    transient = True


class ImageMissing(EngineError):
    """The engine answered: it has no such image (permanent until someone builds or pulls it)."""

    transient = False


class SandboxError(ForagerError):
    """A sandbox cannot be used: its image is missing, its shell will not start, a patch will not apply."""


class TransientError(ForagerError):
    """Anything else worth trying again later."""

    transient = True


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later may succeed: decided by type, never by name or message."""
    if isinstance(exc, ForagerError):
        return exc.transient
    import docker.errors
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, docker.errors.NotFound | docker.errors.ImageNotFound):
        return False
    return isinstance(exc, OperationalError | ConnectionError | TimeoutError | docker.errors.DockerException)
