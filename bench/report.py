"""The figures of one run: a table on the terminal and docs/benchmarks.md with its plot."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    section: str
    name: str
    value: str
    floor: str = ""
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("pass" if self.ok else "MISS")

    @property
    def ratio_text(self) -> str:
        return "" if self.ratio is None else f"{self.ratio:.2f}x"


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    def table(self) -> str:
        headers = ["section", "figure", "value", "floor", "ratio", "target", ""]
        rows = [[f.section, f.name, f.value, f.floor, f.ratio_text, f.target, f.verdict]
                for f in self.figures]
        widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
        section = None
        for row in rows:
            if row[0] != section and section is not None:
                out.append("")
            section = row[0]
            out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        return "\n".join(out)

    def markdown_table(self, section: str | None = None) -> str:
        rows = [f for f in self.figures if section is None or f.section == section]
        out = ["| figure | value | floor (same run) | ratio | target | |",
               "|---|---|---|---|---|---|"]
        for f in rows:
            out.append(f"| {f.name} | {f.value} | {f.floor} | {f.ratio_text} | {f.target} | "
                       f"{'**MISS**' if f.ok is False else f.verdict} |")
        return "\n".join(out)


def plot_lists(series: dict[str, dict[int, tuple[float, float]]], path: Path,
               target_ms: float | None = None) -> None:
    """List latency (p50 solid, p95 dashed) against the number of cases, log x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for i, (name, points) in enumerate(series.items()):
        sizes = sorted(points)
        colour = f"C{i}"
        ax.plot(sizes, [points[s][0] for s in sizes], "o-", color=colour, label=f"{name} p50")
        ax.plot(sizes, [points[s][1] for s in sizes], "s--", color=colour, alpha=0.7,
                label=f"{name} p95")
    if target_ms:
        ax.axhline(target_ms, color="red", linewidth=0.8, linestyle=":",
                   label=f"target p95 < {target_ms:g} ms at 100,000")
    ax.set_xscale("log")
    ax.set_xlabel("cases in the read model (PostgreSQL)")
    ax.set_ylabel("latency through the API (ms)")
    ax.set_title("Case lists against the size of the read model")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
