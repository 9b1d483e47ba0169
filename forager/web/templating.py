"""Rendering the viewer's pages: the Jinja environment over ``templates/``, the small formatters the
templates use (percentages, seconds, dates), and HTML responses that survive text UTF-8 cannot
encode. Credentials in URLs are never shown (the ``redact`` filter, ``forager.redact``)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from forager.config import get_settings
from forager.redact import redact_text

HERE = Path(__file__).resolve().parent


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def secs(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}s" if x < 10 else f"{x:.0f}s"


def when(x: datetime | None) -> str:
    return x.strftime("%Y-%m-%d %H:%M") if x else ""


def _redact(text: Any) -> Any:
    return redact_text(text) if isinstance(text, str) else text


@lru_cache
def env() -> Environment:
    """The templates' environment (autoescaped), with ``pct``, ``secs``, ``when`` and ``|redact``."""
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    environment.globals.update(pct=pct, secs=secs, when=when)
    environment.filters["redact"] = _redact
    return environment


def html_page(text: str, status_code: int = 200, **kwargs: Any) -> HTMLResponse:
    """An HTML response; text that UTF-8 cannot encode (a stored lone surrogate) becomes "?"."""
    return HTMLResponse(text.encode("utf-8", "replace"), status_code=status_code, **kwargs)


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``template``; ``signed_in`` (the sign-out button) unless the viewer is public."""
    context.setdefault("signed_in", not get_settings().viewer_public)
    return html_page(env().get_template(template).render(**context), status_code)
