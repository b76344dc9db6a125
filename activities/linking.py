"""P3.8 (AUTO): search the service's own cases for the same suspect, in this and other areas.

Names are normalised (case, accents, punctuation, word order) and compared with date of birth
and other identifiers (phone numbers, e-mail addresses, PNC ids). A shared identifier is the
strongest evidence; a name alone is weak and is reported as such, never hidden.
"""

from sqlalchemy import Engine
from sqlmodel import Session, col, or_, select

from models.linking import LinkQuery, SuspectMatch
from models.people import Suspect
from models.tables import CaseRow, SuspectRow
from readmodel.suspects import identifiers_of, normalise_name, surname_of
from workflows import activity_contracts as contracts
from workflows.activity_contracts import implements

NAME_AND_DOB = 0.9
IDENTIFIER = 0.95
SURNAME_AND_DOB = 0.6
NAME_ONLY = 0.5


def score(ours: Suspect, name: str, dob: str | None, idents: set[str],
          surname: str = "") -> tuple[float, list[str]]:
    """The confidence that a stored suspect (normalised name, surname, dob, identifiers) is
    ours."""
    reasons: list[str] = []
    shared = identifiers_of(ours) & idents
    if shared:
        reasons.append("shared identifier: " + ", ".join(sorted(s.split(":")[0] for s in shared)))
    same_dob = ours.date_of_birth is not None and dob == ours.date_of_birth.isoformat()
    our_name = normalise_name(ours.name)
    if our_name == name:
        reasons.append("same name")
    elif same_dob and surname and surname_of(ours.name) == surname:
        reasons.append("same surname")
    if same_dob:
        reasons.append("same date of birth")
    if shared:
        confidence = IDENTIFIER
    elif our_name == name:
        confidence = NAME_AND_DOB if same_dob else NAME_ONLY
    elif "same surname" in reasons:
        confidence = SURNAME_AND_DOB
    else:
        confidence = 0.0
    return confidence, reasons


class LinkingActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @implements(contracts.find_linked_cases)
    def find(self, query: LinkQuery) -> list[SuspectMatch]:
        """Matches in other cases, best first; indexed by normalised name and identifiers."""
        names = [normalise_name(s.name) for s in query.suspects]
        idents = set().union(*(identifiers_of(s) for s in query.suspects)) if query.suspects else set()
        with Session(self._engine) as session:
            candidates = session.exec(select(SuspectRow).where(
                SuspectRow.reference != query.reference,
                or_(col(SuspectRow.norm_name).in_(names),
                    col(SuspectRow.surname).in_([surname_of(s.name) for s in query.suspects]),
                    *[col(SuspectRow.identifiers).contains(f"|{i}|") for i in idents]))).all()
            matches: dict[str, SuspectMatch] = {}
            for row in candidates:
                stored_idents = {i for i in row.identifiers.split("|") if i}
                for ours in query.suspects:
                    confidence, reasons = score(ours, row.norm_name, row.date_of_birth,
                                                stored_idents, row.surname)
                    best = matches.get(row.reference)
                    if confidence > 0 and (best is None or confidence > best.confidence):
                        case = session.get(CaseRow, row.reference)
                        if case is None:
                            continue
                        matches[row.reference] = SuspectMatch(
                            reference=row.reference, police_area=case.police_area,
                            suspect_id=row.suspect_id, confidence=confidence, reasons=reasons,
                            state=case.state, outcome=case.outcome,
                            charges=[c for c in case.charges.split(",") if c],
                            orders_made=case.orders_made, breaches=case.breaches)
        return sorted(matches.values(), key=lambda m: (-m.confidence, m.reference))
