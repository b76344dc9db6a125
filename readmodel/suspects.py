"""P3.8: the suspect index, each case's suspects normalised for matching across cases.

Written by the projection (readmodel/projection.py); searched by activities/linking.py.
"""

import re
import unicodedata

from sqlmodel import Session, col, delete, select

from models.people import Suspect
from models.tables import SuspectRow


def normalise_name(name: str) -> str:
    """'O'Brien,  JOHN' and 'john obrien' both become 'john obrien'."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    plain = re.sub(r"['.\-]", "", plain)  # curly quotes were dropped by the ASCII step
    words = sorted(w for w in re.split(r"[^a-z0-9]+", plain) if w)
    return " ".join(words)


def normalise_identifier(kind: str, value: str) -> str:
    value = value.strip().lower()
    if kind in ("phone", "mobile", "telephone") or re.fullmatch(r"[+\d ()-]{7,}", value):
        digits = re.sub(r"\D", "", value)
        return "phone:" + (digits[-10:] if len(digits) >= 10 else digits)
    return f"{kind.lower()}:{value}"


def surname_of(name: str) -> str:
    """'Smith, John' -> 'smith'; 'John Smith' -> 'smith' (before the words are sorted)."""
    family = name.split(",")[0] if "," in name else (name.split() or [""])[-1]
    return normalise_name(family).replace(" ", "")


def identifiers_of(suspect: Suspect) -> set[str]:
    return {normalise_identifier(k, v) for k, v in suspect.identifiers.items() if v.strip()}


def index_suspects(session: Session, reference: str, area: str, suspects: list[Suspect]) -> None:
    """Keep the suspect index of one case in step with its case file (called by projection)."""
    session.exec(delete(SuspectRow).where(col(SuspectRow.reference) == reference))
    for s in suspects:
        name = normalise_name(s.name)
        session.add(SuspectRow(
            reference=reference, suspect_id=s.suspect_id, police_area=area, norm_name=name,
            surname=surname_of(s.name),
            date_of_birth=s.date_of_birth.isoformat() if s.date_of_birth else None,
            identifiers="|" + "|".join(sorted(identifiers_of(s))) + "|"))


def suspects_changed(session: Session, reference: str, suspects: list[Suspect]) -> bool:
    """Suspects are only ever added (add_suspect): the index changes when their ids do."""
    stored = set(session.exec(select(SuspectRow.suspect_id).where(
        col(SuspectRow.reference) == reference)))
    return stored != {s.suspect_id for s in suspects}
