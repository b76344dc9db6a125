"""`cases-admin continue-cases-as-new`: ask running case workflows to continue as new.

A run started before bounded runs existed keeps its recorded shape until it continues as new
(docs/versioning.md); this moves such cases at once, each at its next idle moment. A run that
is bounded already simply starts a fresh run. Signals only: nothing is applied to a case.
"""

from temporalio.client import Client

RUNNING_CASES = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"


async def continue_cases_as_new(client: Client, extra_filter: str | None = None) -> int:
    query = f"{RUNNING_CASES} AND ({extra_filter})" if extra_filter else RUNNING_CASES
    signalled = 0
    async for execution in client.list_workflows(query):
        await client.get_workflow_handle(execution.id, run_id=execution.run_id).signal(
            "continue_as_new")
        signalled += 1
    return signalled
