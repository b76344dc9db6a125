"""The API as production starts it, `python -m api.serve`, with two processes on one port.

Requests spread over both processes; `GET /metrics` answers the sum of every process's counts
whichever process takes the scrape; the audit chain that both processes append to, with its
checkpoints written by both, verifies whole; every accepted action is applied once.
"""

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.metrics import forget_dead_processes
from api.serve import prepare_metrics_directory, process_count
from core.audit import AuditTrail, CheckpointFile, verify_chain
from core.db import make_engine
from core.settings import Settings
from tests.proc_steps import CaseClient, Tally, missing_accepted, new_references, settle
from tests.procs import Stack, metric_value, running_stack

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]

PROCESSES = 2
HEALTH_CHECKS = 60  # each on a connection of its own, all at once, so both processes take some
ACTIONS = 30
CHECKPOINT_EVERY = 5


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as stack:
        stack.extra_env |= {
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "api-metrics"),
            "CASES_AUDIT_CHECKPOINT_PATH": str(tmp_path / "checkpoints.jsonl"),
            "CASES_AUDIT_CHECKPOINT_EVERY": str(CHECKPOINT_EVERY),
        }
        yield stack


async def _health_on_its_own_connection(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return (await http.get("/health")).status_code


async def test_two_api_processes_share_one_port_one_count_and_one_audit_chain(
        stack: Stack, tmp_path: Path) -> None:
    assert stack.client is not None
    await stack.start_worker()
    api = await stack.start_api(processes=PROCESSES)
    # Health checks made while waiting for it to start count too: count from here.
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        before = metric_value((await http.get("/metrics")).text, "cases_api_requests_total",
                              route="/health")

    statuses = await asyncio.gather(*(_health_on_its_own_connection(api.url)
                                      for _ in range(HEALTH_CHECKS)))
    reference = new_references(1, "PROCS")[0]
    tally = Tally()
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
        client = CaseClient(http, tally)
        opened = await client.open(reference)
        outcomes = await asyncio.gather(*(
            client.act(reference, "officer_in_case", "record_new_incident",
                       key=f"{reference}:incident:{i}") for i in range(ACTIONS)))
        action_attempts = sum(n for (_, method, url), n in tally.reached.items()
                              if url.endswith("/actions"))
        # A request is counted once its answer and the read-model write after it are done.
        for _ in range(100):
            if metric_value((await http.get("/metrics")).text, "cases_api_requests_total",
                            route="/cases/{reference}/actions") >= action_attempts:
                break
            await asyncio.sleep(0.1)
        scrapes = [(await http.get("/metrics")).text for _ in range(4)]

    assert statuses == [200] * HEALTH_CHECKS
    assert opened.status == 201
    assert [o.status for o in outcomes] == [200] * ACTIONS, tally.faults
    for exposition in scrapes:  # whichever process answered the scrape
        assert metric_value(exposition, "cases_api_requests_total",
                            route="/health") - before == HEALTH_CHECKS
        assert metric_value(exposition, "cases_api_requests_total",
                            route="/cases/{reference}/actions") == action_attempts
    # The counts are summed from files written by more than one process.
    writers = {path.stem.rsplit("_", 1)[-1] for path in (tmp_path / "api-metrics").glob("counter_*.db")}
    assert len(writers) >= PROCESSES, writers

    engine = make_engine(stack.database_url)
    try:
        cases = await settle(stack.client, engine, [reference])
        assert not missing_accepted(tally, cases)
        versions = [h.version for h in cases[reference].history]
        assert versions == list(range(1, 2 + ACTIONS)), "each action applied once, in order"
        trail = AuditTrail(key=Settings().audit_key.encode(), every=CHECKPOINT_EVERY,
                           checkpoints=CheckpointFile(tmp_path / "checkpoints.jsonl"))
        check = verify_chain(engine, trail)
        assert check.ok, (check.reason, check.problems)
        assert check.count >= 1 + ACTIONS  # the open and every action are audited
        assert check.checkpoints_matched >= 2
    finally:
        engine.dispose()


async def test_the_launcher_runs_one_process_per_core_unless_told(tmp_path: Path) -> None:
    no_cgroup = tmp_path / "none"
    assert process_count(3) == 3
    assert process_count(0, no_cgroup) == len(os.sched_getaffinity(0))
    # A container's CPU quota (cgroup v2): 1.5 CPUs run 2 processes at most, whatever the host.
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert process_count(0, v2) == min(2, len(os.sched_getaffinity(0)))
    (v2 / "cpu.max").write_text("max 100000\n")
    assert process_count(0, v2) == len(os.sched_getaffinity(0))
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert process_count(0, v1) == 1


async def test_metric_files_of_an_earlier_run_or_a_killed_process_are_not_summed(
        tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"old")
    (directory / "keep.txt").write_text("an operator's file")
    assert sorted(p.name for p in prepare_metrics_directory(str(directory)).iterdir()) == \
        ["keep.txt"], "only metric files go"
    assert prepare_metrics_directory(str(tmp_path / "made")).is_dir()
    # A live gauge of a process that is gone (killed, never stopped) leaves the sum.
    gone_pid = _a_pid_that_has_ended()
    (directory / f"gauge_livesum_{gone_pid}.db").write_bytes(b"")
    (directory / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    forget_dead_processes(directory)
    assert sorted(p.name for p in directory.glob("gauge_*.db")) == \
        [f"gauge_livesum_{os.getpid()}.db"]


def _a_pid_that_has_ended() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
