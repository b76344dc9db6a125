"""Which methods a path takes, told the way RFC 9110 asks: `OPTIONS` answers 204 with an Allow
header listing them, and every 405 carries the same header.

Starlette's own 405 names only the methods of the first route that matched the path, and
answers OPTIONS with a 405 too; a path served by several routes (`GET /cases` and
`POST /cases`) needs every route's methods. CORS preflights for the codec (api/routes/codec.py)
are answered before this, by the CORS middleware.
"""

import re
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.routing import compile_path, get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import HttpMiddleware

try:  # FastAPI 0.165 keeps included routers whole; this walks the routes inside them
    from fastapi.routing import iter_route_contexts

    def _routes(app: Any) -> Iterable[Any]:
        return iter_route_contexts(app.routes)
except ImportError:  # pragma: no cover - an earlier FastAPI flattens app.routes itself
    def _routes(app: Any) -> Iterable[Any]:
        return list(app.routes)

RouteTable = list[tuple[re.Pattern[str], frozenset[str]]]


def route_table(app: Any) -> RouteTable:
    """Each route's path pattern and methods, included routers' routes among them."""
    table: RouteTable = []
    for route in _routes(app):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods:
            table.append((compile_path(path)[0], frozenset(methods)))
    return table


def allowed_methods(table: RouteTable, path: str) -> list[str]:
    """Every method some route serves at this path, OPTIONS included; none if no route serves
    the path at all."""
    methods = frozenset().union(*(m for regex, m in table if regex.match(path)))
    return sorted(methods | {"OPTIONS"}) if methods else []


class AllowedMethods(HttpMiddleware):
    """ASGI middleware: OPTIONS is 204 with Allow; a 405 gets the complete Allow."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self._table: RouteTable | None = None  # built at the first request: routes are final

    def _allowed(self, scope: Scope) -> list[str]:
        if self._table is None:
            self._table = route_table(scope["app"])
        return allowed_methods(self._table, get_route_path(scope))

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "OPTIONS" and (methods := self._allowed(scope)):
            await Response(status_code=204, headers={"Allow": ", ".join(methods)})(
                scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405 \
                    and (methods := self._allowed(scope)):
                MutableHeaders(scope=message)["Allow"] = ", ".join(methods)
            await send(message)

        await self.app(scope, receive, send_with_allow)
