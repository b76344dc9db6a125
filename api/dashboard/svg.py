"""Inline SVG drawn on the server: the lifecycle diagram (from workflows.lifecycle.LIFECYCLE,
so it never drifts from the rules) with a case's state highlighted, and simple bar charts.

No script and no fonts from elsewhere: the page works offline and under a strict CSP.
"""

from collections import defaultdict
from html import escape

from markupsafe import Markup

from models.enums import CaseState
from workflows.lifecycle import LIFECYCLE

BOX_W, BOX_H, GAP, TOP = 118, 44, 30, 70
ORDER = list(CaseState)


def _x(state: CaseState) -> int:
    return 10 + ORDER.index(state) * (BOX_W + GAP)


def lifecycle_edges() -> dict[tuple[CaseState, CaseState], list[str]]:
    """Every move between two states, with the actions that make it."""
    edges: dict[tuple[CaseState, CaseState], list[str]] = defaultdict(list)
    for kind, spec in LIFECYCLE.items():
        for source in spec.states:
            for target in spec.leads_to:
                if target is not source:
                    edges[(source, target)].append(kind)
    return edges


def _edge(source: CaseState, target: CaseState, kinds: list[str]) -> str:
    i, j = ORDER.index(source), ORDER.index(target)
    y = TOP + BOX_H / 2
    label = escape(", ".join(sorted(kinds)))
    if j == i + 1:  # the next state along: a straight arrow between neighbours
        x1, x2 = float(_x(source) + BOX_W), float(_x(target))
        path = f"M{x1},{y} L{x2 - 2},{y}"
    else:
        # Forward jumps arc above the boxes, moves back arc below; further jumps arc higher.
        up = j > i
        x1 = _x(source) + BOX_W / 2 + (8 if up else -8)
        x2 = _x(target) + BOX_W / 2 + (-8 if up else 8)
        edge_y = TOP if up else TOP + BOX_H
        lift = 14 + 9 * abs(j - i)
        cy = edge_y - lift if up else edge_y + lift
        path = f"M{x1},{edge_y} C{x1},{cy} {x2},{cy} {x2},{edge_y + (-2 if up else 2)}"
    cls = "edge forward" if j > i else "edge back"
    return (f'<path class="{cls}" d="{path}" marker-end="url(#arrow)">'
            f"<title>{escape(source.value)} → {escape(target.value)}: {label}</title></path>")


def lifecycle_svg(current: str | None) -> Markup:
    """The lifecycle, left to right, with `current` highlighted (aria-current on its box)."""
    width = _x(ORDER[-1]) + BOX_W + 10
    height = TOP + BOX_H + 50
    parts = [
        f'<svg class="lifecycle" role="img" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-labelledby="lifecycle-title">',
        '<title id="lifecycle-title">Case lifecycle'
        + (f", now in {escape(current)}" if current else "") + "</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        "</defs>",
    ]
    parts += [_edge(s, t, k) for (s, t), k in sorted(lifecycle_edges().items())]
    for state in ORDER:
        is_current = state.value == current
        cls = "state current" if is_current else "state"
        aria = ' aria-current="step"' if is_current else ""
        x = _x(state)
        parts.append(
            f'<g class="{cls}" data-state="{state.value}"{aria}>'
            f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
            f'<text x="{x + BOX_W / 2}" y="{TOP + BOX_H / 2 + 5}" text-anchor="middle">'
            f"{escape(state.value.replace('_', ' '))}</text></g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart_svg(title: str, bars: list[tuple[str, float | None, float | None]],
                  unit: str = "days", marker_label: str = "service level") -> Markup:
    """Horizontal bars (label, value, marker): the marker is drawn as a tick on each bar's row,
    e.g. the service level against the time actually spent."""
    row_h, label_w, plot_w = 26, 150, 420
    values = [v for _, v, m in bars for v in (v, m) if v is not None]
    top = max(values, default=0) or 1
    height = 30 + row_h * len(bars) + 10
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {label_w + plot_w + 80} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text class="chart-title" x="0" y="16">{escape(title)}</text>']
    for i, (label, value, marker) in enumerate(bars):
        y = 28 + i * row_h
        parts.append(f'<g class="bar" data-label="{escape(label)}">'
                     f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
                     f"{escape(label.replace('_', ' '))}</text>")
        if value is not None:
            w = max(plot_w * value / top, 1)
            parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}">'
                         f"<title>{escape(label)}: {value:.1f} {unit}</title></rect>"
                         f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 15}">'
                         f"{value:.1f}</text>")
        if marker is not None:
            mx = label_w + plot_w * marker / top
            parts.append(f'<line class="marker" x1="{mx:.1f}" x2="{mx:.1f}" y1="{y}" '
                         f'y2="{y + row_h - 2}"><title>{escape(marker_label)}: {marker:.1f} '
                         f"{unit}</title></line>")
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
