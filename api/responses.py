"""The answers other than success each route can give, for the OpenAPI document.

Every route declares what it may answer (tests/test_fuzz_openapi.py holds each answer to the
document): the shapes below, combined per router and per route. A refusal's body is
`{"detail": {"rule": ..., "message": ...}}` (api/errors.py); a malformed request's is a list of
fields (422); the framework's own answers (a token missing, a body that cannot be parsed, an
undeclared method) carry a sentence.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Refusal(BaseModel):
    """Why a request was refused: the rule that refused it, and a sentence."""

    model_config = ConfigDict(extra="allow")
    rule: str = Field(description="NOT_FOUND, ACCESS, INPUT, AUTH, UNAVAILABLE, a protocol "
                                  "rule (P3.7)...")
    message: str | None = None


class Problem(BaseModel):
    """A refusal, or the framework's sentence (e.g. \"A bearer token is required.\")."""

    detail: Refusal | str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    """A malformed request, field by field; or a refusal of what the body names (rule INPUT)."""

    detail: list[FieldError] | Refusal


Responses = dict[int | str, dict[str, Any]]


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


# A bearer token is needed: missing, expired or not ours is 401; an identity provider whose
# keys cannot be fetched is 503.
AUTHENTICATED: Responses = {
    401: _problem("No bearer token, or one that is not valid (the detail says why)."),
    503: _problem("Unavailable for now (detail.rule UNAVAILABLE): the identity provider's keys, "
                  "the workflow service or the database; Retry-After says when to try again."),
}
# One case named in the path: another area's case answers as an unknown one.
ONE_CASE: Responses = {404: _problem("No such case (or another area's).")}
# A JSON or form body: one the parser cannot read (nested too deeply) is 400.
WITH_BODY: Responses = {400: _problem("The body could not be parsed.")}
MALFORMED: Responses = {422: {"model": Unprocessable, "description": (
    "Malformed: a list of the fields that are wrong; or refused for what it names "
    "(detail.rule INPUT).")}}
FORBIDDEN: Responses = {403: _problem("Not for your role or area (detail.rule ACCESS).")}
REFUSED: Responses = {409: _problem("Refused by a protocol rule (detail.rule), or the case is "
                                    "closed.")}


def responses(*groups: Responses, **described: str) -> Responses:
    """The groups merged; `described` overrides a status's description: s404="No report."."""
    merged: Responses = {}
    for group in groups:
        for status, spec in group.items():
            merged[status] = dict(spec)
    for key, description in described.items():
        status = int(key.removeprefix("s"))
        merged[status] = {**merged.get(status, {"model": Problem}), "description": description}
    return merged
