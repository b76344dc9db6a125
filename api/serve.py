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
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def process_count(configured: int) -> int:
    """The processes to run: as configured, or one per core this process may use."""
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def prepare_metrics_directory(configured: str | None) -> Path:
    """An empty directory for this run's metric files: the files of processes from an earlier
    run would otherwise be summed into this one's counts."""
    path = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="cases-api-metrics-"))
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
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
    if processes > 1:
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
