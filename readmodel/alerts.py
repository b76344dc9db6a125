"""Stuck-case alerts (stuck_alerts): what the sweeper and the ended-workflow lookup record."""

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from models.monitoring import AlertRow


def upsert_alerts(session: Session, alerts: Iterable[AlertRow], refreshed: tuple[str, ...],
                  now: datetime) -> None:
    """Open each alert, or refresh the `refreshed` fields of one already open; the caller
    commits. A repeat changes nothing but when it was last seen."""
    for alert in alerts:
        row = session.get(AlertRow, (alert.reference, alert.alert_id))
        if row is None or row.cleared_at is not None:
            session.merge(alert)
            continue
        for key in refreshed:
            setattr(row, key, getattr(alert, key))
        row.last_seen = now
        session.add(row)
