"""Opening a case: complainant ids and suspect ids are unique within it (actions name people
by id). Pure, and through POST /cases with no Temporal server: the body is refused first."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from api.main import create_app
from core.settings import Settings
from models.actions import NewCase
from tests.api_steps import new_case_body


def body(**fields: Any) -> dict[str, Any]:
    return new_case_body("REF-1") | fields


def person(person_id: str, key: str = "complainant_id") -> dict[str, str]:
    return {key: person_id, "name": f"Person {person_id}"}


def test_two_complainants_with_one_id_are_refused_naming_the_id() -> None:
    with pytest.raises(ValidationError) as refused:
        NewCase.model_validate(body(complainants=[person("C1"), person("C2"), person("C1")]))
    message = str(refused.value)
    assert "complainant_id 'C1' is given to more than one complainant" in message
    assert "'C2'" not in message


def test_two_suspects_with_one_id_are_refused_naming_the_id() -> None:
    suspects = [person("S1", "suspect_id"), person("S1", "suspect_id")]
    with pytest.raises(ValidationError) as refused:
        NewCase.model_validate(body(suspects=suspects))
    assert "suspect_id 'S1' is given to more than one suspect" in str(refused.value)


def test_every_repeated_id_is_named() -> None:
    complainants = [person("C2"), person("C1"), person("C2"), person("C1")]
    with pytest.raises(ValidationError) as refused:
        NewCase.model_validate(body(complainants=complainants))
    assert "complainant_id 'C1', 'C2' is given" in str(refused.value)


def test_people_with_ids_of_their_own_are_accepted() -> None:
    case = NewCase.model_validate(body(
        complainants=[person("C1"), person("C2")],
        suspects=[person("S1", "suspect_id"), person("S2", "suspect_id")]))
    assert [c.complainant_id for c in case.complainants] == ["C1", "C2"]


@pytest.fixture
async def api_without_temporal(settings: Settings,
                               engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client=object(), engine=engine)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://cases.test") as http:
        yield http


async def test_post_cases_with_a_repeated_complainant_id_is_a_422_naming_it(
        api_without_temporal: httpx.AsyncClient, auth: Callable[..., dict[str, str]]) -> None:
    response = await api_without_temporal.post(
        "/cases", json=new_case_body("REF-DUP-1", complainants=("C1", "C1")),
        headers=auth("officer_in_case"))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert "complainant_id 'C1' is given to more than one complainant" in error["msg"]
