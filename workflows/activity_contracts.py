"""The activities the workflows call, by reference: each one's name, argument and result.

Workflows call these stubs (`workflow.execute_activity(contracts.project_case, ...)`), so a
call is typed and the name is written once, here. The worker registers an implementation under
each (activities/*, with `@implements(contract)`); tests/test_activity_contracts.py checks that
every contract has exactly one, taking and returning the same types. Pure: no I/O, nothing the
workflow sandbox refuses.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity

from models.actions import ProjectionInput
from models.case import CaseFile
from models.linking import LinkQuery, SuspectMatch
from models.notifications import Notification
from models.spoc import AreaFigures, AreaMonth

F = TypeVar("F", bound=Callable[..., Any])


def _run_by_the_worker() -> Any:
    raise NotImplementedError("a contract: the worker runs the implementation registered for it")


@activity.defn(name="project_case")
def project_case(projection: ProjectionInput | CaseFile) -> int:
    """Write history entries once and, when given, the case's facts (activities/projection.py)."""
    return _run_by_the_worker()


@activity.defn(name="history_versions_missing")
def history_versions_missing(projection: ProjectionInput) -> list[int]:
    """Which of these entries' versions the read model lacks."""
    return _run_by_the_worker()


@activity.defn(name="send_notification")
def send_notification(notification: Notification) -> str:
    """Deliver one message once (activities/notify.py)."""
    return _run_by_the_worker()


@activity.defn(name="find_linked_cases")
def find_linked_cases(query: LinkQuery) -> list[SuspectMatch]:
    """P3.8: other cases whose suspect looks like one of ours (activities/linking.py)."""
    return _run_by_the_worker()


@activity.defn(name="area_figures")
def area_figures(month: AreaMonth) -> AreaFigures:
    """P4.1: an area's figures for a month (activities/spoc_contact.py)."""
    return _run_by_the_worker()


@activity.defn(name="sweep_stuck_cases")
async def sweep_stuck_cases() -> int:
    """One sweep for stuck cases (activities/sweeper.py)."""
    return _run_by_the_worker()


CONTRACTS: list[Callable[..., Any]] = [project_case, history_versions_missing, send_notification,
                                       find_linked_cases, area_figures, sweep_stuck_cases]


def name_of(contract: Callable[..., Any]) -> str:
    definition = activity._Definition.must_from_callable(contract)
    assert definition.name is not None
    return definition.name


def implements(contract: Callable[..., Any]) -> Callable[[F], F]:
    """Register the decorated function or method as the activity of this contract."""
    return activity.defn(name=name_of(contract))
