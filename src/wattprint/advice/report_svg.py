"""Inline SVG charts for the HTML report, drawn in Python: no script, no external resource.

Colours are CSS classes (``series-cpu`` ...), so the page's stylesheet gives them the
Okabe-Ito palette in light and dark mode; every chart has a title and a description for screen
readers, and the report's tables carry the same figures as text.
"""

from __future__ import annotations

from html import escape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

__all__ = ["energy_bars", "power_chart"]

SERIES = ("gpu", "cpu", "ram", "other")
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def _nice_step(span: float, ticks: int = 5) -> float:
    """A 1-2-5 step that cuts ``span`` into about ``ticks`` parts."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10 ** _floor_log10(raw)
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# Time axis steps people read at a glance: seconds, minutes, hours, days.
_TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                 43200, 86400, 172800, 604800)


def _time_step(span_s: float, ticks: int = 6) -> float:
    raw = span_s / ticks
    for step in _TIME_STEPS_S:
        if raw <= step:
            return float(step)
    return _nice_step(span_s, ticks)


def _time_label(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{_num(seconds / 3600)} h"
    return f"{_num(seconds / 86400)} d"


def power_chart(series: Sequence[Mapping[str, Any]], *, chart_id: str = "power") -> str:
    """Mean power per component over the run, one line each, with axes and a legend."""
    shown = [c for c in SERIES if any(p.get(f"{c}_w", 0.0) > 0 for p in series)]
    desc = "; ".join(
        f"{c.upper()} from {min(p[f'{c}_w'] for p in series):.0f} to "
        f"{max(p[f'{c}_w'] for p in series):.0f} W" for c in shown) or "no power recorded"
    head = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
            '>'
            f'<title id="{chart_id}-title">Power over time by component</title>'
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>')
    if not series or not shown:
        return head + '<text x="20" y="40" class="axis-label">no records</text></svg>'
    end_s = max(p["t_s"] + p["duration_s"] for p in series)
    top_w = max(p[f"{c}_w"] for p in series for c in shown)
    step_w = _nice_step(top_w)
    max_w = step_w * (int(top_w / step_w) + 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * (t / end_s if end_s > 0 else 0.0)

    def y(w: float) -> float:
        return TOP + plot_h * (1 - w / max_w)

    parts = [head]
    tick = 0.0
    while tick <= max_w + 1e-9:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}"/><text class="axis-label" x="{LEFT - 6}" '
                     f'y="{y(tick) + 4:.1f}" text-anchor="end">{_num(tick)}</text>')
        tick += step_w
    step_s = _time_step(end_s)
    tick = 0.0
    while tick <= end_s + 1e-9:
        parts.append(f'<text class="axis-label" x="{x(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{_time_label(tick)}</text>')
        tick += step_s
    parts.append(f'<text class="axis-label" x="14" y="{TOP + plot_h / 2:.0f}" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})" '
                 'text-anchor="middle">W</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" '
                 f'y2="{HEIGHT - BOTTOM}"/><line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                 f'y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}"/>')
    for comp in shown:
        # each point is a mean over its interval: drawn as a step across the interval
        points = []
        for p in series:
            w = y(p[f"{comp}_w"])
            points.append(f"{x(p['t_s']):.1f},{w:.1f} {x(p['t_s'] + p['duration_s']):.1f},{w:.1f}")
        parts.append(f'<polyline class="line series-{comp}" points="{" ".join(points)}"/>')
    legend_x = LEFT
    for comp in shown:
        parts.append(f'<rect class="swatch series-{comp}" x="{legend_x}" y="{HEIGHT - 14}" '
                     f'width="12" height="4"/><text class="axis-label" x="{legend_x + 16}" '
                     f'y="{HEIGHT - 9}">{comp.upper()}</text>')
        legend_x += 70
    parts.append("</svg>")
    return "".join(parts)


def energy_bars(by_component: Mapping[str, Mapping[str, Any]], *,
                chart_id: str = "energy") -> str:
    """Energy per component as horizontal bars, labelled with Wh and share."""
    rows = [(c, float(by_component[c]["value"])) for c in SERIES if c in by_component]
    rows += [(c, float(v["value"])) for c, v in sorted(by_component.items()) if c not in SERIES]
    total = sum(v for _, v in rows)
    desc = "; ".join(f"{c.upper()} {v / 3600:.1f} Wh ({v / total:.0%})" for c, v in rows
                     ) if total > 0 else "no energy recorded"
    bar_h, gap = 26, 12
    height = TOP + len(rows) * (bar_h + gap) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
             '>'
             f'<title id="{chart_id}-title">Energy by component</title>'
             f'<desc id="{chart_id}-desc">{escape(desc)}</desc>']
    label_w, value_w = 64, 150
    span = WIDTH - label_w - value_w - RIGHT
    top = max((v for _, v in rows), default=0.0)
    for i, (comp, value) in enumerate(rows):
        y0 = TOP + i * (bar_h + gap)
        width = span * value / top if top > 0 else 0.0
        kind = comp if comp in SERIES else "other"
        parts.append(
            f'<text class="axis-label" x="{label_w - 8}" y="{y0 + bar_h / 2 + 4:.0f}" '
            f'text-anchor="end">{escape(comp.upper())}</text>'
            f'<rect class="bar series-{kind}" x="{label_w}" y="{y0}" width="{width:.1f}" '
            f'height="{bar_h}"/>'
            f'<text class="axis-label" x="{label_w + width + 6:.1f}" y="{y0 + bar_h / 2 + 4:.0f}">'
            f'{value / 3600:.1f} Wh ({value / total:.0%})</text>')
    parts.append("</svg>")
    return "".join(parts)
