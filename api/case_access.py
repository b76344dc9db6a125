"""Reading one case for a user: from its workflow (always current), within the user's area."""

from datetime import timedelta

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from api.errors import from_rpc_error, not_found
from models.case import Actor, CaseFile
from workflows.case import CaseWorkflow, case_workflow_id

# A case the codec endpoint looks up answers in this time, or is taken as unreadable.
LOOKUP_TIMEOUT = timedelta(seconds=10)


def in_area(case: CaseFile, actor: Actor) -> bool:
    return actor.area in (case.police_area, case.cps_area)


def _check_area(case: CaseFile, actor: Actor) -> None:
    # Another area's case answers as if unknown: it reveals nothing, not even that it exists.
    if not in_area(case, actor):
        raise not_found(case.reference)


async def read_case_file(client: Client, reference: str, actor: Actor) -> CaseFile:
    handle = client.get_workflow_handle(case_workflow_id(reference))
    try:
        case = await handle.query(CaseWorkflow.snapshot)
    except RPCError as err:
        raise from_rpc_error(err, reference) from err
    _check_area(case, actor)
    return case


async def case_file_or_none(client: Client, reference: str) -> CaseFile | None:
    """The case file as it stands, or None if there is no such case or it cannot be read now
    (its workflow gone, failing, or no worker answering)."""
    handle = client.get_workflow_handle(case_workflow_id(reference))
    try:
        return await handle.query(CaseWorkflow.snapshot, rpc_timeout=LOOKUP_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError, ValueError):
        return None
