"""A case workflow that ends as it is told: failed with a message, or waiting until it times out
or is cancelled (for the tests of ended workflows). In its own module: the sandbox re-imports a
workflow's module, so this one imports nothing else."""

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError


@workflow.defn(name="CaseWorkflow")
class EndingCaseWorkflow:
    @workflow.run
    async def run(self, start: Any) -> None:
        if start.get("fail"):
            raise ApplicationError(start["fail"], non_retryable=True)
        await workflow.wait_condition(lambda: False)  # until timed out or cancelled
