"""Steps on the server-rendered pages over HTTP (no browser): a client signed in as a user, as
the dashboard's login would leave it, and the hidden fields a page's form carries."""

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api.dashboard.session import COOKIE
from core.security import issue_token
from core.settings import Settings
from models.case import Actor
from models.enums import Role


@asynccontextmanager
async def signed_in(app: FastAPI, settings: Settings, role: str, area: str,
                    user: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding the session cookie the login sets for this user."""
    token = issue_token(settings, Actor(user_id=user, role=Role(role), area=area))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://cases.test", cookies={COOKIE: token},
                                 timeout=60) as http:
        yield http


def hidden(page: str, name: str) -> str:
    """The value of the page's hidden input `name`."""
    found = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)">', page)
    assert found is not None, f"no hidden {name} on the page"
    return html.unescape(found.group(1))
