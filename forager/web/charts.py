"""The overview's plots, drawn as inline SVG line charts (no JavaScript, no chart library): totals
over time and daily rates, one point per day from the registry's per-day series."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

COLOURS = ["#0969da", "#1a7f37", "#8250df", "#bf3989", "#9a6700"]
Series = list[float | None]


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


@dataclass
class _Frame:
    """Where things go in a chart: the plot area inside the margins, and the value scale."""

    width: int
    height: int
    n: int
    y_max: float
    left: int = 46
    right: int = 12
    top: int = 44
    bottom: int = 26

    def x(self, i: int) -> float:
        w = self.width - self.left - self.right
        return self.left + (w * i / (self.n - 1) if self.n > 1 else w / 2)

    def y(self, v: float) -> float:
        h = self.height - self.top - self.bottom
        return self.top + h - h * v / self.y_max


def _y_max(lines: list[tuple[str, Series]], percent: bool) -> float:
    """The top of the scale: 100% for rates, else the largest value rounded up to a round number."""
    if percent:
        return 1.0
    y_max = max([1.0, *(v for _, vs in lines for v in vs if v is not None)])
    step = 10 ** max(0, len(str(int(y_max))) - 1)
    return float(-(-int(y_max) // step) * step)


def _axes(f: _Frame, labels: list[str], percent: bool) -> list[str]:
    w = f.width - f.left - f.right
    out = []
    for k in range(5):
        v = f.y_max * k / 4
        label = f"{100 * v:.0f}%" if percent else f"{v:g}"
        out.append(f'<line x1="{f.left}" x2="{f.left + w}" y1="{f.y(v):.1f}" y2="{f.y(v):.1f}" stroke="#eaeef2"/>'
                   f'<text x="{f.left - 6}" y="{f.y(v) + 4:.1f}" text-anchor="end">{label}</text>')
    if f.n == 0:
        h = f.height - f.top - f.bottom
        out.append(f'<text x="{f.left + w / 2}" y="{f.top + h / 2}" text-anchor="middle">no data yet</text>')
        return out
    for i in sorted({0, f.n - 1, (f.n - 1) // 2}):
        anchor = "start" if i == 0 and f.n > 1 else ("end" if i == f.n - 1 and f.n > 1 else "middle")
        out.append(f'<text x="{f.x(i):.1f}" y="{f.height - 8}" text-anchor="{anchor}">{labels[i]}</text>')
    return out


def _line(f: _Frame, values: Series, colour: str) -> list[str]:
    """Points for every value and a polyline through each run of consecutive values."""
    out: list[str] = []
    run: list[str] = []
    for i, v in enumerate([*values, None]):
        if v is not None:
            run.append(f"{f.x(i):.1f},{f.y(v):.1f}")
            out.append(f'<circle cx="{f.x(i):.1f}" cy="{f.y(v):.1f}" r="2.5" fill="{colour}"/>')
        elif run:
            if len(run) > 1:
                points = " ".join(run)
                out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
            run = []
    return out


def line_chart(title: str, labels: list[str], lines: list[tuple[str, Series]],
               percent: bool = False, width: int = 580, height: int = 230) -> Markup:
    """An inline SVG line chart; ``None`` values leave a gap. Points are drawn so one day shows."""
    f = _Frame(width, height, len(labels), _y_max(lines, percent))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<text class="title" x="{f.left}" y="16">{html.escape(title)}</text>', *_axes(f, labels, percent)]
    lx = f.left
    for k, (name, vs) in enumerate(lines):
        colour = COLOURS[k % len(COLOURS)]
        out.append(f'<rect x="{lx}" y="26" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="35">{html.escape(name)}</text>')
        lx += 24 + 7 * len(name)
        out += _line(f, vs, colour)
    out.append("</svg>")
    return Markup("".join(out))


def _cumulative(vs: list[float]) -> Series:
    total, out = 0.0, []
    for v in vs:
        total += v
        out.append(total)
    return [*out]


def _rate(num: list[float], den: list[float]) -> Series:
    return [a / b if b else None for a, b in zip(num, den, strict=True)]


def _daily(days: list[date]) -> Callable[[list[tuple[Any, ...]], int], list[float]]:
    """A function giving column ``col`` of a per-day series as one value per day of ``days``."""
    index = {d: i for i, d in enumerate(days)}

    def daily(rows: list[tuple[Any, ...]], col: int) -> list[float]:
        out = [0.0] * len(days)
        for row in rows:
            if row[0] is not None:
                out[index[_as_date(row[0])]] = float(row[col] or 0)
        return out

    return daily


def overview_plots(series: dict[str, list[tuple[Any, ...]]]) -> dict[str, Markup]:
    """The overview's two charts from the per-day series (builds, tasks, runs)."""
    days = day_axis(series)
    daily = _daily(days)
    b_ok, b_fail = daily(series["builds"], 1), daily(series["builds"], 2)
    r_all, r_ok, r_rew = daily(series["runs"], 1), daily(series["runs"], 2), daily(series["runs"], 3)
    fmt = "%m-%d" if days and days[0].year == days[-1].year else "%Y-%m-%d"
    labels = [d.strftime(fmt) for d in days]
    return {
        "totals": line_chart("Totals over time", labels, [
            ("validated builds", _cumulative(b_ok)), ("tasks", _cumulative(daily(series["tasks"], 1))),
            ("runs", _cumulative(r_all)), ("resolved runs", _cumulative(r_ok))]),
        "rates": line_chart("Daily rates", labels, [
            ("validation rate", _rate(b_ok, [a + b for a, b in zip(b_ok, b_fail, strict=True)])),
            ("resolve rate", _rate(r_ok, r_rew))], percent=True),
    }
