"""The web viewer: server-rendered, read-only pages over the registry, served by the API.

``/ui/`` is the farm overview (builds, validation rate, images, tasks, runs, resolve rate, and a
plot over time drawn as inline SVG), ``/ui/trajectories`` lists trajectories, and
``/ui/trajectories/{id}`` shows one: its turns with collapsible observations, coloured diffs, the
reward with the failing tests, and search within the trajectory (server-side with ``?q=``, live
with a few lines of JavaScript). A damaged trajectory file is shown as far as it is valid, with
the error marked where reading stopped. The pages only read stored ids, never arbitrary paths.

Access: the pages need a token of any scope (FORAGER_VIEWER_PUBLIC=true opens them), given as
``Authorization: Bearer`` or through the login form at ``/ui/login``, which keeps it in an HttpOnly,
SameSite=Strict cookie limited to ``/ui``. Credentials in URLs are never shown (``forager.redact``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import case, func, select

from forager.config import get_settings
from forager.redact import redact_text
from forager.store import db, tokens
from forager.trajectory.replay import action_body, action_diff, action_summary, diff_line_kind, looks_like_diff
from forager.trajectory.schema import LoadResult, Trajectory, Turn, is_id, read

router = APIRouter()

HERE = Path(__file__).resolve().parent
STATIC = {"forager.css": "text/css", "viewer.js": "text/javascript"}
OPEN_LINES = 15
"""Observations up to this many lines are shown open; longer ones start collapsed."""
PAGE_CHARS = 20000
PAGE_TURNS = 200
"""Steps shown at once: a 1,000-step trajectory opens on its first 200."""
"""Longer texts are cut in the page (head and tail kept); the terminal view shows them whole."""


# ----------------------------------------------------------------------------- rendering helpers
def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def secs(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}s" if x < 10 else f"{x:.0f}s"


def when(x: datetime | None) -> str:
    return x.strftime("%Y-%m-%d %H:%M") if x else ""


@lru_cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(pct=pct, secs=secs, when=when)
    env.filters["redact"] = lambda text: redact_text(text) if isinstance(text, str) else text
    return env


def html_page(text: str, status_code: int = 200, **kwargs: Any) -> HTMLResponse:
    """An HTML response; text that UTF-8 cannot encode (a stored lone surrogate) becomes "?"."""
    return HTMLResponse(text.encode("utf-8", "replace"), status_code=status_code, **kwargs)


def page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("signed_in", not get_settings().viewer_public)
    return html_page(_env().get_template(template).render(**context), status_code)


# ----------------------------------------------------------------------------- access
COOKIE = "forager_viewer"
COOKIE_MAX_AGE = 12 * 3600


def _presented_token(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return request.cookies.get(COOKIE)


def _safe_next(target: str) -> str:
    """Where to go after signing in: a viewer page of this server, nothing else."""
    return target if target.startswith("/ui") and "//" not in target and "\\" not in target else "/ui/"


def denied(request: Request) -> HTMLResponse | None:
    """None when the viewer may be shown; else the sign-in page (401)."""
    if get_settings().viewer_public:
        return None
    token = _presented_token(request)
    if token and tokens.verify(token) is not None:
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return page("login.html", 401, title="Sign in", next=_safe_next(target), signed_in=False,
                error="That token is unknown or revoked." if token else "")


@router.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
def ui_login_form(next: str = Query("/ui/", max_length=2000)) -> HTMLResponse:
    return page("login.html", title="Sign in", next=_safe_next(next), signed_in=False, error="")


@router.post("/ui/login", include_in_schema=False)
async def ui_login(request: Request) -> Response:
    """The form posts ``token`` (and ``next``); a valid token is kept in an HttpOnly cookie."""
    body = await request.body()
    form = parse_qs(body[:8192].decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/ui/"])[0])
    if tokens.verify(token) is None:
        return page("login.html", 401, title="Sign in", next=target, signed_in=False,
                    error="That token is unknown or revoked.")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path="/ui", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.post("/ui/logout", include_in_schema=False)
def ui_logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def cut(text: str, limit: int = PAGE_CHARS) -> tuple[str, int]:
    """Keep the head and tail of a text longer than ``limit``; returns it and how much was left out."""
    if len(text) <= limit:
        return text, 0
    head = limit * 3 // 4
    left_out = len(text) - limit
    return f"{text[:head]}\n[... {left_out} characters not shown: `forager replay` shows all ...]\n" \
           f"{text[-(limit - head):]}", left_out


def highlight(escaped: str, q: str) -> str:
    if not q:
        return escaped
    pattern = re.compile(re.escape(html.escape(q, quote=False)), re.I)
    return pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)


def text_html(text: str, q: str = "") -> Markup:
    """Escaped text without credentials in URLs; a unified diff gets one coloured span per line."""
    text = redact_text(text)
    if looks_like_diff(text):
        lines = []
        for line in text.splitlines():
            kind = diff_line_kind(line)
            body = highlight(html.escape(line, quote=False), q)
            lines.append(f'<span class="d-{kind}">{body}</span>' if kind != "ctx" else body)
        return Markup("\n".join(lines))
    return Markup(highlight(html.escape(text, quote=False), q))


# ----------------------------------------------------------------------------- trajectory page
@dataclass
class TurnView:
    index: int
    tool: str
    status: str
    """passed | failed | none (the CSS class of its exit status)"""
    exit: str
    duration: str
    message: Markup
    summary: Markup
    body: Markup
    observation: Markup | None
    obs_lines: int
    elided: int
    open: bool


def turn_view(turn: Turn, q: str = "") -> TurnView:
    summary = action_summary(turn.action) if turn.action else ""
    body = action_body(turn.action) if turn.action else ""
    show_body = bool(body) and (action_diff(turn.action) is not None or "\n" in summary or len(summary) > 300)
    obs, elided = cut(turn.observation)
    lines = turn.observation.count("\n") + 1 if turn.observation else 0
    status = "none" if turn.exit_code is None else ("passed" if turn.exit_code == 0 else "failed")
    first_line = summary.splitlines()[0][:300] if summary else ""
    return TurnView(
        index=turn.index,
        tool=turn.action.tool if turn.action else "message",
        status=status,
        exit="-" if turn.exit_code is None else str(turn.exit_code),
        duration=secs(turn.duration_s),
        message=text_html(cut(turn.model_message.strip())[0], q),
        summary=text_html(first_line, q),
        body=text_html(cut(body)[0], q) if show_body else Markup(""),
        observation=text_html(obs, q) if turn.observation else None,
        obs_lines=lines,
        elided=elided,
        open=lines <= OPEN_LINES or bool(q and q.lower() in turn.observation.lower()),
    )


def _matches(turn: Turn, q: str) -> bool:
    action = " ".join(str(v) for v in turn.action.args.values()) if turn.action else ""
    return q in "\n".join((turn.model_message, action, turn.observation)).lower()


def trajectory_page(result: LoadResult, q: str = "", start: int = 0) -> str:
    """The HTML of one trajectory (also used by the benchmark). Long trajectories are shown
    PAGE_TURNS steps at a time (the step bar links every step); a search spans all steps."""
    t = result.trajectory
    q = q.strip()
    n = len(t.turns)
    start = max(0, min(start, max(0, n - 1))) // PAGE_TURNS * PAGE_TURNS
    if q:
        shown = [turn_view(turn, q) for turn in t.turns if _matches(turn, q.lower())]
        on_page = {v.index for v in shown}
    else:
        shown = [turn_view(turn) for turn in t.turns[start:start + PAGE_TURNS]]
        on_page = {v.index for v in shown}
    steps = [(turn.index, "none" if turn.exit_code is None else ("passed" if turn.exit_code == 0 else "failed"),
              turn.action.tool if turn.action else "message",
              f"#step-{turn.index}" if turn.index in on_page
              else f"?start={i // PAGE_TURNS * PAGE_TURNS}#step-{turn.index}")
             for i, turn in enumerate(t.turns)]
    pages = [] if q or n <= PAGE_TURNS else [
        (p, min(p + PAGE_TURNS, n) - 1, p == start) for p in range(0, n, PAGE_TURNS)]
    tests: list[tuple[str, str, str]] = []
    if t.reward:
        tests = [("FAIL_TO_PASS", k, v) for k, v in t.reward.fail_to_pass.items()]
        tests += [("PASS_TO_PASS", k, v) for k, v in t.reward.pass_to_pass.items()]
        tests.sort(key=lambda row: row[2] == "passed")  # failing tests first
    return _env().get_template("trajectory.html").render(
        title=f"Trajectory {t.id or ''}", t=t, error=result.error, valid_lines=result.valid_lines,
        steps=steps, n_turns=n, pages=pages, shown=shown, q=q, tests=tests,
        f2p_passed=sum(o == "passed" for o in t.reward.fail_to_pass.values()) if t.reward else 0,
        p2p_passed=sum(o == "passed" for o in t.reward.pass_to_pass.values()) if t.reward else 0,
        final_diff=text_html(cut(t.final_diff.rstrip("\n"))[0]) if t.final_diff.strip() else "",
    )


def _load_stored(row: db.Trajectory) -> LoadResult:
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
    row = None
    if is_id(traj_id):  # an id, never a path
        with db.session() as s:
            row = s.get(db.Trajectory, traj_id)
    if row is None:
        return page("error.html", 404, title="Not found",
                    message=f"No trajectory {traj_id!r} in the registry.")
    result = _load_stored(row)
    if result.trajectory.id is None:
        result.trajectory.id = row.id
    return html_page(trajectory_page(result, q, start))


# ----------------------------------------------------------------------------- trajectory list
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
    stmt = select(db.Trajectory)
    if repository:
        stmt = stmt.where(db.Trajectory.repository == repository)
    if resolved:
        stmt = stmt.where(db.Trajectory.resolved.is_(resolved == "yes"))
    if origin:
        stmt = stmt.where(db.Trajectory.origin == origin)
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = list(s.scalars(stmt.order_by(db.Trajectory.created_at.desc(), db.Trajectory.id)
                              .limit(limit).offset(offset)))
    filters = {"repository": repository, "resolved": resolved, "origin": origin}

    def page_query(new_offset: int) -> str:
        kept = {k: v for k, v in filters.items() if v}
        return urlencode({**kept, "limit": limit, "offset": max(0, new_offset)})

    return page("trajectories.html", title="Trajectories", rows=rows, total=total, f=filters,
                limit=limit, offset=offset, page_query=page_query)


# ----------------------------------------------------------------------------- farm overview
def _counts(s: Any, column: Any) -> dict[str, int]:
    rows = s.execute(select(column, func.count()).group_by(column).order_by(column))
    return {str(k): int(n) for k, n in rows}


def _by_day(s: Any, day_col: Any, *cols: Any) -> list[tuple[Any, ...]]:
    day = func.date(day_col)
    return [tuple(r) for r in s.execute(select(day, *cols).group_by(day).order_by(day))]


def farm_stats() -> dict[str, Any]:
    """Everything the overview shows, read from the registry in a handful of grouped queries."""
    with db.session() as s:
        builds = _counts(s, db.Build.status)
        finished = builds.get("validated", 0) + builds.get("failed", 0)
        tasks = _counts(s, db.Task.kind)
        origins = _counts(s, db.Trajectory.origin)
        rewarded = s.scalar(select(func.count()).where(db.Trajectory.resolved.is_not(None))) or 0
        resolved = s.scalar(select(func.count()).where(db.Trajectory.resolved.is_(True))) or 0
        jobs = _counts(s, db.Job.state)
        per_repo = s.execute(
            select(db.Trajectory.repository, func.count(),
                   func.sum(case((db.Trajectory.resolved.is_(True), 1), else_=0)),
                   func.count(db.Trajectory.resolved))
            .group_by(db.Trajectory.repository).order_by(func.count().desc()).limit(25)).all()
        validated_build = func.sum(case((db.Build.status == "validated", 1), else_=0))
        failed_build = func.sum(case((db.Build.status == "failed", 1), else_=0))
        series = {
            "builds": _by_day(s, db.Build.created_at, validated_build, failed_build),
            "tasks": _by_day(s, db.Task.created_at, func.count()),
            "runs": _by_day(s, db.Trajectory.created_at, func.count(),
                            func.sum(case((db.Trajectory.resolved.is_(True), 1), else_=0)),
                            func.count(db.Trajectory.resolved)),
        }
        stats = {
            "builds_total": sum(builds.values()), "builds_by_status": builds,
            "validation_rate": builds.get("validated", 0) / finished if finished else None,
            "images": s.scalar(select(func.count()).select_from(db.Image)) or 0,
            "repositories": s.scalar(select(func.count()).select_from(db.Repository)) or 0,
            "tasks_total": sum(tasks.values()), "tasks_by_kind": tasks,
            "trajectories": sum(origins.values()), "trajectories_by_origin": origins,
            "rewarded": rewarded, "resolved": resolved,
            "resolve_rate": resolved / rewarded if rewarded else None,
            "jobs_total": sum(jobs.values()), "jobs_by_state": jobs,
            "per_repository": [
                {"repository": r or "(none)", "runs": int(n), "resolved": int(ok or 0),
                 "rate": (int(ok or 0) / int(rew)) if rew else None}
                for r, n, ok, rew in per_repo
            ],
            "recent_builds": list(s.scalars(select(db.Build).order_by(db.Build.created_at.desc()).limit(10))),
            "recent_runs": list(s.scalars(select(db.Trajectory).order_by(db.Trajectory.created_at.desc())
                                          .limit(10))),
            "series": series,
        }
    return stats


def _as_date(x: Any) -> date:
    return x if isinstance(x, date) else date.fromisoformat(str(x)[:10])


def day_axis(series: dict[str, list[tuple[Any, ...]]]) -> list[date]:
    """Every day from the first to the last with data (at most a year: longer spans keep their data days)."""
    days = sorted({_as_date(row[0]) for rows in series.values() for row in rows if row[0] is not None})
    if not days:
        return []
    span = (days[-1] - days[0]).days
    if span > 366:
        return days
    return [days[0] + timedelta(d) for d in range(span + 1)]


COLOURS = ["#0969da", "#1a7f37", "#8250df", "#bf3989", "#9a6700"]


def line_chart(title: str, labels: list[str], lines: list[tuple[str, list[float | None]]],
               percent: bool = False, width: int = 580, height: int = 230) -> Markup:
    """An inline SVG line chart; ``None`` values leave a gap. Points are drawn so one day shows."""
    left, right, top, bottom = 46, 12, 44, 26
    w, h = width - left - right, height - top - bottom
    values = [v for _, vs in lines for v in vs if v is not None]
    y_max = 1.0 if percent else max([1.0, *values])
    if not percent:
        step = 10 ** max(0, len(str(int(y_max))) - 1)
        y_max = float(-(-int(y_max) // step) * step)
    n = len(labels)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: float) -> float:
        return top + h - h * v / y_max

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<text class="title" x="{left}" y="16">{html.escape(title)}</text>']
    for k in range(5):
        v = y_max * k / 4
        label = f"{100 * v:.0f}%" if percent else f"{v:g}"
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eaeef2"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{label}</text>')
    if n == 0:
        out.append(f'<text x="{left + w / 2}" y="{top + h / 2}" text-anchor="middle">no data yet</text>')
    else:
        ticks = sorted({0, n - 1, (n - 1) // 2})
        for i in ticks:
            anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")
            out.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">{labels[i]}</text>')
    lx = left
    for k, (name, vs) in enumerate(lines):
        colour = COLOURS[k % len(COLOURS)]
        out.append(f'<rect x="{lx}" y="26" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="35">{html.escape(name)}</text>')
        lx += 24 + 7 * len(name)
        run: list[str] = []
        for i, v in enumerate(vs + [None]):
            if v is not None:
                run.append(f"{x(i):.1f},{y(v):.1f}")
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
            elif run:
                if len(run) > 1:
                    points = " ".join(run)
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                               f'points="{points}"/>')
                run = []
    out.append("</svg>")
    return Markup("".join(out))


def overview_plots(series: dict[str, list[tuple[Any, ...]]]) -> dict[str, Markup]:
    days = day_axis(series)
    index = {d: i for i, d in enumerate(days)}

    def daily(rows: list[tuple[Any, ...]], col: int) -> list[float]:
        out = [0.0] * len(days)
        for row in rows:
            if row[0] is not None:
                out[index[_as_date(row[0])]] = float(row[col] or 0)
        return out

    def cumulative(vs: list[float]) -> list[float | None]:
        total, out = 0.0, []
        for v in vs:
            total += v
            out.append(total)
        return out

    def rate(num: list[float], den: list[float]) -> list[float | None]:
        return [a / b if b else None for a, b in zip(num, den, strict=True)]

    b_ok, b_fail = daily(series["builds"], 1), daily(series["builds"], 2)
    r_all, r_ok, r_rew = daily(series["runs"], 1), daily(series["runs"], 2), daily(series["runs"], 3)
    fmt = "%m-%d" if days and days[0].year == days[-1].year else "%Y-%m-%d"
    labels = [d.strftime(fmt) for d in days]
    return {
        "totals": line_chart("Totals over time", labels, [
            ("validated builds", cumulative(b_ok)), ("tasks", cumulative(daily(series["tasks"], 1))),
            ("runs", cumulative(r_all)), ("resolved runs", cumulative(r_ok))]),
        "rates": line_chart("Daily rates", labels, [
            ("validation rate", rate(b_ok, [a + b for a, b in zip(b_ok, b_fail, strict=True)])),
            ("resolve rate", rate(r_ok, r_rew))], percent=True),
    }


@router.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/ui", response_class=HTMLResponse, include_in_schema=False)
def ui_overview(request: Request) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    stats = farm_stats()
    return page("overview.html", title="Farm overview", s=stats, rows=stats["recent_runs"],
                plots=overview_plots(stats["series"]))


@router.get("/ui/static/{name}", include_in_schema=False)
def ui_static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name],
                    headers={"Cache-Control": "max-age=300"})
