"""Linked incidents (P3.8, P4.6): suspects matched across cases, with a confidence."""

from pydantic import BaseModel, Field

from models.people import Suspect


class LinkQuery(BaseModel):
    reference: str
    police_area: str
    suspects: list[Suspect]


class SuspectMatch(BaseModel):
    """Another case whose suspect looks like one of ours, and what it holds for P4.6."""

    reference: str
    police_area: str
    suspect_id: str
    confidence: float = Field(ge=0, le=1)
    reasons: list[str]
    state: str
    outcome: str | None = None
    charges: list[str] = Field(default_factory=list)
    orders_made: int = 0
    breaches: int = 0
