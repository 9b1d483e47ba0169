"""Images across workers: a built image is pushed to the configured registry (``FORAGER_REGISTRY``)
and the digest the registry gave it is recorded (``store.campaigns.record_push``); a worker that
needs one makes it present: already there, else pulled by that digest (``repo@sha256:…``, so the
bytes are the ones validated), else rebuilt from the recipe recorded with it."""

from __future__ import annotations

import logging

from forager.config import get_settings
from forager.enums import BuildStatus
from forager.errors import ForagerError, NotFound
from forager.runtime.registry import get_runtime
from forager.store.build_records import get_image
from forager.store.campaigns import get_push, record_push

log = logging.getLogger("forager.jobs")


class RebuildFailed(ForagerError):
    """An image missing on this worker could not be rebuilt from its recorded recipe."""


def registry_tag(tag: str) -> str:
    """The name of ``tag`` in the configured registry."""
    return f"{get_settings().registry.rstrip('/')}/{tag}"


def publish_image(tag: str) -> str | None:
    """Push a built image to the configured registry (if any); returns the pushed name.
    ``EngineError`` (transient) when the push fails."""
    if not get_settings().registry or not tag:
        return None
    rt = get_runtime()
    remote = registry_tag(tag)
    rt.tag(tag, remote)
    rt.push(remote)
    ref = repo_digest(remote)
    if ref is None:
        return remote
    record_push(tag, get_settings().registry, ref, ref.partition("@")[2])
    return ref


def repo_digest(remote: str) -> str | None:
    """``repo@sha256:…`` of a pushed image, as the registry named it (None: the runtime cannot say)."""
    client = getattr(get_runtime(), "client", None)
    if client is None:
        return None
    repo = remote.rpartition(":")[0]
    digests = client.images.get(remote).attrs.get("RepoDigests") or []
    return next((str(d) for d in digests if str(d).startswith(repo + "@")), None)


def _pull(tag: str) -> bool:
    """Pull ``tag`` from the registry (by its recorded digest when there is one) under its local
    name; False when that fails."""
    rt = get_runtime()
    pushed = get_push(tag, get_settings().registry)
    remote = pushed.ref if pushed else registry_tag(tag)
    try:
        rt.pull(remote)
        rt.tag(remote, tag)
        return True
    except Exception as exc:  # noqa: BLE001 - whatever the pull hit, a rebuild may still work
        log.warning("pull of %s failed (%s); rebuilding from the recipe", remote, exc)
        return False


def _rebuild(tag: str) -> None:
    from forager.build import builder

    image = get_image(tag)
    if image is None:
        raise NotFound(f"no image {tag!r} in the registry database")
    result = builder.build(image.source, commit=image.commit, python=image.python)
    if getattr(result, "status", None) != BuildStatus.VALIDATED:
        raise RebuildFailed(f"rebuilding {tag} failed: {getattr(result, 'error', result)}")
    if result.image and result.image != tag:
        get_runtime().tag(result.image, tag)


def ensure_image(tag: str) -> str:
    """Make a built image present on this worker's engine; says how: ``present``, ``pulled`` or
    ``rebuilt``."""
    if get_runtime().image_exists(tag):
        return "present"
    if get_settings().registry and _pull(tag):
        return "pulled"
    _rebuild(tag)
    return "rebuilt"
