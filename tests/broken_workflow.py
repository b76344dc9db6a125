"""A case workflow whose every task fails, as a bad deploy would make it (for the sweeper's
tests). In its own module: the sandbox re-imports a workflow's module, so this one imports
nothing else."""

from typing import Any

from temporalio import workflow


@workflow.defn(name="CaseWorkflow")
class BrokenCaseWorkflow:
    @workflow.run
    async def run(self, start: Any) -> None:
        raise RuntimeError("a bug in the workflow code")
