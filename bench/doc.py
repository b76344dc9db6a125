"""docs/benchmarks.md from one run's Results."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.report import Results, plot_lists


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
