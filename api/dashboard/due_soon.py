"""The managers' due-soon page: the area's deadlines falling due in the next five working days
(readmodel/due_soon.py), a page at a time, with whose move each is. No names or contacts."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.dashboard.routes import DASHBOARD_PAGE, render_page, to_login
from api.dashboard.session import cookie_user
from api.deps import SessionDep
from readmodel.due_soon import DUE_SOON_WORKING_DAYS, due_soon

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/due-soon", response_class=HTMLResponse)
def due_soon_list(request: Request, session: SessionDep,
                  page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    """The user's area's deadlines due in the next five working days, soonest first, with
    whose move each is."""
    actor = cookie_user(request)
    if actor is None:
        return to_login()
    found = due_soon(session, actor.area, datetime.now(UTC), limit=DASHBOARD_PAGE,
                     offset=(page - 1) * DASHBOARD_PAGE)
    shown = (page - 1) * DASHBOARD_PAGE
    return render_page(request, "due_soon.html", actor, items=found.items, total=found.total,
                       until=found.until, page=page, first_shown=shown + 1,
                       working_days=DUE_SOON_WORKING_DAYS,
                       previous_page=urlencode({"page": page - 1}) if page > 1 else None,
                       next_page=urlencode({"page": page + 1})
                       if shown + len(found.items) < found.total else None)
