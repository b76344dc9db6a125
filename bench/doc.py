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
    from bench.page import versions

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
        "versions": versions(),
    }


def write_doc(results: Results, config: Any, command: str, out: Path) -> None:
    from bench.page import render

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


def merge_into(merged_out: Path, results: Results, phases: list[str], command: str) -> None:
    """Replace, in the page beside merged_out's source, the sections these phases measured."""
    target = merged_out.with_name(merged_out.name.replace("-merge", ""))
    saved = json.loads(target.with_suffix(".json").read_text())
    sections = {f.section for f in results.figures}
    figures = [Figure(**f) for f in saved["figures"] if f["section"] not in sections]
    notes = saved["notes"]
    for key, value in results.notes.items():
        if key not in ("machine_before", "machine_after", "elapsed_s"):
            notes[key] = value
    # An earlier merge of the same phases was replaced by this one: only this one is said.
    notes["merged"] = [m for m in notes.get("merged", []) if set(m["phases"]) - set(phases)]
    notes["merged"].append({
        "command": command, "phases": phases, "at": results.notes["machine_before"]["at"],
        "load": results.notes["machine_before"]["load"]})
    target.with_suffix(".json").write_text(json.dumps(
        {**saved, "figures": [dataclasses.asdict(f) for f in figures + results.figures],
         "notes": notes}, indent=1, default=str) + "\n")
    for leftover in (merged_out, merged_out.with_suffix(".json")):
        leftover.unlink(missing_ok=True)
    rerender(target)


def _numbered(value: Any) -> Any:
    """JSON turned the case counts that key some notes ({1000: ...}) into strings: undo it."""
    if isinstance(value, dict):
        numeric = bool(value) and all(isinstance(k, str) and k.isdigit() for k in value)
        return {(int(k) if numeric else k): _numbered(v) for k, v in value.items()}
    return value


def rerender(out: Path) -> None:
    """Write the page again from the figures saved beside it (python -m bench --render)."""
    from bench.run import Config

    saved = json.loads(out.with_suffix(".json").read_text())
    results = Results(figures=[Figure(**f) for f in saved["figures"]],
                      notes=_numbered(saved["notes"]))
    write_doc(results, Config(**saved["config"]), saved["command"], out)
