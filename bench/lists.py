"""The read model at 1,000 / 10,000 / 100,000 cases: bulk-loaded with COPY, then listed through
the API (p50, p95).

Rows are generated for every column each table has, so columns added later are filled with
their defaults rather than breaking the load. The spread is meant to look like a force's
caseload: eight areas (the measured one holding 30 %), a third of the cases closed, time in
state drawn against each state's service level so that about one open case in ten is over it,
one to three deadlines per open case of which about 5 % are overdue and escalated, and a few
sweeper alerts.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Boolean, DateTime, Integer
from sqlmodel import SQLModel

import models.tables
from models.enums import CaseState

try:  # the managers' tables (deadlines, alerts) and service levels, where they exist
    import models.monitoring  # noqa: F401
    from core.service_levels import DEFAULT_SERVICE_LEVEL_DAYS
except ImportError:  # pragma: no cover - an older tree
    DEFAULT_SERVICE_LEVEL_DAYS = {}

AREAS = ["north", "south", "east", "west", "midlands", "wales", "london", "border"]
HOME_SHARE = 0.3
STATE_WEIGHTS = {
    CaseState.INVESTIGATION: 22, CaseState.REFERRAL: 5, CaseState.CHARGING: 6,
    CaseState.PREPARATION: 10, CaseState.PLEAS: 5, CaseState.TRIAL: 5,
    CaseState.RESTRAINING_ORDER: 12, CaseState.CLOSED: 35,
}
DEADLINE_KINDS = [("risk_review", "P3.7"), ("action_plan", "P4.7"), ("bail_expiry", "PACE s.47ZB"),
                  ("hearing_reminder", "Victims' Code Right 7"), ("tell_charging_decision", "P4.9")]
NOW = datetime.now(UTC)


def _columns(table: str) -> list[Any]:
    found = SQLModel.metadata.tables.get(table)
    return list(found.columns) if found is not None else []


def _fill(columns: list[Any], known: dict[str, Any], fallback_time: datetime) -> list[Any]:
    values = []
    for column in columns:
        if column.name in known:
            values.append(known[column.name])
        elif column.default is not None and getattr(column.default, "is_scalar", False):
            values.append(column.default.arg)
        elif column.nullable:
            values.append(None)
        elif isinstance(column.type, Boolean):
            values.append(False)
        elif isinstance(column.type, Integer):
            values.append(0)
        elif isinstance(column.type, DateTime):
            values.append(fallback_time)
        else:
            values.append("")
    return values


def _case(i: int, rng: random.Random) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                list[dict[str, Any]]]:
    area = "north" if rng.random() < HOME_SHARE else rng.choice(AREAS[1:])
    state = rng.choices(list(STATE_WEIGHTS), weights=list(STATE_WEIGHTS.values()))[0]
    level = DEFAULT_SERVICE_LEVEL_DAYS.get(state)
    # P(days in state > service level) = exp(-1/0.45), about 11 %.
    days = rng.expovariate(1 / (0.45 * level)) if level else rng.uniform(0, 1000)
    state_since = NOW - timedelta(days=days)
    opened = state_since - timedelta(days=rng.uniform(0, 300))
    reference = f"L{i:07d}"
    is_open = state is not CaseState.CLOSED
    deadlines: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 3)):
        kind, rule = rng.choice(DEADLINE_KINDS)
        overdue = is_open and rng.random() < 0.05
        due = NOW - timedelta(days=rng.uniform(1, 30)) if overdue else \
            NOW + timedelta(days=rng.uniform(1, 90))
        met = None if is_open else state_since
        deadlines.append({
            "reference": reference, "deadline_id": f"{kind}:{n}", "version": 3, "kind": kind,
            "rule": rule, "description": f"{kind.replace('_', ' ')} for the case",
            "owner_role": "officer_in_case", "due_at": due, "remind_at": due - timedelta(days=2),
            "opened_at": state_since, "reminded_at": due - timedelta(days=2) if overdue else None,
            "escalated_at": due if overdue else None, "met_at": met,
            "failing": "smtp: 451 try later" if is_open and rng.random() < 0.002 else None})
    open_due: list[datetime] = sorted(d["due_at"] for d in deadlines if d["met_at"] is None)
    alerts = []
    if is_open and rng.random() < 0.001:
        alerts.append({"reference": reference, "alert_id": "activity:send_notification",
                       "kind": "failing_activity", "police_area": area, "state": state.value,
                       "state_since": state_since, "subject": "send_notification", "attempts": 7,
                       "last_failure": "connection refused", "first_seen": NOW - timedelta(hours=5),
                       "last_seen": NOW, "cleared_at": None})
    case = {
        "reference": reference, "police_area": area, "cps_area": area, "state": state.value,
        "outcome": "convicted" if not is_open else None,
        "stalking": rng.random() < 0.6, "domestic_abuse": rng.random() < 0.4,
        "version": rng.randint(1, 60), "opened_at": opened, "state_since": state_since,
        "updated_at": state_since, "complainants": rng.randint(1, 3), "charges": "pha1997_s4a",
        "linked_cases": "", "next_deadline": open_due[0] if open_due else None,
        "overdue": any(d["escalated_at"] and d["met_at"] is None for d in deadlines),
    }
    return case, deadlines, alerts


def load(url: str, total: int, already: int, seed: int = 9) -> float:
    """Grow the read model from `already` to `total` synthetic cases with COPY; returns seconds."""
    tables = {name: _columns(name) for name in ("cases", "case_deadlines", "stuck_alerts")}
    tables = {k: v for k, v in tables.items() if v}
    rng = random.Random(seed + already)
    started = datetime.now()
    batches: dict[str, list[list[Any]]] = {name: [] for name in tables}
    for i in range(already, total):
        case, deadlines, alerts = _case(i, rng)
        batches["cases"].append(_fill(tables["cases"], case, case["state_since"]))
        for name, extra in (("case_deadlines", deadlines), ("stuck_alerts", alerts)):
            if name in tables:
                batches[name] += [_fill(tables[name], row, case["state_since"]) for row in extra]
    with psycopg.connect(url) as conn:
        if already == 0:
            for name in tables:
                conn.execute(f'TRUNCATE "{name}"')
        for name, columns in tables.items():
            names = ", ".join(f'"{c.name}"' for c in columns)
            with conn.cursor() as cur, cur.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
                for row in batches[name]:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        for name in tables:
            conn.execute(f'VACUUM ANALYZE "{name}"')
    return (datetime.now() - started).total_seconds()


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])  # type: ignore[index]


def count_prefix(url: str, prefix: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM cases WHERE reference LIKE %s", (prefix + "-%",))
        return int(row.fetchone()[0])  # type: ignore[index]
