"""The campaign pages of the viewer: ``/ui/campaigns`` (every campaign and its funnel) and
``/ui/campaigns/{id or name}``: the funnel as bars, throughput over time (cumulative items done per
stage), and failures by cause as bars, all inline SVG like the overview's charts."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from forager.campaign.funnel import funnel, report, throughput
from forager.errors import NotFound
from forager.store import campaigns as rows
from forager.web.auth import denied
from forager.web.charts import COLOURS, Series, line_chart
from forager.web.templating import page

router = APIRouter()
BAR_H, GAP, LABEL_W = 22, 8, 190


def bar_chart(title: str, bars: list[tuple[str, int]], width: int = 580) -> Markup:
    """Horizontal bars with their values; an empty list says so."""
    height = 30 + max(len(bars), 1) * (BAR_H + GAP) + 10
    top = max([1, *(n for _, n in bars)])
    span = width - LABEL_W - 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<text class="title" x="4" y="16">{html.escape(title)}</text>']
    if not bars:
        out.append('<text x="4" y="46">none</text>')
    for i, (label, n) in enumerate(bars):
        y = 30 + i * (BAR_H + GAP)
        w = max(span * n / top, 1)
        out.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
                   f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                   f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 15}">{n}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _plots(ref: str) -> dict[str, Markup]:
    f = report(ref)
    funnel_bars = [("source versions", f["versions"]), ("images validated", f["images_validated"]),
                   ("tasks", f["tasks"]), ("episodes", f["episodes"]), ("episodes resolved", f["episodes_resolved"])]
    causes = [(c["cause"], c["count"]) for stage in f["failures"].values() for c in stage]
    series = throughput(ref)
    labels = [t[11:16] for t, _ in next(iter(series.values()), [])]
    lines: list[tuple[str, Series]] = []
    for stage, points in series.items():
        total, cum = 0.0, []
        for _, n in points:
            total += n
            cum.append(total)
        lines.append((f"{stage} done", [*cum]))
    return {"funnel": bar_chart("Funnel", funnel_bars),
            "throughput": line_chart("Items done over time (UTC)", labels, lines),
            "causes": bar_chart("Failures by cause", causes)}


@router.get("/ui/campaigns", response_class=HTMLResponse, include_in_schema=False)
def ui_campaigns(request: Request) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    found = [funnel(c.id) for c in rows.list_campaigns()]
    return page("campaigns.html", title="Campaigns", campaigns=found)


@router.get("/ui/campaigns/{ref}", response_class=HTMLResponse, include_in_schema=False)
def ui_campaign(request: Request, ref: str) -> HTMLResponse:
    if (deny := denied(request)) is not None:
        return deny
    try:
        f = report(ref)
    except NotFound:
        return page("error.html", 404, title="Not found", message=f"No campaign {ref!r}.")
    return page("campaign.html", title=f"Campaign {f['campaign']}", f=f, plots=_plots(f["id"]))
