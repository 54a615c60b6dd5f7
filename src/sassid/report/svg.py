"""Line charts as inline SVG, drawn by hand (no plotting library, nothing external).

A chart is a few hundred bytes plus ~12 bytes per point; series are thinned to at most
``MAX_POINTS`` points, so a chart stays under ~10 KB however long the training ran.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["MAX_POINTS", "line_chart", "nice_ticks"]

MAX_POINTS = 400
WIDTH, HEIGHT = 380, 210
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 24, 34


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs(math.log(s / raw)))
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    if len(xs) <= MAX_POINTS:
        return list(xs), list(ys)
    idx = [round(i * (len(xs) - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)]
    return [xs[i] for i in idx], [ys[i] for i in idx]


def _label(v: float) -> str:
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.0e}"
    return f"{v:g}"


def line_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    title: str,
    xlabel: str = "step",
    ylabel: str = "",
    css_class: str = "chart",
) -> str:
    """An SVG ``<svg>`` element plotting ys against xs, with axes, ticks and labels."""
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(x) and math.isfinite(y)]
    px, py = _thin([p[0] for p in points], [p[1] for p in points])
    head = (
        f'<svg class="{css_class}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<text x="{WIDTH / 2}" y="15" class="t">{escape(title)}</text>'
    )
    if not px:
        return head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="t">no data</text></svg>'
    x0, x1 = min(px), max(px)
    y0, y1 = min(py), max(py)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pad = (y1 - y0) * 0.05 or abs(y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [head, f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="f"/>']
    for t in nice_ticks(y0, y1):
        y = sy(t)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
            f'<text x="{LEFT - 4}" y="{y + 3:.1f}" class="yl">{_label(t)}</text>'
        )
    for t in nice_ticks(x0, x1):
        x = sx(t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}" '
            f'class="a"/><text x="{x:.1f}" y="{TOP + plot_h + 15}" class="xl">{_label(t)}</text>'
        )
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(px, py, strict=True))
    parts.append(f'<polyline points="{line}" class="l"/>')
    if len(px) == 1:
        parts.append(f'<circle cx="{sx(px[0]):.1f}" cy="{sy(py[0]):.1f}" r="3" class="d"/>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" class="t">{escape(xlabel)}</text>'
        f'<text x="12" y="{TOP + plot_h / 2}" class="t" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2})">{escape(ylabel)}</text></svg>'
    )
    return "".join(parts)
