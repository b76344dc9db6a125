"""`make bench` / `python -m bench [--quick]`: every user-facing path against the bare Temporal
round trip, measured in one run on a stack this command starts and stops itself.

Prints the table and writes docs/benchmarks.md with docs/bench-lists.png. See bench/run.py for
the phases and docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.doc import machine, merge_into, rerender, write_doc
from bench.report import Results
from bench.run import Config, Run, log
from bench.stack import ROOT, running_stack

# memory stops the API, the workers and the first Temporal server: what needs them runs before.
PHASES = ["latency", "throughput", "breakdown", "lists", "bigcase", "memory", "years"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a smaller run (fewer samples, shorter throughput, smaller sizes)")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma-separated phases to run (default: all of {','.join(PHASES)})")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="where to write the results (default docs/benchmarks.md); '-' for none")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--merge", action="store_true",
                        help="run --only's phases again and put their figures into the page "
                             "and figures already at --out, keeping the others")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: write --out again from the figures saved beside it")
    args = parser.parse_args()
    if args.render:
        rerender(Path(args.out))
        return 0
    phases = [p for p in args.only.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    config = Config.quick_run() if args.quick else Config()
    command = "make bench" if not args.quick and args.only == ",".join(PHASES) else \
        "python -m bench " + " ".join(sys.argv[1:])
    results = Results()
    results.notes["machine_before"] = machine()
    started = time.time()
    out = Path(args.out) if args.out != "-" else None
    if args.merge and out is not None:  # measure into a file of its own, then merge
        out = out.with_name(out.stem + "-merge" + out.suffix)

    def checkpoint() -> None:
        # After every phase: an interrupted run still leaves what it measured.
        results.notes["machine_after"] = machine()
        results.notes["elapsed_s"] = time.time() - started
        if out is not None:
            write_doc(results, config, command, out)

    failed = asyncio.run(_run(config, phases, results, args.keep_logs, checkpoint))
    checkpoint()
    if args.merge and out is not None:
        merge_into(out, results, phases, command)
    print()
    print(results.table())
    if out is not None:
        log(f"wrote {out} and {out.parent / 'bench-lists.png'}")
    return 1 if failed else 0


async def _run(config: Config, phases: list[str], results: Results, keep_logs: bool,
               checkpoint: Callable[[], None]) -> bool:
    failed = False
    async with running_stack(keep_logs=keep_logs) as stack:
        await stack.start_temporal()
        log(f"stack: Temporal dev server on {stack.temporal_address}, database {stack.database}, "
            f"logs in {stack.workdir}")
        stack.start_worker()
        stack.start_floor_worker()
        await stack.start_api(processes=config.api_processes)
        run = Run(stack, config, results)
        await run.connect()
        await asyncio.sleep(3)  # the workers' first polls
        for phase in phases:
            try:
                if phase == "latency":
                    run.report_latency(await run.latency())
                else:
                    await getattr(run, phase)()
            except Exception:  # one phase failing still reports the others
                failed = True
                text = traceback.format_exc()
                results.notes.setdefault("failures", {})[phase] = text
                log(f"phase {phase} FAILED:\n{text}")
                for proc in stack.procs:
                    if not proc.running and proc.name in ("temporal", "worker", "api", "worker-rss"):
                        log(f"{proc.name} exited; its log ends:\n{proc.tail(2000)}")
            checkpoint()
        if keep_logs or failed:
            stack.keep_logs = True
            log(f"logs kept in {stack.workdir}")
    return failed


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
