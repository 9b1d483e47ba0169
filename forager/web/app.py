"""The web viewer: server-rendered, read-only pages over the registry, served by the API under
``/ui``. This module assembles its router: sign-in (``auth``) and the pages (``views``: overview,
trajectory list, one trajectory, static files). The pages only read stored ids, never paths;
credentials in URLs are never shown (``forager.redact``)."""

from __future__ import annotations

from fastapi import APIRouter

from forager.web import auth, trace_page, views
from forager.web import campaign_page as campaign_pages

router = APIRouter()
router.include_router(auth.router)
router.include_router(views.router)
router.include_router(trace_page.router)
router.include_router(campaign_pages.router)
