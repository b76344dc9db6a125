"""StuckCaseSweep: one run of the stuck-case sweeper, started by a Temporal Schedule.

A Schedule rather than a loop in each worker: however many workers run, one sweep runs at a
time (overlap SKIP), it survives restarts, and `temporal schedule describe` shows it.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import activity_contracts as contracts

SWEEP_WORKFLOW = "StuckCaseSweep"


@workflow.defn(name=SWEEP_WORKFLOW)
class StuckCaseSweep:
    @workflow.run
    async def run(self) -> int:
        """Sweep once; the next scheduled run tries again, so retries stay few."""
        return await workflow.execute_activity(
            contracts.sweep_stuck_cases, start_to_close_timeout=timedelta(minutes=4),
            retry_policy=RetryPolicy(maximum_attempts=2))
