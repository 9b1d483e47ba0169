"""The viewer's pages: the farm overview (``/ui/``: counts, rates, plots, recent builds and runs,
from ``forager.store.stats``), the trajectory list (``/ui/trajectories``, filtered and paged), one
trajectory (``/ui/trajectories/{id}``: looked up by registry id only, never a path) and the static
files. Every page needs the viewer's sign-in (``forager.web.auth.denied``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from forager.enums import Origin
from forager.store import db, stats
from forager.store import trajectories as stored
from forager.trajectory.fileformat import LoadResult, read
from forager.trajectory.schema import Trajectory, is_id
from forager.web.auth import denied
from forager.web.charts import overview_plots
from forager.web.templating import HERE, html_page, page
from forager.web.trajectory_page import trajectory_page

router = APIRouter()

STATIC = {"forager.css": "text/css", "viewer.js": "text/javascript"}
STATIC.update({"trace.css": "text/css", "trace.js": "text/javascript"})  # forager.web.trace_page


def _load_row(row: db.Trajectory) -> LoadResult:
    """A stored trajectory's file; a stub from its registry row when the file cannot be read."""
    try:
        return read(Path(row.path))
    except OSError as exc:
        stub = Trajectory(id=row.id, task_id=row.task_id, image=row.image, repository=row.repository,
                          kind=row.kind, agent=row.agent or "", exit_reason=row.exit_reason or "",
                          complete=False)
        return LoadResult(trajectory=stub, error=f"the stored file cannot be read: {exc.strerror or exc}")


@router.get("/ui/trajectories/{traj_id}", response_class=HTMLResponse, include_in_schema=False)
def ui_trajectory(request: Request, traj_id: str, q: str = Query("", max_length=200),
                  start: int = Query(0, ge=0)) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    row = stored.find(traj_id) if is_id(traj_id) else None  # an id, never a path
    if row is None:
        return page("error.html", 404, title="Not found",
                    message=f"No trajectory {traj_id!r} in the registry.")
    result = _load_row(row)
    if result.trajectory.id is None:
        result.trajectory.id = row.id
    return html_page(trajectory_page(result, q, start))


@router.get("/ui/trajectories", response_class=HTMLResponse, include_in_schema=False)
def ui_trajectories(
    request: Request,
    repository: str = Query("", max_length=500),
    resolved: str = Query("", pattern="^(|yes|no)$"),
    origin: str = Query("", max_length=20),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    chosen = stored.Filters(repository=repository or None, resolved=(resolved == "yes") if resolved else None,
                            origin=origin or None)
    total, rows = stored.offset_page(chosen, limit, offset)
    filters = {"repository": repository, "resolved": resolved, "origin": origin}

    def page_query(new_offset: int) -> str:
        kept = {k: v for k, v in filters.items() if v}
        return urlencode({**kept, "limit": limit, "offset": max(0, new_offset)})

    return page("trajectories.html", title="Trajectories", rows=rows, total=total, f=filters,
                origins=list(Origin), limit=limit, offset=offset, page_query=page_query)


@router.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/ui", response_class=HTMLResponse, include_in_schema=False)
def ui_overview(request: Request) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    o = stats.overview()
    return page("overview.html", title="Farm overview", s=o.counts, per_repository=o.activity.per_repository,
                recent_builds=o.recent_builds, rows=o.recent_runs, plots=overview_plots(o.activity.series))


@router.get("/ui/static/{name}", include_in_schema=False)
def ui_static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name],
                    headers={"Cache-Control": "max-age=300"})
