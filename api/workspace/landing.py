"""Who the workspace is for, and where each user lands once signed in (the dashboard's login
sends case handlers here; managers and admins keep the dashboard)."""

from models.case import Actor
from models.enums import Role

# The roles a case team names: their work is cases, not the area's figures.
HANDLER_ROLES = frozenset({Role.OFFICER_IN_CASE, Role.POLICE_SPOC, Role.PROSECUTOR,
                           Role.CPS_SPOC, Role.WITNESS_CARE})
HOME = "/dashboard/work"


def home_for(actor: Actor) -> str:
    return HOME if actor.role in HANDLER_ROLES else "/dashboard"
