"""docs/benchmarks.md from one run's Results."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.report import Figure, Results, plot_lists


def _run(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    lscpu = _run("lscpu")
    keep = ("Architecture", "CPU(s)", "Model name", "Thread(s) per core", "Core(s) per socket",
            "Hypervisor vendor", "L2 cache", "L3 cache")
    return {
        "at": datetime.now().isoformat(timespec="seconds"),
        "lscpu": "\n".join(line for line in lscpu.splitlines() if line.split(":")[0] in keep),
        "free": _run("free", "-h"),
        "load": os.getloadavg(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_doc(results: Results, config: Any, command: str, out: Path) -> None:
    from bench.text import render

    out.parent.mkdir(parents=True, exist_ok=True)
    series = results.notes.get("list_series")
    if series:
        plot_lists(series, out.parent / "bench-lists.png", target_ms=50)
    out.write_text(render(results, config, command))
    # Everything the page was made from, so that its wording can be revised without a new run.
    out.with_suffix(".json").write_text(json.dumps({
        "command": command, "config": dataclasses.asdict(config),
        "figures": [dataclasses.asdict(f) for f in results.figures],
        "notes": results.notes}, indent=1, default=str) + "\n")


def rerender(out: Path) -> None:
    """Write the page again from the figures saved beside it (python -m bench --render)."""
    from bench.run import Config

    saved = json.loads(out.with_suffix(".json").read_text())
    results = Results(figures=[Figure(**f) for f in saved["figures"]], notes=saved["notes"])
    for key, value in results.notes.get("list_series", {}).items():  # JSON keys are strings
        results.notes["list_series"][key] = {int(n): tuple(v) for n, v in value.items()}
    write_doc(results, Config(**saved["config"]), saved["command"], out)
