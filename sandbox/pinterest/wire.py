"""What Pinterest's answers look like on the wire: error bodies, rate-limit headers, JSON responses.

Error bodies are the spec's ``Error`` schema, ``{"code": int, "message": str}``, with the codes Pinterest uses:

| HTTP | code | message | when |
| --- | --- | --- | --- |
| 400 | 1 | ``<field>: <what is wrong>`` | a parameter or body breaks the spec or a documented limit |
| 400 | 4196 | ``Invalid request: <field>: <what is wrong>`` | POST /events body breaks the event schema |
| 401 | 2 | ``Authentication failed.`` | missing, unknown or expired bearer token |
| 403 | 29 | ``You are not permitted to access that resource.`` | an ad account other than the dataset's |
| 404 | 404 | ``... not found.`` / ``...: no such endpoint.`` | unknown ad (restate), unknown /v5 path |
| 422 | 422 | ``Not all events were successfully processed.`` | some CAPI events failed (``details``) |
| 429 | 8 | ``This request exceeded a rate limit...`` | a per-minute budget is spent, or an injected burst |
| 500 | 12 | ``Something went wrong on our end. Sorry about that.`` | injected server error |

Codes 2, 8, 29 and 4196 and their messages are the spec's own examples; code 1 is what Pinterest answers for
invalid parameters (e.g. ``You can only get data from the last 90 days.``); 12 is Pinterest's generic
server-side error. 422's code is the sandbox's choice (the spec's ``DetailedError`` gives none).
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import Response

RATE_LIMIT_MESSAGE = (
    "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate limits "
    "within a short time window."
)
AUTH_FAILED = "Authentication failed."
NOT_PERMITTED = "You are not permitted to access that resource."
SERVER_ERROR = "Something went wrong on our end. Sorry about that."


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


class ApiError(Exception):
    """Raised while handling a request; answered with Pinterest's ``{"code", "message"}`` body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.details = status, code, message, headers, details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body

    def response(self) -> Response:
        return json_response(self.body(), self.status, self.headers)


def invalid(message: str) -> ApiError:
    return ApiError(400, 1, message)


def unauthorized() -> ApiError:
    return ApiError(401, 2, AUTH_FAILED)


def forbidden() -> ApiError:
    return ApiError(403, 29, NOT_PERMITTED)


def not_found(what: str) -> ApiError:
    return ApiError(404, 404, f"{what} not found.")


def rate_limited(retry_after: float, limit: int | None = None) -> ApiError:
    """429 as Pinterest's edge answers it: code 8, ``Retry-After`` and the ``x-ratelimit-*`` headers."""
    seconds = str(max(math.ceil(retry_after), 1))
    headers = {"Retry-After": seconds, "x-ratelimit-reset": seconds, "x-envoy-ratelimited": "true"}
    if limit is not None:
        headers |= {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0"}
    return ApiError(429, 8, RATE_LIMIT_MESSAGE, headers=headers)


def server_error() -> ApiError:
    return ApiError(500, 12, SERVER_ERROR)
