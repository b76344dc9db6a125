"""A message the service sends: to a role of an area, or to a complainant by their own means."""

from pydantic import BaseModel, Field

from models.enums import Role


class Notification(BaseModel):
    idempotency_key: str = Field(description="The same key is delivered at most once.")
    reference: str
    area: str
    audience: Role | None = Field(default=None, description="A staff role of the area.")
    recipient_user: str | None = Field(
        default=None, description="The named person of the case team for the audience role: "
                                  "the message goes to them (or their deputy while they are "
                                  "away); None, to the role's mailbox.")
    complainant_id: str | None = None
    means: str | None = Field(default=None, description="Complainant's means: text, email...")
    address: str | None = Field(default=None, description="Where a complainant's message goes.")
    subject: str
    body: str
    deadline_id: str | None = None
