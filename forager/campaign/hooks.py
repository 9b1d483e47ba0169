"""Stages other packages hang on a campaign. ``on_image_validated(fn)`` registers ``fn(campaign_id,
image)``, called once a build item's image validated (e.g. execution traces:
``on_image_validated(lambda _c, image: collect_for_image(image))``). A hook that raises is logged
and never fails the campaign."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("forager.campaign")

ImageHook = Callable[[str, str], None]
_IMAGE_HOOKS: list[ImageHook] = []


def on_image_validated(fn: ImageHook) -> ImageHook:
    """Register ``fn`` (usable as a decorator)."""
    if fn not in _IMAGE_HOOKS:
        _IMAGE_HOOKS.append(fn)
    return fn


def clear_hooks() -> None:
    _IMAGE_HOOKS.clear()


def image_validated(campaign_id: str, image: str) -> None:
    for fn in list(_IMAGE_HOOKS):
        try:
            fn(campaign_id, image)
        except Exception:  # noqa: BLE001 - a later stage never fails the campaign
            log.exception("campaign %s: hook %r on %s failed", campaign_id, fn, image)
