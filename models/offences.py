"""Offences the service charges, each with its statute and maximum penalty.

Maximum penalties are on indictment, in months (or None for an unlimited fine only), and
summary-only offences are flagged: Magistrates' Courts Act 1980 s.127 gives them a six-month
limit for laying the information. The ranking of charges (G.2: most serious first) uses these.
"""

from enum import StrEnum

from pydantic import BaseModel


class Offence(StrEnum):
    HARASSMENT = "pha1997_s2"
    STALKING = "pha1997_s2a"
    HARASSMENT_FEAR_OF_VIOLENCE = "pha1997_s4"
    STALKING_FEAR_OR_DISTRESS = "pha1997_s4a"
    BREACH_OF_RESTRAINING_ORDER = "pha1997_s5_breach"
    CONTROLLING_OR_COERCIVE = "sca2015_s76"
    COMMON_ASSAULT = "cja1988_s39"
    ASSAULT_ABH = "oapa1861_s47"
    PUBLIC_ORDER_S4 = "poa1986_s4"
    PUBLIC_ORDER_S4A = "poa1986_s4a"
    MALICIOUS_COMMUNICATIONS = "mca1988_s1"
    CRIMINAL_DAMAGE = "cda1971_s1"
    THREATS_TO_KILL = "oapa1861_s16"
    BREACH_OF_NON_MOLESTATION_ORDER = "fla1996_s42a"
    BREACH_OF_STALKING_PROTECTION_ORDER = "spa2019_s8"
    THREATENING_COMMUNICATIONS = "osa2023_s181"


class OffenceInfo(BaseModel, frozen=True):
    title: str
    statute: str
    max_months: int
    summary_only: bool
    stalking: bool = False
    harassment: bool = False


OFFENCES: dict[Offence, OffenceInfo] = {
    Offence.HARASSMENT: OffenceInfo(
        title="Harassment", statute="Protection from Harassment Act 1997 s.2",
        max_months=6, summary_only=True, harassment=True),
    Offence.STALKING: OffenceInfo(
        title="Stalking", statute="Protection from Harassment Act 1997 s.2A",
        max_months=6, summary_only=True, stalking=True),
    # s.4 and s.4A: 10 years since the Policing and Crime Act 2017 s.175.
    Offence.HARASSMENT_FEAR_OF_VIOLENCE: OffenceInfo(
        title="Harassment: putting people in fear of violence",
        statute="Protection from Harassment Act 1997 s.4",
        max_months=120, summary_only=False, harassment=True),
    Offence.STALKING_FEAR_OR_DISTRESS: OffenceInfo(
        title="Stalking involving fear of violence or serious alarm or distress",
        statute="Protection from Harassment Act 1997 s.4A",
        max_months=120, summary_only=False, stalking=True),
    Offence.BREACH_OF_RESTRAINING_ORDER: OffenceInfo(
        title="Breach of a restraining order",
        statute="Protection from Harassment Act 1997 s.5(5) / Sentencing Act 2020 s.363",
        max_months=60, summary_only=False),
    # Controlling or coercive behaviour: 5 years (Serious Crime Act 2015 s.76(11)).
    Offence.CONTROLLING_OR_COERCIVE: OffenceInfo(
        title="Controlling or coercive behaviour", statute="Serious Crime Act 2015 s.76",
        max_months=60, summary_only=False),
    Offence.COMMON_ASSAULT: OffenceInfo(
        title="Common assault", statute="Criminal Justice Act 1988 s.39",
        max_months=6, summary_only=True),
    Offence.ASSAULT_ABH: OffenceInfo(
        title="Assault occasioning actual bodily harm",
        statute="Offences Against the Person Act 1861 s.47",
        max_months=60, summary_only=False),
    Offence.PUBLIC_ORDER_S4: OffenceInfo(
        title="Fear or provocation of violence", statute="Public Order Act 1986 s.4",
        max_months=6, summary_only=True),
    Offence.PUBLIC_ORDER_S4A: OffenceInfo(
        title="Intentional harassment, alarm or distress", statute="Public Order Act 1986 s.4A",
        max_months=6, summary_only=True),
    # Malicious communications: either way, 2 years since the Criminal Justice and Courts Act 2015.
    Offence.MALICIOUS_COMMUNICATIONS: OffenceInfo(
        title="Malicious communications", statute="Malicious Communications Act 1988 s.1",
        max_months=24, summary_only=False),
    Offence.CRIMINAL_DAMAGE: OffenceInfo(
        title="Criminal damage", statute="Criminal Damage Act 1971 s.1(1)",
        max_months=120, summary_only=False),
    # Threats to kill: either way, 10 years on indictment (Offences Against the Person Act 1861
    # s.16).
    Offence.THREATS_TO_KILL: OffenceInfo(
        title="Threats to kill", statute="Offences Against the Person Act 1861 s.16",
        max_months=120, summary_only=False),
    # Breach of a non-molestation order: either way, 5 years on indictment (Family Law Act 1996
    # s.42A(5)).
    Offence.BREACH_OF_NON_MOLESTATION_ORDER: OffenceInfo(
        title="Breach of a non-molestation order", statute="Family Law Act 1996 s.42A",
        max_months=60, summary_only=False),
    # Breach of a stalking protection order (or an interim one): either way, 5 years on
    # indictment (Stalking Protection Act 2019 s.8).
    Offence.BREACH_OF_STALKING_PROTECTION_ORDER: OffenceInfo(
        title="Breach of a stalking protection order",
        statute="Stalking Protection Act 2019 s.8", max_months=60, summary_only=False),
    # Threatening communications: either way, 5 years on indictment (Online Safety Act 2023
    # s.181(5)).
    Offence.THREATENING_COMMUNICATIONS: OffenceInfo(
        title="Threatening communications", statute="Online Safety Act 2023 s.181",
        max_months=60, summary_only=False),
}


def most_serious_first(offences: list[Offence]) -> list[Offence]:
    """G.2: order charges by maximum penalty, indictable before summary-only on a tie."""
    return sorted(
        offences,
        key=lambda o: (-OFFENCES[o].max_months, OFFENCES[o].summary_only, o.value),
    )


def is_harassment_only(offences: list[Offence]) -> bool:
    """True when the charges include harassment (s.2/s.4) and no stalking offence."""
    infos = [OFFENCES[o] for o in offences]
    return any(i.harassment for i in infos) and not any(i.stalking for i in infos)
