"""Suspects and complainants, and what the protocol requires to be recorded about each.

Names, addresses and contact details here are personal data: they travel only inside
encrypted Temporal payloads and are shown only to the roles that need them.
"""

from datetime import date, datetime

from pydantic import BaseModel, Field

from models.enums import ContactMeans, RiskLevel, RiskTool, SupportService

# The contact details a complainant has had on the case, replaced since: the latest kept.
FORMER_CONTACT_LIMIT = 20


class Suspect(BaseModel):
    suspect_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    date_of_birth: date | None = None
    identifiers: dict[str, str] = Field(
        default_factory=dict,
        description="Other identifiers: PNC id, phone numbers, e-mail and social-media handles.",
    )


class RiskAssessment(BaseModel):
    """§3.7: one assessment with a named tool, its level, date and assessor."""

    tool: RiskTool
    tool_name: str | None = Field(default=None, description="Required when tool is 'other'.")
    level: RiskLevel
    assessed_on: date
    assessor: str = Field(min_length=1, max_length=200)
    recorded_at: datetime | None = Field(default=None, description="Set by the service.")


class ContactDetails(BaseModel):
    """§6.4: the complainant's SPOC, preferred means and, where needed, a safe method."""

    spoc: str | None = None
    preferred_means: ContactMeans | None = None
    safe_contact: str | None = Field(
        default=None, description="A safe number or method agreed with the complainant."
    )
    phone: str | None = None
    email: str | None = None
    address: str | None = None


# P6.4: the means a complainant may choose that a message can go by, and its channel. Any
# other means (a visit, through a supporter) needs a person to make contact.
MESSAGE_CHANNEL = {"text": "sms", "telephone": "sms", "email": "email"}


def message_address(contact: ContactDetails) -> str | None:
    """Where a message goes by the complainant's chosen means: a safe number first for a text
    or call, else the e-mail. (A means no message can use, a letter or a visit, is refused
    when sending, so the deadline shows as failing and a person makes contact.)"""
    if MESSAGE_CHANNEL.get(contact.preferred_means.value if contact.preferred_means else "") == "sms":
        return contact.safe_contact or contact.phone
    return contact.email


# The fields of ContactDetails that hold a detail (an address, a number, an e-mail, a method).
CONTACT_VALUES = ("phone", "email", "address", "safe_contact")


class VictimPersonalStatement(BaseModel):
    """§6.7: a VPS, or the reason it was not taken, and how it is to be presented."""

    taken_on: date | None = None
    not_taken_reason: str | None = None
    presentation: str | None = Field(
        default=None, description="Read aloud by the complainant, read for them, or played."
    )
    addendum: bool = False


class SpecialMeasuresViews(BaseModel):
    """§6.5: special measures explained and the complainant's informed views."""

    explained_on: date
    views: str = Field(min_length=1)
    supporter: SupportService | None = None
    supporter_name: str | None = None


class SupportReferral(BaseModel):
    """§6.1: a referral to a specialist service, only with consent."""

    service: str = Field(min_length=1)
    consent: bool
    referred_on: date


class Complainant(BaseModel):
    complainant_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    contact: ContactDetails = Field(default_factory=ContactDetails)
    risk_assessments: list[RiskAssessment] = Field(default_factory=list)
    vps: list[VictimPersonalStatement] = Field(default_factory=list)
    special_measures: SpecialMeasuresViews | None = None
    support_referrals: list[SupportReferral] = Field(default_factory=list)
    altered_behaviour: str | None = Field(default=None, description="§3.9: the recorded answer.")
    order_views: str | None = Field(
        default=None, description="§5.2/§9.2: views on restraining-order conditions."
    )
    address_changed_at: datetime | None = None
    former_contact: list[str] = Field(
        default_factory=list,
        description="Addresses, phones, e-mails and safe contacts replaced since they were "
                    f"recorded, oldest first (the latest {FORMER_CONTACT_LIMIT}): free text "
                    "that repeats one is withheld as the current ones are.")

    def replace_contact(self, contact: ContactDetails) -> None:
        """Record new contact details, keeping each value they replace among the former."""
        for name in CONTACT_VALUES:
            old, new = getattr(self.contact, name), getattr(contact, name)
            if old and old != new:
                self.keep_former(old)
        self.contact = contact

    def keep_former(self, value: str) -> None:
        former = [v for v in self.former_contact if v != value] + [value]
        self.former_contact = former[-FORMER_CONTACT_LIMIT:]

    def latest_risk(self) -> RiskAssessment | None:
        # The latest by date; of two on the same date, the one recorded last.
        ranked = sorted(enumerate(self.risk_assessments), key=lambda p: (p[1].assessed_on, p[0]))
        return ranked[-1][1] if ranked else None
