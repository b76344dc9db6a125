"""Every activity a workflow calls is a contract (workflows/activity_contracts.py) with
exactly one implementation the worker registers, under the same name, taking and returning
the same types: a call by reference cannot drift from what runs."""

import ast
import inspect
from pathlib import Path
from typing import Any, get_type_hints

from temporalio import activity

from core.db import make_engine
from core.settings import Settings
from worker import activities
from workflows.activity_contracts import CONTRACTS, name_of


def _signature(fn: Any) -> tuple[list[Any], Any]:
    hints = get_type_hints(fn)
    params = [hints[p] for p in inspect.signature(fn).parameters if p != "self"]
    return params, hints.get("return")


def test_each_contract_has_one_implementation_of_its_types() -> None:
    engine = make_engine("sqlite://")
    registered = activities(None, Settings(_env_file=None), engine)  # type: ignore[arg-type]
    by_name: dict[str, list[Any]] = {}
    for implementation in registered:
        definition = activity._Definition.must_from_callable(implementation)
        by_name.setdefault(str(definition.name), []).append(implementation)
    assert sorted(by_name) == sorted(name_of(c) for c in CONTRACTS)
    for contract in CONTRACTS:
        [implementation] = by_name[name_of(contract)]
        assert _signature(implementation) == _signature(contract), name_of(contract)
        assert inspect.iscoroutinefunction(implementation) == \
            inspect.iscoroutinefunction(contract), name_of(contract)


def test_the_workflows_call_every_activity_by_its_contract() -> None:
    """No `execute_activity("name", ...)`: the first argument is always a contract."""
    calls = 0
    for path in Path(__file__).resolve().parents[1].joinpath("workflows").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "execute_activity":
                calls += 1
                first = node.args[0]
                assert isinstance(first, ast.Attribute) and \
                    isinstance(first.value, ast.Name) and first.value.id == "contracts", \
                    f"{path.name}:{node.lineno} names an activity other than by its contract"
    assert calls >= 6
