"""Property-based run over the OpenAPI document: no input, however malformed, gets a 500.

Schemathesis reads the app's own OpenAPI document and generates requests for every operation,
both requests that fit the schema (positive) and requests that break it (negative: wrong types,
missing fields, out-of-range numbers, odd strings). They go through the real app, dev server,
worker and database, with a valid token; each answer must be below 500 and every 4xx must say
what is wrong (a JSON body with a detail). Half the generated requests that name a case name
one that exists, so the Temporal paths are exercised too, not only the 404.

The run is bounded (MAX_EXAMPLES per operation) to stay well under a minute.
"""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api_steps import Handler, new_reference

AREA = "fuzzarea"
MAX_EXAMPLES = 20
# Roles that between them reach most branches: police open cases and act, the CPS acts; only
# an admin (or manager) gets past the decode's role check.
ROLES = ("officer_in_case", "prosecutor")
ROLE_FOR = {"/codec/decode": "admin"}
OPENAPI_DOC: dict[str, Any] = {}



def _operations() -> list[tuple[str, str]]:
    from api.main import create_app
    from core.settings import Settings

    doc = create_app(Settings(_env_file=None)).openapi()
    OPENAPI_DOC.update(doc)
    return [(method.upper(), path) for path, item in doc["paths"].items() for method in item]


OPERATIONS = _operations()
_SCHEMA = schemathesis.openapi.from_dict(OPENAPI_DOC)


@pytest.fixture(scope="module")
async def fuzz_case(api: httpx.AsyncClient, auth: Any) -> str:
    """A real case in the fuzzing area, so generated actions reach its workflow."""
    handler = Handler(api, auth, new_reference("FUZZ"), area=AREA)
    assert (await handler.open()).status_code == 201
    return handler.reference


def _request(case: schemathesis.Case, headers: dict[str, str]) -> dict[str, Any]:
    """Schemathesis' request (requests-style keyword arguments) for httpx."""
    kwargs = case.as_transport_kwargs(base_url="http://cases.test", headers=headers)
    request: dict[str, Any] = {"method": kwargs["method"], "url": kwargs["url"],
                               "headers": kwargs.get("headers") or {},
                               "params": kwargs.get("params") or None}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), dict):
        request["data"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["content"] = kwargs["data"]
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    return request


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_malformed_request_gets_a_500(method: str, path: str, api: httpx.AsyncClient,
                                               auth: Callable[..., dict[str, str]],
                                               fuzz_case: str, data: st.DataObject) -> None:
    operation = _SCHEMA[path][method]
    mode = data.draw(st.sampled_from(GenerationMode), label="mode")
    fixed = {}
    if "{reference}" in path and not data.draw(st.booleans(), label="unknown case"):
        fixed = {"reference": fuzz_case}
    case = data.draw(operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    if (method, path) == ("POST", "/cases") and mode.is_positive and isinstance(case.body, dict):
        case.body["police_area"] = AREA  # else nearly every valid case is refused for its area
    role = ROLE_FOR.get(path) or data.draw(st.sampled_from(ROLES), label="role")
    request = _request(case, auth(role, area=AREA))
    response = await api.request(**request)
    assert response.status_code < 500, (request, response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json().get("detail"), (request, response.text)


# Hand-picked inputs a generator rarely finds; the first four once answered 500.

ENCRYPTED = {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==",  # binary/encrypted
             "encryption-key-id": "ZGV2ZWxvcG1lbnQ="}  # development
NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    # An offset past what SQLite or PostgreSQL can hold (OverflowError, then a 500).
    ("GET", "/cases", {"params": {"offset": 10**20}}, 422),
    # An "encrypted" payload too short to hold its nonce (AES-GCM's ValueError, then a 500).
    ("POST", "/codec/decode", {"json": {"payloads": [{"metadata": ENCRYPTED, "data": ""}]}}, 400),
    ("POST", "/codec/decode", {"json": {"payloads": [{"metadata": ENCRYPTED, "data": "AAAA"}]}}, 400),
    # A NUL in a username: PostgreSQL cannot compare such text (DataError, then a 500).
    ("POST", "/auth/token", {"data": {"username": "a\x00b", "password": "x"}}, 401),
    ("POST", "/cases", {"content": b"{not json"}, 422),
    ("POST", "/cases/NO-SUCH-CASE/actions", {"content": NESTED}, 400),
    ("GET", "/cases/NUL%00CASE", {}, 404),
], ids=["huge offset", "empty ciphertext", "short ciphertext", "NUL username", "not JSON",
        "deeply nested JSON", "NUL in a reference"])
async def test_malformed_input_is_a_4xx_that_says_why(
        method: str, url: str, kwargs: dict[str, Any], status: int, api: httpx.AsyncClient,
        auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("admin", area=AREA)
    if "content" in kwargs:
        headers["Content-Type"] = "application/json"
    response = await api.request(method, url, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail
    if url == "/codec/decode":
        assert detail == {"rule": "CODEC", "message": "A payload is truncated: too short to decrypt."}
