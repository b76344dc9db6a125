"""Each query parameter is given once: one check on every request.

No route takes a list in its query string, and given `?reference=A&reference=B` a route would
silently read only the last, answering for a filter the caller did not mean. A parameter given
more than once is refused with the usual 422 naming it, before the route runs.
"""

from collections import Counter

from fastapi import Request
from fastapi.exceptions import RequestValidationError

MESSAGE = "Given more than once: send each query parameter once."


async def refuse_repeated_query_parameters(request: Request) -> None:
    """App-wide dependency: 422 for a query string that names a parameter twice or more."""
    counts = Counter(key for key, _ in request.query_params.multi_items())
    repeated = sorted(key for key, count in counts.items() if count > 1)
    if repeated:
        raise RequestValidationError([
            {"loc": ["query", key], "msg": MESSAGE, "type": "repeated_parameter", "input": None}
            for key in repeated])
