"""``HubSpotHook``: the one module that knows HubSpot's CRM paths, models and limits.

It wraps ``hubspot-api-client`` and adds what the client lacks for bulk extraction: one client per hook with
its API objects bound once (each ``client.crm...`` access builds a new connection pool), proactive budgets
(``RateLimiter`` per budget: the per-app 10-second one and the separate per-account search one), the shared
tenacity policy for 429/5xx/transport errors (the client's ``retry=`` never retries POSTs, and exhausted urllib3
retries escape as ``MaxRetryError``), single pages instead of ``get_all`` (which loads everything), and plain
Python values out, so callers never see a generated model. Moving to HubSpot's date-versioned API is this file.

The bulk reads (deal search and list, association and contact batches) go through the client's own API methods,
with its auth, paths and error classes, but send plain JSON bodies and read the answer as raw bytes
(``_preload_content=False``), decoded by ``msgspec`` straight into ``CrmObject``s: the client's models cost a
``Configuration`` per request input (each one resets logger levels, which clears every logger's cache) and a
model plus a ``dateutil`` parse per object, several times the CPU of everything else a deal needs.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

import hubspot
import msgspec
import urllib3
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException
from hubspot.crm import contacts, deals, pipelines, properties
from hubspot.crm.associations import v4 as associations_v4

from pin2deal.rate_limit import RateLimiter
from pin2deal.retrying import TransientAPIError, api_retrying

DEAL_TO_CONTACT_TYPE_ID = 3  # HubSpot-defined primary deal -> contact association
MAX_SEARCH_PAGE = 200
MAX_LIST_PAGE = 100
MAX_BATCH_READ = 100
MAX_ASSOCIATION_INPUTS = 1000
SEARCH_RESULT_CAP = 10_000  # results per search query; paging past it is a 400
MODIFIED = "hs_lastmodifieddate"
# The last-modified property the search sorts and filters on, per object type.
MODIFIED_PROPERTY = {"deals": MODIFIED, "contacts": "lastmodifieddate"}
_SEARCH_KINDS = {"deals": "search", "contacts": "contact_search"}

# The attribution roles (the last touch: the deal's current click id, UTMs and macros) and the first-touch role of each.
ATTRIBUTION_ROLES = (
    "epik", "utm_source", "utm_medium", "utm_campaign", "utm_content", "pinterest_campaign_id",
    "pinterest_ad_group_id", "pinterest_ad_id",
)  # fmt: skip
FIRST_TOUCH_ROLES = {role: f"first_touch_{role}" for role in ATTRIBUTION_ROLES}
# The properties pin2deal reads by role, deal properties unless a role is a contact's (below); values are the
# portal's internal names (connection extra ``properties`` overrides any of them; an empty name switches a role off).
DEFAULT_CUSTOM_PROPERTIES: dict[str, str] = {
    "epik": "epik",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "utm_content",
    "pinterest_campaign_id": "pinterest_campaign_id",
    "pinterest_ad_group_id": "pinterest_ad_group_id",
    "pinterest_ad_id": "pinterest_ad_id",
    "ads_consent": "ads_consent",
    "ip_address": "ip_address",
    "user_agent": "user_agent",
    "legacy_deal_id": "legacy_deal_id",
    # The first touch (the deal's first tracked visit), one role per attribution role above: portals keep it, if at
    # all, in properties of their own, so each is read only when mapped. A deal with no first-touch value has its
    # first touch at its last touch (docs/attribution.md).
    **{role: "" for role in FIRST_TOUCH_ROLES.values()},
    # The event id the site's Pinterest tag sent with the lead (the Conversions API's lead reuses it): no standard
    # property holds one, so it is read only when mapped.
    "lead_event_id": "",
    # The contact's address, matched by the Conversions API (user_data ct, st, zp, country): HubSpot's standard
    # contact properties. Gender and date of birth (ge, db): portals keep them, if at all, in properties of their own
    # filled in many ways, so they are read only when mapped.
    "city": "city",
    "state": "state",
    "zip": "zip",
    "country": "country",
    "gender": "",
    "date_of_birth": "",
}

# Roles that may be a contact property instead of a deal property (both are read).
CONTACT_OR_DEAL_ROLES = frozenset({"ads_consent", "lead_event_id"})
# Roles that are contact properties only.
CONTACT_ROLES = frozenset({"city", "state", "zip", "country", "gender", "date_of_birth"})

_API_ERRORS = (
    deals.ApiException,
    contacts.ApiException,
    associations_v4.ApiException,
    pipelines.ApiException,
    properties.ApiException,
)


class HubSpotAuthError(AirflowFailException):
    """401/403: retrying cannot help; the message says what to fix and never contains the token."""


class HubSpotPropertyMissing(AirflowFailException):
    """A configured custom property does not exist in the portal (renamed, deleted, wrong portal)."""


class HubSpotAPIError(RuntimeError):
    """A non-transient HubSpot error (4xx other than 401/403/429), with HubSpot's category and message."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HubSpotSettings:
    """Connection extra of ``hubspot_default`` (all optional)."""

    rate_limit_per_10s: int = 100  # 100 on Free/Starter apps, 190 on Professional/Enterprise
    search_per_second: int = 5
    # Windows counted a little longer than HubSpot's: our send time and HubSpot's receive time differ by network and
    # queueing jitter, and at full rate a few milliseconds decide between a slot and a 429.
    budget_margin: float = 0.03
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retry_attempts: int = 8
    retry_initial_wait: float = 1.0  # seconds before the first retry of a 5xx/transport error (429s: Retry-After)
    default_phone_region: str = "US"
    custom_properties: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CUSTOM_PROPERTIES))

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> HubSpotSettings:
        names = dict(DEFAULT_CUSTOM_PROPERTIES)
        for role, name in (extra.get("properties") or {}).items():
            if role not in names:
                raise ValueError(f"connection extra 'properties' has an unknown role {role!r}; known: {sorted(names)}")
            names[role] = name or ""
        return cls(
            rate_limit_per_10s=int(extra.get("rate_limit_per_10s", cls.rate_limit_per_10s)),
            search_per_second=int(extra.get("search_per_second", cls.search_per_second)),
            budget_margin=float(extra.get("budget_margin", cls.budget_margin)),
            connect_timeout=float(extra.get("connect_timeout", cls.connect_timeout)),
            read_timeout=float(extra.get("read_timeout", cls.read_timeout)),
            retry_attempts=int(extra.get("retry_attempts", cls.retry_attempts)),
            retry_initial_wait=float(extra.get("retry_initial_wait", cls.retry_initial_wait)),
            default_phone_region=str(extra.get("default_phone_region", cls.default_phone_region)),
            custom_properties=names,
        )


class CrmObject(msgspec.Struct, frozen=True, rename="camel"):
    """A deal or contact as read: property strings exactly as HubSpot sent them, plus the envelope.

    Also the wire schema: HubSpot's objects are decoded into it directly (``id`` arrives as a string)."""

    id: int
    properties: dict[str, str | None] = {}
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    archived: bool = False
    archived_at: dt.datetime | None = None


@dataclass(frozen=True)
class ObjectPage:
    objects: list[CrmObject]
    total: int | None  # search only: every match, beyond the 10,000 a query can return
    after: str | None  # the next page's cursor, None on the last page


@dataclass(frozen=True)
class Association:
    deal_id: int
    contact_id: int
    type_ids: tuple[int, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class DealStage:
    pipeline_id: str
    pipeline_label: str
    stage_id: str
    label: str
    display_order: int | None
    is_closed: bool | None
    probability: Decimal | None
    archived: bool
    metadata: dict[str, str]

    @property
    def is_closed_won(self) -> bool:
        """HubSpot's rule: a closed stage with probability 1.0 is a won stage."""
        return bool(self.is_closed) and self.probability == 1

    @property
    def entered_property(self) -> str:
        """The deal property holding when a deal entered this stage."""
        return f"hs_v2_date_entered_{self.stage_id}"


# Budgets are per app / per account, not per hook: hooks of one process on the same connection share them.
_LIMITERS: dict[tuple[str, str, int, float], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(conn_id: str, budget: str, limit: int, period: float) -> RateLimiter:
    with _LIMITERS_LOCK:
        key = (conn_id, budget, limit, period)
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(limit, period)
        return _LIMITERS[key]


# The parts of HubSpot's answers pin2deal reads (every other field is skipped by the decoder).
class _Cursor(msgspec.Struct):
    after: str | None = None


class _Paging(msgspec.Struct):
    next: _Cursor | None = None

    @property
    def after(self) -> str | None:
        return self.next.after if self.next else None


class _BatchError(msgspec.Struct):
    """One error of a batch read's 207 (``OBJECT_NOT_FOUND`` names the missing ids in ``context.ids``)."""

    category: str | None = None
    context: dict[str, Any] = {}


class _Objects(msgspec.Struct):
    """Search, list and batch-read answers."""

    results: list[CrmObject] = []
    total: int | None = None
    paging: _Paging | None = None
    errors: list[_BatchError] = []


class _AssociationType(msgspec.Struct, rename="camel"):
    type_id: int | None = None
    label: str | None = None


class _AssociationTarget(msgspec.Struct, rename="camel"):
    to_object_id: int
    association_types: list[_AssociationType] = []


class _AssociationSource(msgspec.Struct):
    id: int


class _AssociationResult(msgspec.Struct, rename={"source": "from"}):
    source: _AssociationSource
    to: list[_AssociationTarget] = []
    paging: _Paging | None = None


class _AssociationError(msgspec.Struct, rename="camel"):
    sub_category: str | None = None
    context: dict[str, Any] = {}


class _Associations(msgspec.Struct):
    results: list[_AssociationResult] = []
    errors: list[_AssociationError] = []  # 207 answers: one per deal that could not be read


def _decode(kind: str, body: bytes, schema: type[Any]) -> Any:
    """HubSpot's JSON answer as ``schema`` (numeric strings read as numbers, RFC 3339 strings as datetimes).

    A property value sent as a JSON number or boolean is read as its JSON text, as the generated client did (it
    stringifies); anything else that does not fit fails naming where (``$.results[3].createdAt``)."""
    try:
        return msgspec.json.decode(body, type=schema, strict=False)
    except msgspec.ValidationError as error:
        first = error
    except msgspec.DecodeError as error:
        raise HubSpotAPIError(f"HubSpot {kind} answered something that is not JSON: {error}") from error
    try:
        answer = msgspec.json.decode(body)
        for item in answer.get("results") or []:
            properties = item.get("properties") if isinstance(item, dict) else None
            if isinstance(properties, dict):
                item["properties"] = {
                    name: value if value is None or isinstance(value, str) else msgspec.json.encode(value).decode()
                    for name, value in properties.items()
                }
        return msgspec.convert(answer, schema, strict=False)
    except (msgspec.ValidationError, AttributeError):
        raise HubSpotAPIError(f"HubSpot {kind} answered JSON pin2deal cannot read: {first}") from first


def _error_details(error: Any) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        body = {}
    headers = {str(key).lower(): value for key, value in dict(error.headers or {}).items()}
    return (body if isinstance(body, dict) else {}), headers


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _seconds_to_utc_midnight() -> float:
    now = dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return (midnight - now).total_seconds()


class HubSpotHook(BaseHook):
    """HubSpot CRM on the ``hubspot_default`` connection: token = password, host/port/schema overridable.

    Thread-safe: the extraction pipeline calls it from several threads; every call waits for its budget,
    then is retried by ``api_retrying`` on 429 (``Retry-After`` honoured), 5xx and transport errors.
    ``stats`` counts requests by kind and the 429s seen, for logs, XCom and the benchmark.
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "hubspot"
    hook_name = "HubSpot"

    def __init__(self, hubspot_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.hubspot_conn_id = hubspot_conn_id
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    # -- connection -------------------------------------------------------------------------------------------
    @cached_property
    def connection(self):
        return self.get_connection(self.hubspot_conn_id)

    @cached_property
    def settings(self) -> HubSpotSettings:
        return HubSpotSettings.from_extra(self.connection.extra_dejson)

    @cached_property
    def base_url(self) -> str:
        conn = self.connection
        host = (conn.host or "api.hubapi.com").rstrip("/")
        if "://" in host:
            return host
        scheme = conn.schema or "https"
        return f"{scheme}://{host}:{conn.port}" if conn.port else f"{scheme}://{host}"

    def get_conn(self) -> hubspot.Client:
        return self._client

    @cached_property
    def _client(self) -> hubspot.Client:
        token = self.connection.password
        if not token:
            raise HubSpotAuthError(
                f"connection {self.hubspot_conn_id!r} has no password: set it to the private app's access token"
            )
        # Transport retries are ours (tenacity, re-acquiring the budget), so urllib3 must not retry at all.
        retry = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        return hubspot.Client.create(access_token=token, host=self.base_url, retry=retry)

    @cached_property
    def _apis(self) -> dict[str, Any]:
        """Each API object once: every ``client.crm...`` access would build a fresh connection pool."""
        crm = self._client.crm
        return {
            "search": crm.deals.search_api,
            "contact_search": crm.contacts.search_api,
            "list": crm.deals.basic_api,
            "deal_batch": crm.deals.batch_api,
            "contacts": crm.contacts.batch_api,
            "associations": crm.associations.v4.batch_api,
            "properties": crm.properties.core_api,
            "pipelines": crm.pipelines.pipelines_api,
        }

    @cached_property
    def _burst_limiter(self) -> RateLimiter:
        settings = self.settings
        return shared_limiter(
            self.hubspot_conn_id, "ten_secondly", settings.rate_limit_per_10s, 10.0 * (1 + settings.budget_margin)
        )

    @cached_property
    def _search_limiter(self) -> RateLimiter:
        settings = self.settings
        return shared_limiter(
            self.hubspot_conn_id, "search", settings.search_per_second, 1.0 * (1 + settings.budget_margin)
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.deal_stages()
        except Exception as error:  # the UI shows the message
            return False, str(error)
        return True, "HubSpot answered with the deal pipelines"

    # -- one call: budget, retries, errors ----------------------------------------------------------------------
    def _call(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``method`` of the ``kind`` API object: the client's model, or with ``_preload_content=False`` the body's
        bytes (read inside the attempt, so a connection dropped mid-body is retried like any transport error)."""
        api = self._apis[kind]
        limiter = self._search_limiter if kind in _SEARCH_KINDS.values() else self._burst_limiter
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        raw = kwargs.get("_preload_content") is False

        def attempt() -> Any:
            waited = limiter.acquire()
            self._count(f"requests.{kind}", waited_ms=waited * 1000)
            try:
                response = getattr(api, method)(*args, _request_timeout=timeout, **kwargs)
                if not raw:
                    return response
                try:
                    return response.data
                finally:
                    response.release_conn()
            except _API_ERRORS as error:
                raise self._translate(error, kind) from error
            except urllib3.exceptions.HTTPError as error:
                self._count("transport_errors")
                raise TransientAPIError(f"HubSpot {kind}: {type(error).__name__} talking to {self.base_url}") from error

        settings = self.settings
        return api_retrying(attempts=settings.retry_attempts, initial_wait=settings.retry_initial_wait)(attempt)

    def _count(self, key: str, waited_ms: float = 0.0) -> None:
        with self._stats_lock:
            self.stats[key] += 1
            if waited_ms:
                self.stats["budget_wait_ms"] += round(waited_ms)

    def _translate(self, error: Any, kind: str) -> Exception:
        status = int(error.status or 0)
        body, headers = _error_details(error)
        message = body.get("message") or error.reason or "no message"
        correlation = body.get("correlationId") or headers.get("x-hubspot-correlation-id") or "-"
        where = f"HubSpot {kind} answered {status}"
        if status == 429:
            self._count("rate_limited")
            self._count(f"rate_limited.{kind}")
            policy = body.get("policyName") or ""
            if policy == "SECONDLY":  # the search budget: a slot frees within the second, never sent Retry-After
                return TransientAPIError(f"{where} ({policy}): {message}", status=429,
                                         retry_after=_retry_after(headers) or 0.25)
            if policy == "DAILY":
                return TransientAPIError(
                    f"{where}: the daily request limit of the account is spent ({message})",
                    status=429, retry_after=_seconds_to_utc_midnight(),
                )
            return TransientAPIError(f"{where} ({policy or 'rate limited'}): {message}", status=429,
                                     retry_after=_retry_after(headers))
        if status == 0 or status >= 500:
            self._count("server_errors")
            return TransientAPIError(f"{where}: {message} (correlationId {correlation})", status=status,
                                     retry_after=_retry_after(headers))
        if status == 401:
            return HubSpotAuthError(
                f"{where}: the access token of connection {self.hubspot_conn_id!r} is expired, revoked or wrong "
                f"({body.get('category') or 'INVALID_AUTHENTICATION'}, correlationId {correlation}); put a valid "
                "private-app token in the connection's password"
            )
        if status == 403:
            return HubSpotAuthError(
                f"{where}: the private app of connection {self.hubspot_conn_id!r} lacks a scope "
                f"(needs crm.objects.deals.read, crm.objects.contacts.read, crm.schemas.deals.read): {message}"
            )
        return HubSpotAPIError(
            f"{where}: {body.get('category') or 'ERROR'}: {message} (correlationId {correlation})", status=status
        )

    # -- the calls pin2deal makes -------------------------------------------------------------------------------
    def missing_properties(self, object_type: str, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that the portal does not define for ``object_type``."""
        missing = []
        for name in names:
            try:
                self._call("properties", "get_by_name", object_type, name)
            except HubSpotAPIError as error:
                if error.status != 404:
                    raise
                missing.append(name)
        return missing

    def check_custom_properties(self) -> dict[str, str]:
        """Fail, naming them, when configured properties do not exist; return role -> name in use.

        Every role is a deal property except the contact roles (the address, gender, date of birth), and the consent
        and the lead's event id, which may live on contacts or deals (both are read).
        """
        configured = {role: name for role, name in self.settings.custom_properties.items() if name}
        missing: dict[str, str] = {}
        for object_type, roles in (
            ("deals", {role: name for role, name in configured.items()
                       if role not in CONTACT_OR_DEAL_ROLES | CONTACT_ROLES}),
            ("contacts", {role: name for role, name in configured.items() if role in CONTACT_ROLES}),
        ):  # fmt: skip
            absent = set(self.missing_properties(object_type, sorted(set(roles.values()))))
            missing.update({name: role for role, name in roles.items() if name in absent})
        for role in CONTACT_OR_DEAL_ROLES & configured.keys():
            name = configured[role]
            if self.missing_properties("contacts", [name]) and self.missing_properties("deals", [name]):
                missing[name] = role
        if missing:
            names = ", ".join(f"{name!r} (role {role})" for name, role in sorted(missing.items()))
            raise HubSpotPropertyMissing(
                f"HubSpot has no property {names}: create it in HubSpot or map the role to the right internal "
                f"name in the extra 'properties' of connection {self.hubspot_conn_id!r}"
            )
        return configured

    def deal_stages(self) -> list[DealStage]:
        """Every stage of every deal pipeline (archived ones too: old deals may still sit in them)."""
        response = self._call("pipelines", "get_all", "deals")
        stages = []
        for pipeline in response.results or []:
            for stage in pipeline.stages or []:
                metadata = dict(stage.metadata or {})
                try:
                    probability = Decimal(metadata["probability"]) if metadata.get("probability") else None
                except InvalidOperation:
                    probability = None
                closed = metadata.get("isClosed")
                stages.append(
                    DealStage(
                        pipeline_id=pipeline.id,
                        pipeline_label=pipeline.label,
                        stage_id=stage.id,
                        label=stage.label,
                        display_order=stage.display_order,
                        is_closed=None if closed is None else str(closed).lower() == "true",
                        probability=probability,
                        archived=bool(stage.archived or pipeline.archived),
                        metadata=metadata,
                    )
                )
        return stages

    def search_deals_modified(
        self, properties: Sequence[str], *, from_ms: int, to_ms: int, limit: int = MAX_SEARCH_PAGE,
        object_type: str = "deals",
    ) -> ObjectPage:
        """First page of deals (or contacts) with ``from_ms <= last modified < to_ms``, oldest modification first."""
        modified = MODIFIED_PROPERTY[object_type]
        filters = [
            {"propertyName": modified, "operator": "GTE", "value": str(from_ms)},
            {"propertyName": modified, "operator": "LT", "value": str(to_ms)},
        ]
        return self._search(filters, {"propertyName": modified, "direction": "ASCENDING"}, properties, limit,
                            object_type)

    def search_deals_modified_at(
        self, properties: Sequence[str], *, at_ms: int, after_id: int, limit: int = MAX_SEARCH_PAGE,
        object_type: str = "deals",
    ) -> ObjectPage:
        """First page of deals (or contacts) modified exactly at ``at_ms`` with an id above ``after_id``, by id."""
        modified = MODIFIED_PROPERTY[object_type]
        filters = [
            {"propertyName": modified, "operator": "GTE", "value": str(at_ms)},
            {"propertyName": modified, "operator": "LT", "value": str(at_ms + 1)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
        ]
        return self._search(filters, {"propertyName": "hs_object_id", "direction": "ASCENDING"}, properties, limit,
                            object_type)

    def _search(
        self, filters: list[dict[str, str]], sort: dict[str, str], properties: Sequence[str], limit: int,
        object_type: str = "deals",
    ) -> ObjectPage:
        request = {"filterGroups": [{"filters": filters}], "sorts": [sort], "properties": list(properties),
                   "limit": limit}  # fmt: skip
        kind = _SEARCH_KINDS[object_type]
        body = self._call(kind, "do_search", public_object_search_request=request, _preload_content=False)
        answer = _decode(kind, body, _Objects)
        return ObjectPage(answer.results, answer.total, answer.paging.after if answer.paging else None)

    def list_deals(
        self, properties: Sequence[str], *, archived: bool, after: str | None = None, limit: int = MAX_LIST_PAGE
    ) -> ObjectPage:
        """One page of every deal (``archived=True``: only the archived ones), in HubSpot's id order, no cap."""
        kwargs: dict[str, Any] = {"limit": limit, "properties": list(properties), "archived": archived}
        if after:
            kwargs["after"] = after
        answer = _decode("list", self._call("list", "get_page", _preload_content=False, **kwargs), _Objects)
        return ObjectPage(answer.results, None, answer.paging.after if answer.paging else None)

    def deal_contacts(self, deal_ids: Sequence[int]) -> dict[int, list[Association]]:
        """Every contact of each deal (v4 batch read, 1,000 deals a call, following per-deal paging).

        A deal whose read failed (a 207 error other than "no associations") is left out of the answer, so the
        caller keeps what it knew instead of replacing the deal's contacts with nothing."""
        found: dict[int, list[Association]] = {deal_id: [] for deal_id in deal_ids}
        failed: set[int] = set()
        pending = [(deal_id, None) for deal_id in deal_ids]
        while pending:
            chunk, pending = pending[:MAX_ASSOCIATION_INPUTS], pending[MAX_ASSOCIATION_INPUTS:]
            inputs = [{"id": str(deal_id), **({"after": after} if after else {})} for deal_id, after in chunk]
            body = self._call("associations", "get_page", "deals", "contacts", {"inputs": inputs},
                              _preload_content=False)  # fmt: skip
            answer = _decode("associations", body, _Associations)
            for result in answer.results:
                deal_id = result.source.id
                for target in result.to:
                    kinds = target.association_types
                    found.setdefault(deal_id, []).append(
                        Association(
                            deal_id=deal_id,
                            contact_id=target.to_object_id,
                            type_ids=tuple(sorted({kind.type_id for kind in kinds if kind.type_id is not None})),
                            labels=tuple(sorted({kind.label for kind in kinds if kind.label})),
                        )
                    )
                if result.paging and result.paging.after:
                    pending.append((deal_id, result.paging.after))
            for error in answer.errors:  # 207: per-deal errors beside the results
                if (error.sub_category or "").endswith("NO_ASSOCIATIONS_FOUND"):
                    continue  # HubSpot answers a deal without contacts as an error: it has none
                named = {int(i) for i in error.context.get("fromObjectId") or [] if str(i).isdigit()}
                failed |= named or {deal_id for deal_id, _ in chunk}  # unnamed: none of the chunk is trusted
                self._count("association_errors")
        for deal_id in failed:
            found.pop(deal_id, None)
        return found

    def read_deals(self, deal_ids: Sequence[int], properties: Sequence[str]) -> list[CrmObject]:
        """Deals by id, 100 a call (ids HubSpot does not find are left out)."""
        read: list[CrmObject] = []
        for start in range(0, len(deal_ids), MAX_BATCH_READ):
            chunk = deal_ids[start : start + MAX_BATCH_READ]
            request = {"inputs": [{"id": str(deal_id)} for deal_id in chunk], "properties": list(properties)}
            body = self._call("deal_batch", "read", batch_read_input_simple_public_object_id=request,
                              _preload_content=False)  # fmt: skip
            read.extend(_decode("deal_batch", body, _Objects).results)
        return read

    def missing_deal_ids(self, deal_ids: Sequence[int]) -> list[int]:
        """The ids among ``deal_ids`` HubSpot no longer has (deleted, or archived), 100 a batch read: those its 207
        names as not found. An id merged into another deal is answered with the survivor: it is not missing."""
        missing: set[int] = set()
        for start in range(0, len(deal_ids), MAX_BATCH_READ):
            chunk = deal_ids[start : start + MAX_BATCH_READ]
            request = {"inputs": [{"id": str(deal_id)} for deal_id in chunk], "properties": ["hs_object_id"]}
            body = self._call("deal_batch", "read", batch_read_input_simple_public_object_id=request,
                              _preload_content=False)  # fmt: skip
            answer = _decode("deal_batch", body, _Objects)
            found = {deal.id for deal in answer.results}
            for error in answer.errors:
                if error.category == "OBJECT_NOT_FOUND":
                    missing.update(int(i) for i in error.context.get("ids") or [] if str(i).isdigit())
            missing -= found
        return sorted(missing & set(deal_ids))

    def read_contacts(self, contact_ids: Sequence[int], properties: Sequence[str]) -> tuple[list[CrmObject], list[int]]:
        """Contacts by id, 100 a call; returns (contacts, ids HubSpot did not find: deleted or merged away)."""
        read: list[CrmObject] = []
        for start in range(0, len(contact_ids), MAX_BATCH_READ):
            chunk = contact_ids[start : start + MAX_BATCH_READ]
            request = {"inputs": [{"id": str(contact_id)} for contact_id in chunk], "properties": list(properties)}
            body = self._call("contacts", "read", batch_read_input_simple_public_object_id=request,
                              _preload_content=False)  # fmt: skip
            read.extend(_decode("contacts", body, _Objects).results)
        got = {contact.id for contact in read}
        return read, [contact_id for contact_id in contact_ids if contact_id not in got]
