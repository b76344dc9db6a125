"""Closed vocabularies of the protocol: states, outcomes, roles, contact means, risk levels."""

from enum import StrEnum


class CaseState(StrEnum):
    """The lifecycle of the design card, in order."""

    INVESTIGATION = "investigation"
    REFERRAL = "referral"
    CHARGING = "charging"
    PREPARATION = "preparation"
    PLEAS = "pleas"
    TRIAL = "trial"
    RESTRAINING_ORDER = "restraining_order"
    CLOSED = "closed"


class Outcome(StrEnum):
    """Why a closed case closed."""

    NO_FURTHER_ACTION = "no_further_action"
    DISCONTINUED = "discontinued"
    CONVICTED = "convicted"
    ACQUITTED = "acquitted"
    ORDER_EXPIRED = "order_expired"


class Role(StrEnum):
    """Who may act on a case; each action names the roles the protocol gives it."""

    OFFICER_IN_CASE = "officer_in_case"
    POLICE_SPOC = "police_spoc"
    PROSECUTOR = "prosecutor"
    CPS_SPOC = "cps_spoc"
    WITNESS_CARE = "witness_care"
    MANAGER = "manager"
    ADMIN = "admin"
    # The service itself (timers, escalations). No token may carry this role.
    SYSTEM = "system"


class TeamRole(StrEnum):
    """The roles of a case team (models.case.TEAM_ROLES), as an action names them."""

    OFFICER_IN_CASE = "officer_in_case"
    POLICE_SPOC = "police_spoc"
    PROSECUTOR = "prosecutor"
    CPS_SPOC = "cps_spoc"
    WITNESS_CARE = "witness_care"


POLICE_ROLES = frozenset({Role.OFFICER_IN_CASE, Role.POLICE_SPOC})
CPS_ROLES = frozenset({Role.PROSECUTOR, Role.CPS_SPOC})


class ContactMeans(StrEnum):
    """§6.4: the complainant's agreed means of contact."""

    TELEPHONE = "telephone"
    TEXT = "text"
    EMAIL = "email"
    LETTER = "letter"
    IN_PERSON = "in_person"
    OTHER = "other"


class RiskTool(StrEnum):
    """§3.7: the risk identification tools the protocol names, or another named tool."""

    DASH = "DASH"
    S_DASH = "S-DASH"
    SASH = "SASH"
    OTHER = "other"


class RiskLevel(StrEnum):
    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class ChargingDecisionKind(StrEnum):
    """The outcomes of an MG3 (§4.7) or a police charging decision."""

    CHARGE = "charge"
    NO_FURTHER_ACTION = "no_further_action"
    FURTHER_INVESTIGATION = "further_investigation"


class ChargingTest(StrEnum):
    """Code for Crown Prosecutors: the Full Code Test, or the Threshold Test (§4.10)."""

    FULL_CODE = "full_code"
    THRESHOLD = "threshold"


class DecidedBy(StrEnum):
    POLICE = "police"
    CPS = "cps"


class Verdict(StrEnum):
    CONVICTED = "convicted"
    ACQUITTED = "acquitted"


class SupportService(StrEnum):
    """§5.4 and §6.5: the specialist supporters the protocol names."""

    IDVA = "IDVA"
    ISVA = "ISVA"
    YPVA = "YPVA"
    ISAC = "ISAC"
    OTHER = "other"


class Form(StrEnum):
    """§9.3: the forms that carry a restraining-order application and notice."""

    MG3 = "MG3"
    MG6 = "MG6"


class SentenceKind(StrEnum):
    """The sentence passed for one charge."""

    CUSTODIAL = "custodial"
    SUSPENDED = "suspended"
    COMMUNITY_ORDER = "community_order"
    FINE = "fine"
    DISCHARGE = "discharge"


class SpoKind(StrEnum):
    """Stalking Protection Act 2019: a full order (s.1) or an interim one (s.5)."""

    INTERIM = "interim"
    FULL = "full"
