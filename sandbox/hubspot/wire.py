"""What HubSpot's responses look like on the wire: instants, error bodies and JSON responses.

Every error body has HubSpot's envelope (``status``, ``message``, ``correlationId``, ``category``, optional
``subCategory``/``context``/``errors``) and carries the correlation id in ``X-HubSpot-Correlation-Id`` too, so the
client's ``ApiException.body`` and ``.headers`` look as they do against ``api.hubapi.com``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from starlette.responses import Response

_DIGITS = re.compile(r"-?\d+")
CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")  # what iso_ms writes
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

JSON_TYPE = "application/json;charset=utf-8"


def parse_instant(value: Any) -> int | None:
    """Epoch milliseconds of a HubSpot datetime value (epoch-ms digits, ISO-8601 or a bare date); None if not one."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    if not text:
        return None
    if text[-1] != "Z" and _DIGITS.fullmatch(text):
        return int(text)
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def canonical(text: str, millis: int) -> str:
    """``text`` if it is already in :func:`iso_ms`'s format, else ``iso_ms(millis)`` (cheap on big datasets)."""
    return text if isinstance(text, str) and CANONICAL.fullmatch(text) else iso_ms(millis)


def iso_ms(millis: int) -> str:
    """HubSpot's instant format: ISO-8601 UTC with milliseconds and ``Z`` (``2025-06-30T12:00:00.123Z``)."""
    moment = _EPOCH + dt.timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def to_millis(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (no model validation on the hot path: the search must stay fast)."""
    content = json.dumps(body, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type=JSON_TYPE)


def error_body(
    category: str, message: str, *, sub_category: str | None = None, context: dict[str, list[str]] | None = None,
    errors: list[dict[str, Any]] | None = None, status: str = "error",
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "message": message, "correlationId": str(uuid.uuid4())}
    if context:
        body["context"] = context
    if errors:
        body["errors"] = errors
    body["category"] = category
    if sub_category:
        body["subCategory"] = sub_category
    return body


def error_response(status: int, category: str, message: str, **details: Any) -> Response:
    body = error_body(category, message, **details)
    return json_response(body, status, {"X-HubSpot-Correlation-Id": body["correlationId"]})


class HubSpotError(Exception):
    """Raised by request handling to answer with HubSpot's error envelope (caught by the routes)."""

    def __init__(self, status: int, category: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.message, self.details = status, category, message, details

    def response(self) -> Response:
        return error_response(self.status, self.category, self.message, **self.details)


def validation_error(message: str, **details: Any) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, **details)
