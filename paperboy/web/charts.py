"""Small server-side SVG charts: a line chart of a few series over periods, and a sparkline.

Drawn here rather than with a charting library (docs/trends.md measures pygal): the SVG
is inline in the page, so its colours are the stylesheet's variables (light and dark,
``--series-0`` … ``--series-4``), it needs no script and no font of its own, and every
text in it (topics come from the address bar) is escaped by ``markupsafe``. Each chart is
``role="img"`` with a ``<title>`` and ``<desc>``; each point carries a ``<title>`` (a
tooltip without script); the page puts the same numbers in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

SERIES_CLASSES = 5  # --series-0 … --series-4 in style.css


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to at least ``top``."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def percent(x: float) -> str:
    """A share as a percentage with as many decimals as small values need."""
    p = x * 100
    if p == 0:
        return "0%"
    if abs(p) >= 10:
        return f"{p:.0f}%"
    if abs(p) >= 1:
        return f"{p:.1f}%"
    return f"{p:.2f}%"


def integer(x: float) -> str:
    return f"{x:,.0f}"


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str, desc: str,
               fmt: Callable[[float], str] = integer, chart_id: str = "chart", width: int = 720,
               height: int = 300) -> Markup:
    """Lines over ``labels`` (periods), one per ``(name, values)``; an accessible SVG."""
    left, right, top, bottom = 56, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    peak = max((v for _, values in series for v in values), default=0.0)
    ticks = nice_ticks(peak)
    y_max = ticks[-1] or 1.0

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    out = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(tid)} {escape(did)}" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(tid)}">{escape(title)}</title>',
        f'<desc id="{escape(did)}">{escape(desc)}</desc>',
        '<g class="chart-grid" aria-hidden="true">',
    ]
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y(t))}" y2="{_num(y(t))}"/>')
        out.append(f'<text class="chart-tick" x="{left - 6}" y="{_num(y(t) + 4)}" text-anchor="end">{escape(fmt(t))}</text>')
    every = max(1, math.ceil(n / 8))  # at most eight period labels fit below the plot
    for i in range(0, n, every):
        out.append(f'<text class="chart-tick" x="{_num(x(i))}" y="{height - 12}" text-anchor="middle">'
                   f'{escape(labels[i])}</text>')
    out.append("</g>")
    dots = n <= 60
    for k, (name, values) in enumerate(series):
        cls = f"chart-series s{k % SERIES_CLASSES}"
        points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in enumerate(values))
        out.append(f'<g class="{cls}"><polyline points="{points}"/>')
        if dots:
            for i, v in enumerate(values):
                out.append(f'<circle cx="{_num(x(i))}" cy="{_num(y(v))}" r="3">'
                           f'<title>{escape(name)}, {escape(labels[i])}: {escape(fmt(v))}</title></circle>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], *, label: str, width: int = 120, height: int = 28) -> Markup:
    """A small line of ``values`` (oldest first) with its last point marked; ``label`` is
    what a screen reader hears (the trend in words)."""
    n = len(values)
    peak = max(values, default=0.0) or 1.0
    pad = 3

    def x(i: int) -> float:
        return pad + ((width - 2 * pad) * i / (n - 1) if n > 1 else (width - 2 * pad) / 2)

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - v / peak)

    points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in enumerate(values))
    last = (f'<circle cx="{_num(x(n - 1))}" cy="{_num(y(values[-1]))}" r="2.5"/>' if n else "")
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f'<polyline points="{points}"/>{last}</svg>'
    )
