"""The HTTP side of the Pinterest emulator: one route per emulated v5 operation, plus the sandbox's own paths.

Every ``/v5`` request goes through the same steps, in the order Pinterest's edge applies them:

1. (``FaultMiddleware``, outside the app) maybe an injected fault;
2. authentication: ``Authorization: Bearer <token>`` (ads endpoints: the ads token or a refreshed one; events:
   also the conversion token; ``oauth/token``: HTTP Basic client credentials) -> 401 ``{"code": 2, ...}``;
3. the per-minute budget of the operation's ``x-ratelimit-category`` -> 429 ``{"code": 8, ...}``;
4. validation of path/query parameters and JSON body against the official spec -> 400 naming the field;
5. the ad account: only the dataset's ``ad_account_id`` is accessible -> 403 ``{"code": 29, ...}``;
6. the operation itself, with its documented limits (date ranges, id counts, 1,000 events...).

Handlers parse their parameters themselves too (``Query``), so the server keeps working, with the same limits,
when the spec file is absent and step 4 is skipped.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox.limits import Fault
from sandbox.pinterest.analytics import GRANULARITIES, id_order, is_final
from sandbox.pinterest.quality import LOOKBACK_DAYS, event_quality
from sandbox.pinterest.reporting import (
    REPORT_LEVELS,
    analytics_rows,
    check_report_range,
    check_sync_range,
    report_file,
)
from sandbox.pinterest.spec import InvalidRequest, Operation, PinterestSpec
from sandbox.pinterest.wire import ApiError, forbidden, invalid, json_response, not_found, unauthorized
from sandbox.pinterest.world import (
    ACCESS_TOKEN_SECONDS,
    ANSWER_FAULT_KINDS,
    EQS_FAULT_KINDS,
    EVENTS_FAULT_KINDS,
    REFRESH_TOKEN_SECONDS,
    PinterestWorld,
)

log = logging.getLogger(__name__)

ADS, EVENTS, CLIENT, CONVERSIONS = "ads", "events", "client", "conversions"
KEY_COLUMNS = {"CAMPAIGN": "CAMPAIGN_ID", "AD_GROUP": "AD_GROUP_ID", "AD": "AD_ID", "ADVERTISER": "AD_ACCOUNT_ID"}
MAX_IDS = 250  # campaign_ids, ad_group_ids, ad_ids: maxItems 250
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 250, 25
ENTITY_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT")
DEFAULT_ENTITY_STATUSES = ("ACTIVE", "PAUSED")  # the spec's default: archived entities are NOT listed unless asked
ORDERS = ("ASCENDING", "DESCENDING")
REPORT_POLLS_IN_PROGRESS = 1  # GET .../reports answers IN_PROGRESS this many times per report, then FINISHED
MAX_EVENTS = 1000
EVENT_MAX_AGE = dt.timedelta(days=7)  # "only events that occurred within the previous seven days"
EVENT_MAX_AHEAD = dt.timedelta(hours=1)
ACTION_SOURCES = ("app_android", "app_ios", "web", "offline")
EVENT_NAMES = frozenset(
    {
        # the spec's list
        "add_payment_info", "add_to_cart", "add_to_wishlist", "app_install", "checkout", "custom",
        "initiate_checkout", "lead", "page_visit", "search", "signup", "subscribe", "view_category",
        "view_content", "watch_video",
        # added since (developers.pinterest.com/docs/conversions/event/)
        "app_open", "contact", "customize_product", "find_location", "schedule", "start_trial",
        "submit_application",
    }
)  # fmt: skip
HASHED_USER_FIELDS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id", "hashed_maids")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Query:
    """Typed access to raw query parameters, enforcing the limits the handlers rely on (spec or not)."""

    def __init__(self, raw: dict[str, list[str]]) -> None:
        self.raw = raw

    def values(self, name: str, *, required: bool = False) -> list[str] | None:
        """An array parameter: repeated keys and/or comma-separated values."""
        values = [part for value in self.raw.get(name, []) for part in value.split(",") if part]
        if not values:
            if required:
                raise invalid(f"{name}: required parameter is missing")
            return None
        return values

    def one(self, name: str, *, required: bool = False) -> str | None:
        values = self.raw.get(name)
        if not values:
            if required:
                raise invalid(f"{name}: required parameter is missing")
            return None
        return values[-1]

    def ids(self, name: str, *, required: bool = False, limit: int = MAX_IDS) -> list[str] | None:
        values = self.values(name, required=required)
        if values is None:
            return None
        if len(values) > limit:
            raise invalid(f"{name}: {len(values)} items, at most {limit} allowed")
        for value in values:
            if not value.isdigit():
                raise invalid(f"{name}: {value!r} does not match '^\\d+$'")
        return values

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.one(name)
        if value is None:
            return default
        if not value.lstrip("-").isdigit():
            raise invalid(f"{name}: {value!r} is not of type 'integer'")
        if not low <= int(value) <= high:
            raise invalid(f"{name}: {value} is not between {low} and {high}")
        return int(value)

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.one(name, required=default is None) or default
        if value not in allowed:
            raise invalid(f"{name}: {value!r} is not one of {list(allowed)}")
        return value

    def choices(self, name: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> list[str]:
        values = self.values(name) or list(default)
        for value in values:
            if value not in allowed:
                raise invalid(f"{name}: {value!r} is not one of {list(allowed)}")
        return values

    def date(self, name: str) -> dt.date:
        return parse_date(name, self.one(name, required=True))

    def flag(self, name: str) -> bool:
        value = (self.one(name) or "false").lower()
        if value not in ("true", "false"):
            raise invalid(f"{name}: {value!r} is not of type 'boolean'")
        return value == "true"


def parse_date(name: str, value: Any) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise invalid(f"{name}: {value!r} is not a 'date'")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid(f"{name}: {value!r} is not a 'date'") from None


@dataclass
class Call:
    """What a handler gets: the request, its parsed query and body, and the world."""

    request: Request
    world: PinterestWorld
    query: Query
    body: Any


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    """One emulated operation: where it is served, its spec ``operationId`` and category, who may call it, what
    body it takes, and the code/prefix of its 400 answers."""

    method: str
    path: str
    operation_id: str
    category: str
    handler: Handler
    auth: str = ADS
    body: str | None = None  # "json" | "form"
    invalid_code: int = 1
    invalid_prefix: str = ""


class PinterestApi:
    """Registers ``Route``s on the app and runs each request through the steps of the module doc."""

    def __init__(self, app: FastAPI, world: PinterestWorld, spec: PinterestSpec | None) -> None:
        self.app, self.world, self.spec = app, world, spec

    def add(self, route: Route) -> None:
        operation = self.spec.operation(route.operation_id) if self.spec is not None else None

        async def endpoint(request: Request) -> Response:
            return await self.serve(route, operation, request)

        self.app.add_api_route(
            route.path, endpoint, methods=[route.method], name=route.operation_id, include_in_schema=False
        )

    def authenticate(self, route: Route, request: Request) -> str:
        """Which credential the request carries (ADS, CONVERSIONS or CLIENT), or Pinterest's 401."""
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        tokens = self.world.tokens
        if route.auth == CLIENT:
            try:
                client_id, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise unauthorized() from None
            if scheme.lower() != "basic" or (client_id, secret) != (tokens.client_id, tokens.client_secret):
                raise unauthorized()
            return CLIENT
        if scheme.lower() != "bearer" or not credentials:
            raise unauthorized()
        if tokens.is_ads(credentials):
            return ADS
        if route.auth == EVENTS and tokens.is_conversions(credentials):
            return CONVERSIONS
        raise unauthorized()

    async def read_body(self, route: Route, request: Request) -> Any:
        raw = await request.body()
        if route.body is None or not raw:
            return None
        if route.body == "form":
            return {name: values[-1] for name, values in parse_qs(raw.decode(errors="replace")).items()}
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, route.invalid_code, f"{route.invalid_prefix}the body is not valid JSON") from None

    async def serve(self, route: Route, operation: Operation | None, request: Request) -> Response:
        headers: dict[str, str] = {}
        try:
            kind = self.authenticate(route, request)
            test_event = route.auth == EVENTS and request.query_params.get("test", "").lower() == "true"
            category = None if kind == CONVERSIONS else route.category
            headers = self.world.limits.acquire(category, test_event=test_event)
            query = {name: request.query_params.getlist(name) for name in request.query_params}
            body = await self.read_body(route, request)
            if route.body == "json" and body is None:
                raise ApiError(400, route.invalid_code, f"{route.invalid_prefix}a JSON request body is required")
            if operation is not None:
                try:
                    operation.validate_parameters(request.path_params, query)
                    operation.validate_body(body)
                except InvalidRequest as error:
                    raise ApiError(400, route.invalid_code, f"{route.invalid_prefix}{error}") from None
            account = request.path_params.get("ad_account_id")
            if account is not None and account != self.world.ad_account_id:
                raise forbidden()
            result = await route.handler(Call(request, self.world, Query(query), body))
            response = result if isinstance(result, Response) else json_response(result)
        except ApiError as error:
            response = error.response()
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


# -- ad account and entities ------------------------------------------------------------------------------------


async def get_ad_account(call: Call) -> Any:
    return call.world.ad_account()


def encode_bookmark(last_id: str) -> str:
    cursor = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(cursor).rstrip(b"=").decode()


def decode_bookmark(bookmark: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(bookmark + "=" * (-len(bookmark) % 4)))
        return str(decoded["after"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid("bookmark: not a bookmark returned by this endpoint") from None


def page(items: list[dict[str, Any]], query: Query) -> dict[str, Any]:
    """One page of ``items`` (ascending id order) by ``page_size``/``order``/``bookmark`` (keyset paging)."""
    size = query.integer("page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    descending = query.choice("order", ORDERS, "ASCENDING") == "DESCENDING"
    if descending:
        items = items[::-1]
    bookmark = query.one("bookmark")
    if bookmark:
        after = id_order(decode_bookmark(bookmark))

        def beyond(item: dict[str, Any]) -> bool:
            position = id_order(str(item["id"]))
            return position < after if descending else position > after

        items = [item for item in items if beyond(item)]
    chunk = items[:size]
    more = len(items) > size
    return {"items": chunk, "bookmark": encode_bookmark(str(chunk[-1]["id"])) if more else None}


def entity_list(entities: str, filters: tuple[tuple[str, str], ...]) -> Handler:
    """A list operation over ``world.<entities>``; ``filters`` pairs query parameters with entity fields."""

    async def handler(call: Call) -> Any:
        wanted = [(field, set(ids)) for name, field in filters if (ids := call.query.ids(name)) is not None]
        statuses = set(call.query.choices("entity_statuses", ENTITY_STATUSES, DEFAULT_ENTITY_STATUSES))
        items = [
            entity
            for entity in getattr(call.world, entities).values()
            if entity.get("status", "ACTIVE") in statuses
            and all(str(entity.get(field)) in ids for field, ids in wanted)
        ]
        return page(items, call.query)

    return handler


# -- analytics ----------------------------------------------------------------------------------------------------


def analytics(level: str) -> Handler:
    """A synchronous analytics operation at ``level``: CAMPAIGN, AD_GROUP, AD or ADVERTISER (the ad account)."""

    async def handler(call: Call) -> Any:
        query, world = call.query, call.world
        start, end = query.date("start_date"), query.date("end_date")
        granularity = query.choice("granularity", GRANULARITIES)
        columns = query.values("columns", required=True) or []
        check_sync_range(start, end, world.today, granularity)
        hierarchy = world.metrics.hierarchy
        aggregate = level in ("CAMPAIGN", "AD_GROUP") and query.flag("aggregate_report_rows")
        if level == "AD":
            key_of = ad_selection(world, query)
        elif level == "ADVERTISER":
            key_of = lambda ad_id: world.ad_account_id  # noqa: E731 - every ad counts for the account
        else:
            ids_param, parent_of = {
                "CAMPAIGN": ("campaign_ids", hierarchy.campaign_of),
                "AD_GROUP": ("ad_group_ids", hierarchy.ad_group_of),
            }[level]
            ids = set(query.ids(ids_param, required=True) or [])
            key_of = lambda ad_id: parent if (parent := parent_of.get(ad_id)) in ids else None  # noqa: E731
        rows = analytics_rows(
            world,
            level=level,
            key_column=KEY_COLUMNS[level],
            key_of=key_of,
            start=start,
            end=end,
            granularity=granularity,
            columns=columns,
            aggregate=aggregate,
        )
        return world.answer_faults.apply(rows)

    return handler


def ad_selection(world: PinterestWorld, query: Query) -> Callable[[str], str | None]:
    """``ads/analytics``: "The request must contain either ad_ids or both campaign_ids and pin_ids." """
    ad_ids = query.ids("ad_ids")
    campaign_ids = query.ids("campaign_ids")
    pin_ids = query.ids("pin_ids", limit=100)
    if ad_ids is None and (campaign_ids is None or pin_ids is None):
        raise invalid("ad_ids: required unless both campaign_ids and pin_ids are given")
    hierarchy = world.metrics.hierarchy
    # Sets: key_of runs once per stored ad (20,000 on a big world).
    ad_set = set(ad_ids) if ad_ids is not None else None
    campaign_set = set(campaign_ids) if campaign_ids is not None else None
    pin_set = set(pin_ids) if pin_ids is not None else None

    def key_of(ad_id: str) -> str | None:
        if ad_set is not None and ad_id not in ad_set:
            return None
        if campaign_set is not None and hierarchy.campaign_of.get(ad_id) not in campaign_set:
            return None
        if pin_set is not None and str(world.ads.get(ad_id, {}).get("pin_id")) not in pin_set:
            return None
        return ad_id

    return key_of


async def metrics_ready_state(call: Call) -> Any:
    day = parse_date("date", call.query.one("date", required=True))
    ready = is_final(day, call.world.today)
    return {"conversion_metrics_ready": ready, "non_conversion_metrics_ready": ready}


# -- async reports ------------------------------------------------------------------------------------------------


async def create_report(call: Call) -> Any:
    body = call.body
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    level = body.get("level")
    if level not in REPORT_LEVELS:
        raise invalid(f"level: {level!r} is not emulated (the sandbox reports {', '.join(REPORT_LEVELS)})")
    granularity = body.get("granularity")
    if granularity not in GRANULARITIES:
        raise invalid(f"granularity: {granularity!r} is not one of {list(GRANULARITIES)}")
    start, end = parse_date("start_date", body.get("start_date")), parse_date("end_date", body.get("end_date"))
    columns = body.get("columns")
    if not isinstance(columns, list) or not columns:
        raise invalid("columns: required, a non-empty list of reporting columns")
    check_report_range(start, end, call.world.today, granularity)
    report = call.world.new_report({"report_format": "JSON", "primary_sort": "BY_ID", **body})
    return {"report_status": "IN_PROGRESS", "token": report.token, "message": None}


async def get_report(call: Call) -> Any:
    token = call.query.one("token", required=True)
    report = call.world.reports.get(token or "")
    if report is None:
        return {"report_status": "DOES_NOT_EXIST", "url": None, "size": None}
    report.polls += 1
    if report.polls <= REPORT_POLLS_IN_PROGRESS:
        return {"report_status": "IN_PROGRESS", "url": None, "size": None}
    if report.content is None:
        report.content, report.media_type, report.extension = report_file(call.world, report.request)
    url = f"{call.request.base_url}_sandbox/pinterest/reports/{report.token}/metrics_report.{report.extension}"
    return {"report_status": "FINISHED", "url": url, "size": len(report.content)}


def s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


# -- Conversions API ----------------------------------------------------------------------------------------------


def check_event(event: Any, now: dt.datetime) -> tuple[str | None, str | None]:
    """Pinterest's per-event verdict: ``(error_message, warning_message)`` (an error means status "failed")."""
    if not isinstance(event, dict):
        return "the event is not a JSON object", None
    event_time = event.get("event_time")
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        return "event_time: must be a Unix timestamp in seconds", None
    moment = dt.datetime.fromtimestamp(event_time, dt.UTC) if -1e11 < event_time < 1e11 else None
    if moment is None or moment > now + EVENT_MAX_AHEAD:
        return f"event_time: {event_time} is in the future (event_time is in seconds, not milliseconds)", None
    if moment < now - EVENT_MAX_AGE:
        return (
            f"event_time: {event_time} ({moment:%Y-%m-%dT%H:%M:%SZ}) is older than 7 days; "
            "only events from the last 7 days are accepted"
        ), None
    if event.get("event_name") not in EVENT_NAMES:
        return f"event_name: {event.get('event_name')!r} is not a supported event name", None
    if event.get("action_source") not in ACTION_SOURCES:
        return f"action_source: {event.get('action_source')!r} is not one of {list(ACTION_SOURCES)}", None
    user_data = event.get("user_data") if isinstance(event.get("user_data"), dict) else {}
    if not (
        user_data.get("em")
        or user_data.get("hashed_maids")
        or (user_data.get("client_ip_address") and user_data.get("client_user_agent"))
    ):
        return "user_data: needs em, hashed_maids, or both client_ip_address and client_user_agent", None
    custom_data = event.get("custom_data") if isinstance(event.get("custom_data"), dict) else {}
    value = custom_data.get("value")
    if value is not None:
        try:
            float(value)
        except (TypeError, ValueError):
            return f"custom_data.value: {value!r} is not a number", None
    currency = custom_data.get("currency")
    if currency is not None and not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        return f"custom_data.currency: {currency!r} is not an ISO-4217 currency code", None
    unhashed = [
        f"{name}[{index}]"
        for name in HASHED_USER_FIELDS
        if isinstance(user_data.get(name), list)
        for index, item in enumerate(user_data[name])
        if not (isinstance(item, str) and _SHA256.fullmatch(item))
    ]
    warning = f"user_data.{', '.join(unhashed)}: not a lowercase SHA-256 hex digest" if unhashed else None
    return None, warning


async def send_events(call: Call) -> Any:
    body = call.body
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data:
        raise ApiError(400, 4196, "Invalid request: data: a non-empty list of events is required")
    if len(data) > MAX_EVENTS:
        raise ApiError(400, 4196, f"Invalid request: data: {len(data)} items, at most {MAX_EVENTS} allowed")
    test = call.query.flag("test")
    world = call.world
    fault, keep = world.events_faults.take() if not test else (None, 0.0)
    if fault == "refuse_all":
        value = data[0].get("action_source") if isinstance(data[0], dict) else None
        raise ApiError(400, 4196, f"Invalid request: data[0].action_source: {value!r} is not supported")
    for index, event in enumerate(data):
        if isinstance(event, dict) and event.get("event_id") in world.poisoned_event_ids:
            raise ApiError(400, 4196, f"Invalid request: data[{index}]: event {event['event_id']!r} is malformed")
    now = world.now()
    answers = []
    for event in data:
        error, warning = check_event(event, now)
        if error is None and not test:
            world.events.record(world.ad_account_id, event, now.isoformat())
        answers.append(
            {"status": "failed" if error else "processed", "error_message": error, "warning_message": warning}
        )
    processed = sum(answer["status"] == "processed" for answer in answers)
    if fault == "short_events":
        answers = answers[: int(len(answers) * keep)]
    result = {"num_events_received": len(data), "num_events_processed": processed, "events": answers}
    partial = ApiError(422, 422, "Not all events were successfully processed.", details=result)
    if fault == "not_json":
        text = json.dumps(result if processed == len(data) else partial.body())
        status = 200 if processed == len(data) else 422
        return Response(text[: len(text) // 2], status_code=status, media_type="application/json")
    if processed < len(data):
        raise partial
    return result


# -- Event Quality Score ------------------------------------------------------------------------------------------


async def conversion_eqs(call: Call) -> Any:
    """``conversion_eqs/list``: computed from the events received (``sandbox.pinterest.quality``); not paged."""
    query = call.query
    lookback = query.choice("lookback_period", tuple(LOOKBACK_DAYS))
    ingestion_source = query.one("ingestion_source")
    source_platform = query.one("source_platform")
    world = call.world
    scores = event_quality(
        world.events.all(), world.ad_account_id, world.now(), lookback, ingestion_source, source_platform
    )
    return world.eqs_faults.apply(scores)


# -- OAuth --------------------------------------------------------------------------------------------------------


async def oauth_token(call: Call) -> Any:
    body = call.body or {}
    grant_type = body.get("grant_type")
    if grant_type != "refresh_token":
        raise invalid(f"grant_type: {grant_type!r} is not emulated (the sandbox supports refresh_token)")
    issued = call.world.tokens.refresh(str(body.get("refresh_token") or ""))
    if issued is None:
        raise invalid("refresh_token: invalid or revoked refresh token")
    access_token, refresh_token = issued
    now = int(call.world.now().timestamp())
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": body.get("scope") or "ads:read,ads:write",
        "refresh_token": refresh_token,
        "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
        "refresh_token_expires_at": now + REFRESH_TOKEN_SECONDS,
        "response_type": "refresh_token",
    }


async def unknown_endpoint(request: Request) -> Response:
    return json_response({"code": 404, "message": f"{request.method} {request.url.path}: no such endpoint."}, 404)


ROUTES = (
    Route("GET", "/v5/ad_accounts/{ad_account_id}", "ad_accounts/get", "ads_read", get_ad_account),
    Route(
        "GET", "/v5/ad_accounts/{ad_account_id}/campaigns", "campaigns/list", "ads_read",
        entity_list("campaigns", (("campaign_ids", "id"),)),
    ),
    Route(
        "GET", "/v5/ad_accounts/{ad_account_id}/ad_groups", "ad_groups/list", "ads_read",
        entity_list("ad_groups", (("campaign_ids", "campaign_id"), ("ad_group_ids", "id"))),
    ),
    Route(
        "GET", "/v5/ad_accounts/{ad_account_id}/ads", "ads/list", "ads_read",
        entity_list("ads", (("campaign_ids", "campaign_id"), ("ad_group_ids", "ad_group_id"), ("ad_ids", "id"))),
    ),
    Route("GET", "/v5/ad_accounts/{ad_account_id}/analytics", "ad_account/analytics", "ads_analytics",
          analytics("ADVERTISER")),
    Route("GET", "/v5/ad_accounts/{ad_account_id}/campaigns/analytics", "campaigns/analytics", "ads_analytics",
          analytics("CAMPAIGN")),
    Route("GET", "/v5/ad_accounts/{ad_account_id}/ad_groups/analytics", "ad_groups/analytics", "ads_analytics",
          analytics("AD_GROUP")),
    Route("GET", "/v5/ad_accounts/{ad_account_id}/ads/analytics", "ads/analytics", "ads_analytics", analytics("AD")),
    Route("POST", "/v5/ad_accounts/{ad_account_id}/reports", "analytics/create_report", "ads_analytics",
          create_report, body="json"),
    Route("GET", "/v5/ad_accounts/{ad_account_id}/reports", "analytics/get_report", "ads_analytics", get_report),
    Route("GET", "/v5/resources/metrics_ready_state", "metrics_ready_state/get", "ads_analytics",
          metrics_ready_state),
    Route("POST", "/v5/ad_accounts/{ad_account_id}/events", "events/create", "ads_conversions", send_events,
          auth=EVENTS, body="json", invalid_code=4196, invalid_prefix="Invalid request: "),
    Route("GET", "/v5/ad_accounts/{ad_account_id}/conversion_eqs", "conversion_eqs/list", "ads_read",
          conversion_eqs),
    Route("POST", "/v5/oauth/token", "oauth/token", "org_read", oauth_token, auth=CLIENT, body="form"),
)  # fmt: skip


def register(app: FastAPI, world: PinterestWorld, spec: PinterestSpec | None) -> None:
    """Add the emulated operations, the sandbox's Pinterest paths and a Pinterest-shaped 404 for other /v5 paths."""
    api = PinterestApi(app, world, spec)
    for route in ROUTES:
        api.add(route)

    @app.post("/_sandbox/pinterest/expire-token", include_in_schema=False)
    def expire_token() -> dict[str, int]:
        """Expire every ads access token in use: the next ads request with one gets 401 until it refreshes."""
        return {"expired_tokens": world.tokens.expire_ads()}

    @app.post("/_sandbox/pinterest/answer-fault", include_in_schema=False)
    async def answer_fault(request: Request) -> Response:
        """Arm broken 200 answers: ``{"kind": "empty"|"null"|"truncate"|null, "answers": n, "keep": share}``."""
        try:
            body = await request.json()
            kind, answers, keep = body.get("kind"), int(body.get("answers", 1)), float(body.get("keep", 0.5))
            if kind is not None and kind not in ANSWER_FAULT_KINDS:
                raise ValueError(f"kind: {kind!r} is not one of {list(ANSWER_FAULT_KINDS)} or null")
            if answers < 0 or not 0 <= keep < 1:
                raise ValueError("answers must be >= 0 and keep in [0, 1)")
        except (ValueError, TypeError, AttributeError) as error:
            return invalid(f"answer-fault: {error}").response()
        world.answer_faults.arm(kind, answers, keep)
        return json_response({"kind": kind, "answers": answers, "keep": keep})

    @app.post("/_sandbox/pinterest/events-fault", include_in_schema=False)
    async def events_fault(request: Request) -> Response:
        """Arm faults of the events endpoint: ``{"kind": "not_json"|"short_events"|"refuse_all"|null, "answers": n,
        "keep": share}`` (``EventsFaults``; null clears)."""
        try:
            body = await request.json()
            kind, answers, keep = body.get("kind"), int(body.get("answers", 1)), float(body.get("keep", 0.5))
            if kind is not None and kind not in EVENTS_FAULT_KINDS:
                raise ValueError(f"kind: {kind!r} is not one of {list(EVENTS_FAULT_KINDS)} or null")
            if answers < 0 or not 0 <= keep < 1:
                raise ValueError("answers must be >= 0 and keep in [0, 1)")
        except (ValueError, TypeError, AttributeError) as error:
            return invalid(f"events-fault: {error}").response()
        world.events_faults.arm(kind, answers, keep)
        return json_response({"kind": kind, "answers": answers, "keep": keep})

    @app.post("/_sandbox/pinterest/eqs-fault", include_in_schema=False)
    async def eqs_fault(request: Request) -> Response:
        """Arm answers of conversion_eqs outside the spec: ``{"kind": "unknown_status"|null, "answers": n}``."""
        try:
            body = await request.json()
            kind, answers = body.get("kind"), int(body.get("answers", 1))
            if kind is not None and kind not in EQS_FAULT_KINDS:
                raise ValueError(f"kind: {kind!r} is not one of {list(EQS_FAULT_KINDS)} or null")
            if answers < 0:
                raise ValueError("answers must be >= 0")
        except (ValueError, TypeError, AttributeError) as error:
            return invalid(f"eqs-fault: {error}").response()
        world.eqs_faults.arm(kind, answers)
        return json_response({"kind": kind, "answers": answers})

    @app.post("/_sandbox/pinterest/restate", include_in_schema=False)
    async def restate(request: Request) -> Response:
        """Replace an ad's final metrics for a day: ``{"ad_id", "date", "metrics": {COLUMN: number}}``."""
        try:
            body = await request.json()
            ad_id, day = str(body["ad_id"]), parse_date("date", body.get("date"))
            values = body["metrics"]
            if not isinstance(values, dict) or not values:
                raise invalid("metrics: a non-empty object of column -> number is required")
            for name, value in values.items():
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise invalid(f"metrics.{name}: {value!r} is not a non-negative number")
                if name in ("AD_ID", "AD_GROUP_ID", "CAMPAIGN_ID", "DATE"):
                    raise invalid(f"metrics.{name}: not a metric column")
            if ad_id not in world.ads and ad_id not in world.metrics.hierarchy.campaign_of:
                raise not_found(f"ad {ad_id}")
        except (ValueError, KeyError, TypeError) as error:
            return invalid(f"the body must be {{'ad_id', 'date', 'metrics'}} ({error})").response()
        except ApiError as error:
            return error.response()
        final = world.metrics.restate(ad_id, day, values)
        return json_response({"ad_id": ad_id, "date": day.isoformat(), "metrics": final})

    @app.post("/_sandbox/pinterest/faults", include_in_schema=False)
    async def script_faults(request: Request) -> Response:
        """Script faults: ``{"path": prefix, "faults": [name or null, ...], "poison_event_ids": [...]}``.

        ``faults`` (server_error, rate_limit, drop_connection, hang, lost_answer; null lets a request through) hit
        the next requests whose path starts with ``path`` (default ``/v5/``), in order, before random faults.
        A request to the events endpoint carrying a poisoned event id is refused whole with a 400.
        """
        try:
            body = await request.json()
            prefix = str(body.get("path", "/v5/"))
            faults = [None if name is None else Fault(name) for name in body.get("faults", [])]
            poison = [str(event_id) for event_id in body.get("poison_event_ids", [])]
        except (ValueError, TypeError, AttributeError) as error:
            names = [fault.value for fault in Fault]
            return invalid(f"the body must be {{'path', 'faults': [one of {names} or null], ...}} ({error})").response()
        world.sandbox.faults["pinterest"].script(prefix, faults)
        world.poisoned_event_ids.update(poison)
        return json_response({"scripted": len(faults), "poisoned_event_ids": sorted(world.poisoned_event_ids)})

    @app.get("/_sandbox/events", include_in_schema=False)
    def received_events() -> dict[str, Any]:
        """Every CAPI event accepted (test requests excluded), in arrival order."""
        return {"events": [event.as_json() for event in world.events.all()]}

    @app.get("/_sandbox/pinterest/reports/{token}/{filename}", include_in_schema=False)
    def download_report(token: str, filename: str, request: Request) -> Response:
        """A FINISHED report's file, served like the pre-signed S3 URL Pinterest hands out (no Authorization)."""
        if "authorization" in request.headers:
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
                "parameter or the Authorization header should be specified",
            )
        report = world.reports.get(token)
        if report is None or report.content is None or filename != f"metrics_report.{report.extension}":
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return Response(report.content, media_type=report.media_type)

    app.add_api_route(
        "/v5/{path:path}",
        unknown_endpoint,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
