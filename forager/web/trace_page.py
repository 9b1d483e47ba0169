"""The viewer's trace pages: ``/ui/traces`` (the newest traces, filtered by image) and
``/ui/traces/{id}``: the function's source with the current frame's line highlighted, the locals
beside it (changed ones marked), the value returned or raised, and a step slider. The page is
rendered at ``?step=N`` on the server (it works without scripts); ``trace.js`` moves the slider
over the frames embedded in the page as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from forager.config import get_settings
from forager.store import traces as stored
from forager.store.models import ExecTrace
from forager.traces.frames import FrameView, frame_views, parse_frames
from forager.web.auth import denied
from forager.web.templating import env, html_page, page

router = APIRouter()


def source_lines(row: ExecTrace) -> list[tuple[int, str]]:
    """(line number, text) of every line of the traced function."""
    return [(row.first_line + i, text) for i, text in enumerate(row.source.splitlines())]


def trace_page(row: ExecTrace, step: int = 0) -> str:
    """The HTML of one trace, opened at frame ``step`` (clamped to the frames there are)."""
    views: list[FrameView] = frame_views(parse_frames(row.frames))
    step = max(0, min(step, len(views) - 1))
    current = views[step] if views else None
    return env().get_template("trace.html").render(
        title=f"Trace {row.id}", t=row, lines=source_lines(row), views=[v.as_dict() for v in views],
        step=step, current=current, n=len(views),
        signed_in=not get_settings().viewer_public)


@router.get("/ui/traces/{trace_id}", response_class=HTMLResponse, include_in_schema=False)
def ui_trace(request: Request, trace_id: str, step: int = Query(0, ge=0)) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    row = stored.find(trace_id)
    if row is None:
        return page("error.html", 404, title="Not found", message=f"No trace {trace_id!r} in the registry.")
    return html_page(trace_page(row, step))


@router.get("/ui/traces", response_class=HTMLResponse, include_in_schema=False)
def ui_traces(request: Request, image: str = Query("", max_length=300),
              limit: int = Query(100, ge=1, le=500)) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    rows, _ = stored.list_traces(stored.TraceFilters(image=image or None), limit, None)
    return page("traces.html", title="Traces", rows=rows, image=image)
