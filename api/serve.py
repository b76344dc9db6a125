"""`python -m api.serve`: the API with as many processes as the machine gives it.

One uvicorn process runs Python on one core at a time, so the API starts one process per core
(CASES_API_PROCESSES; 0, the default, counts the cores this process may run on). Nothing a
request needs lives in one process alone: the sign-in throttle, the audit chain's lock and the
read model are in the database, a case's order of actions is its workflow's, and the audit
checkpoints are appended to their file in single writes. What is per process is merged here:

- the schema is made once, before the processes start, so they never race to create tables;
- the Prometheus counters of every process are written to files in one directory
  (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR) and `GET /metrics`, served
  by whichever process takes the scrape, sums them (api/metrics.py).
"""

import argparse
import math
import os
import tempfile
from pathlib import Path

import uvicorn

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def process_count(configured: int, cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The processes to run: as configured, or one per core this process may use: the cores
    its CPU affinity allows (a cpuset), no more than its CPU quota rounds up to (a container's
    `cpus:` or a pod's CPU limit, which leave the affinity at every core of the host)."""
    if configured > 0:
        return configured
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def cpu_quota(cgroup: Path) -> float | None:
    """The CPUs the cgroup's quota allows (cgroup v2 `cpu.max`, else v1's CFS files), or
    None without a quota."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def prepare_metrics_directory(configured: str | None) -> Path:
    """The directory for this run's metric files, made if missing, with no metric files left
    from an earlier run (they would be summed into this one's counts). Only those files are
    removed: a directory given by an operator may hold other things."""
    path = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="cases-api-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=None,
                        help="overrides CASES_API_PROCESSES (0: one per core)")
    args = parser.parse_args(argv)

    # Imported here: prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is first imported.
    from core.settings import get_settings
    settings = get_settings()
    processes = process_count(settings.api_processes if args.processes is None
                              else args.processes)
    # Several processes sum their counts through files; one process keeps them in memory,
    # unless an operator set a directory (then it is made ready either way).
    if processes > 1 or os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        os.environ[MULTIPROCESS_DIR_VARIABLE] = str(
            prepare_metrics_directory(os.environ.get(MULTIPROCESS_DIR_VARIABLE)))

    from core.db import create_schema, make_engine
    engine = make_engine(settings.database_url)
    create_schema(engine)
    engine.dispose()

    uvicorn.run("api.main:create_app", factory=True, host=args.host, port=args.port,
                workers=processes, proxy_headers=True)


if __name__ == "__main__":
    main()
