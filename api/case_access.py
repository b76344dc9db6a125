"""Reading one case for a user: from its workflow (always current), within the user's area."""

from fastapi import HTTPException
from temporalio.client import Client
from temporalio.service import RPCError

from api.errors import from_rpc_error, not_found
from models.case import Actor, CaseFile
from workflows.case import CaseWorkflow, case_workflow_id


def _check_area(case: CaseFile, actor: Actor) -> None:
    # Another area's case answers as if unknown: it reveals nothing, not even that it exists.
    if actor.area not in (case.police_area, case.cps_area):
        raise not_found(case.reference)


async def read_case_file(client: Client, reference: str, actor: Actor) -> CaseFile:
    handle = client.get_workflow_handle(case_workflow_id(reference))
    try:
        case = await handle.query(CaseWorkflow.snapshot)
    except RPCError as err:
        raise from_rpc_error(err, reference) from err
    _check_area(case, actor)
    return case


async def action_failure(client: Client, reference: str, actor: Actor, err: RPCError) -> HTTPException:
    """An action's RPC failure as an answer. "Closed" (409) says that the case exists, so it
    is the answer of the case's own areas only; another area gets the 404 of an unknown case."""
    answer = from_rpc_error(err, reference)
    if answer.status_code == 409:
        await read_case_file(client, reference, actor)  # raises that 404 for another area
    return answer
