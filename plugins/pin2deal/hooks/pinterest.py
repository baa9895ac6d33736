"""Pinterest API v5 on the HTTP provider: ``PinterestHook`` (the plumbing), ``PinterestAdsHook`` (Ads reads) and
``PinterestConversionsHook`` (the Conversions API).

``PinterestHook`` owns what every Pinterest call needs, so that a hook per product (``PinterestAdsHook`` on
``pinterest_ads_default``, ``PinterestConversionsHook`` on ``pinterest_conversions_default``) only adds its
endpoints:

- the connection: host/port/schema as ``HttpHook`` reads them (production ``https://api.pinterest.com``, the sandbox
  ``http://127.0.0.1:PORT``), the access token as password, settings and OAuth secrets in the extra. ``HttpHook``
  would turn every extra key into a request header; ours are removed from the session so no secret is ever sent as
  a header;
- the bearer token, and the documented refresh (``POST /v5/oauth/token``, ``grant_type=refresh_token``, HTTP Basic
  with the app's client id and secret) when a 401 arrives and the extra carries ``refresh_token``/``client_id``/
  ``client_secret``. The current pair (Pinterest rotates the refresh token on every refresh) is kept encrypted in
  ``ops.oauth_tokens`` (``pin2deal.hooks.token_store``), read by every worker process and replaced under a lock, so
  concurrent tasks refresh once. A connection without refresh settings (e.g. a conversion token) never touches the
  store: its 401 fails at once;
- a client-side budget per ``x-ratelimit-category`` of the spec (``RateLimiter``, shared by the process' hooks of
  one connection), so we wait before a call instead of being answered 429;
- error mapping: 429 (Pinterest's body code 8) and 5xx, dropped connections and timeouts raise
  ``TransientAPIError`` carrying ``Retry-After`` (or the rate-limit reset), retried by ``api_retrying``, which fails
  at once with a clear message when the wait is hours away; 401 raises ``PinterestTokenExpired``; any other answer
  outside 2xx raises ``PinterestAPIError`` with Pinterest's code and message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret
from tenacity import Retrying

from pin2deal.hooks.token_store import OAuthTokens, OAuthTokenStore
from pin2deal.hooks.warehouse import WarehouseHook
from pin2deal.rate_limit import RateLimiter
from pin2deal.retrying import TransientAPIError, api_retrying

API_PREFIX = "/v5"
# Standard-access budgets per user per app per minute, by the spec's x-ratelimit-category (docs: rate limits).
RATE_LIMITS_PER_MINUTE: dict[str, int] = {
    "ads_analytics": 300,
    "ads_read": 1000,
    "ads_write": 400,
    "ads_conversions": 5000,
    "org_read": 1000,
}
# Connection extra keys the hooks read; HttpHook would otherwise send each of them as a request header.
OWN_EXTRA_KEYS = frozenset(
    {
        "ad_account_id",
        "timezone",
        "refresh_token",
        "client_id",
        "client_secret",
        "rate_limits_per_minute",
        "token_store_conn_id",
    }
)

# Every entity status the list endpoints know: archived and paused entities spent money too.
ENTITY_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT")
MAX_PAGE_SIZE = 250  # list endpoints
MAX_IDS_PER_REQUEST = 250  # ad_ids / campaign_ids of the sync analytics endpoints
SYNC_MAX_DAYS_BACK = 90  # sync analytics (granularity DAY): data up to 90 days before today (UTC) ...
SYNC_MAX_RANGE_DAYS = 90  # ... and at most a 90-day range per request
REPORT_MAX_DAYS_BACK = 914  # async reports (granularity DAY): up to 914 days back ...
REPORT_MAX_RANGE_DAYS = 186  # ... and at most a 186-day range per report
REPORT_STATUSES_FAILED = frozenset({"DOES_NOT_EXIST", "EXPIRED", "FAILED", "CANCELLED"})
EQS_LOOKBACK_PERIODS = ("1d", "14d")  # conversion_eqs: the spec's LookbackPeriodOptions


class PinterestAPIError(RuntimeError):
    """A non-transient answer (4xx other than 401/429): retrying the same request cannot succeed."""

    def __init__(
        self, message: str, *, status: int | None = None, code: int | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = body  # the decoded JSON answer, when it was JSON (a 422's per-event details)


class PinterestTokenExpired(AirflowFailException):
    """401: the access token is expired or revoked and could not be refreshed; Airflow's retries cannot help."""


# Budgets are per app and user, not per hook: the process' hooks on a connection share them.
_LIMITERS: dict[tuple[str, str], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def _parse_http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def retry_after_seconds(headers: requests.structures.CaseInsensitiveDict, now: dt.datetime) -> float | None:
    """How long the server asks us to wait: ``Retry-After`` (seconds or an HTTP date), else the rate-limit reset.

    ``X-RateLimit-Reset`` is read as an epoch second when it looks like one, else as seconds from now.
    """
    value = headers.get("Retry-After")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            when = _parse_http_date(value)
            if when is not None:
                return max((when - now).total_seconds(), 0.0)
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            seconds = float(reset)
        except ValueError:
            return None
        return max(seconds - now.timestamp(), 0.0) if seconds > 1e9 else max(seconds, 0.0)
    return None


class PinterestHook(HttpHook):
    """Calls to Pinterest API v5 with bearer auth, OAuth refresh, per-category budgets, retries and error mapping.

    Subclasses set ``default_conn_name`` and add endpoint methods built on ``call``.
    """

    conn_name_attr = "pinterest_conn_id"
    default_conn_name = "pinterest_ads_default"
    conn_type = "pinterest_ads"
    hook_name = "Pinterest"

    def __init__(
        self,
        pinterest_conn_id: str | None = None,
        *,
        timeout: float = 60.0,
        retrying: Callable[[], Retrying] = api_retrying,
        **kwargs: Any,
    ) -> None:
        conn_id = pinterest_conn_id or self.default_conn_name
        super().__init__(method="GET", http_conn_id=conn_id, **kwargs)
        self.pinterest_conn_id = conn_id
        self.timeout = timeout
        self.retrying = retrying
        self.request_counts: Counter[str] = Counter()  # calls sent, by rate-limit category (retries included)
        self.seconds_waited = 0.0  # time spent waiting on the client-side budget
        self.server_time: dt.datetime | None = None  # the ``Date`` of the last answer: the API's clock
        self._session: requests.Session | None = None
        self._tokens: OAuthTokens | None = None  # the pair in use, read once per hook (see ``tokens``)

    # -- connection ----------------------------------------------------------------------------------------------
    @cached_property
    def connection(self):
        return self.get_connection(self.pinterest_conn_id)

    @cached_property
    def extra(self) -> dict[str, Any]:
        return dict(self.connection.extra_dejson)

    def _extract_auth(self, connection: Any) -> None:
        """Never HTTP Basic: the token travels as a bearer header (see ``call``)."""
        return None

    def _configure_session_from_extra(self, session: requests.Session, connection: Any, extra_options: dict) -> Any:
        session = super()._configure_session_from_extra(session, connection, extra_options)
        for key in OWN_EXTRA_KEYS:
            session.headers.pop(key, None)
        return session

    def session(self) -> requests.Session:
        """One keep-alive session per hook (``HttpHook.run`` builds a new one per request)."""
        if self._session is None:
            self._session = self.get_conn()
            self._session.headers["Accept"] = "application/json"
        return self._session

    @cached_property
    def token_store(self) -> OAuthTokenStore | None:
        """Where the connection's current tokens live (None without refresh settings: nothing is ever rotated)."""
        if not self._can_refresh():
            return None
        warehouse = self.extra.get("token_store_conn_id") or WarehouseHook.default_conn_name
        return OAuthTokenStore(self.pinterest_conn_id, self.token_configuration, warehouse)

    @property
    def token_configuration(self) -> str:
        """What the stored tokens were derived from: the API address and the configured refresh token."""
        connection = self.connection
        return f"{connection.host}:{connection.port}|{self.extra.get('refresh_token')}"

    @property
    def tokens(self) -> OAuthTokens:
        """The access and refresh tokens in use: the stored pair when a worker refreshed them, else the connection's."""
        if self._tokens is None:
            stored = self.token_store.read() if self.token_store is not None else None
            if stored is not None:
                mask_secret(stored.access_token)
                if stored.refresh_token:
                    mask_secret(stored.refresh_token)
            self._tokens = stored or OAuthTokens(self.connection.password or "", self.extra.get("refresh_token"))
        return self._tokens

    @property
    def access_token(self) -> str:
        token = self.tokens.access_token
        if not token:
            raise PinterestTokenExpired(
                f"connection {self.pinterest_conn_id!r} has no access token: put the OAuth access token in its password"
            )
        return token

    def limiter(self, category: str) -> RateLimiter:
        limits = {**RATE_LIMITS_PER_MINUTE, **(self.extra.get("rate_limits_per_minute") or {})}
        with _SHARED_LOCK:
            key = (self.pinterest_conn_id, category)
            if key not in _LIMITERS:
                _LIMITERS[key] = RateLimiter(int(limits.get(category, 1000)), 60.0)
            return _LIMITERS[key]

    def server_today(self) -> dt.date:
        """Today in UTC by the API's clock (the ``Date`` header of its last answer), else by ours."""
        return (self.server_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()

    # -- requests ------------------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        category: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one API request (``path`` below ``/v5``) and return its decoded JSON body.

        Waits for the category's budget before every attempt, retries transient failures, and refreshes the access
        token once on a 401 when the connection allows it.
        """
        used = self.access_token
        try:
            return self._call_with_retries(method, path, category, params, json)
        except PinterestTokenExpired:
            if not self._can_refresh():
                raise
            self.refresh_access_token(expired=used)
        return self._call_with_retries(method, path, category, params, json)

    def _call_with_retries(self, method: str, path: str, category: str, params: Any, body: Any) -> Any:
        url = self.url_from_endpoint(API_PREFIX + path)

        def attempt() -> Any:
            request = requests.Request(
                method, url, params=params, json=body, headers={"Authorization": f"Bearer {self.access_token}"}
            )
            response = self._send(request, category, f"{method} {path}")
            return response.json() if response.content else None

        return self.retrying()(attempt)

    def _send(self, request: requests.Request, category: str, what: str) -> requests.Response:
        """One attempt: budget, send, map the answer to a result or to the error class the retry policy reads."""
        self.seconds_waited += self.limiter(category).acquire()
        self.request_counts[category] += 1
        session = self.session()
        try:
            response = self.run_and_check(
                session,
                session.prepare_request(request),
                {"timeout": self.timeout, **self.merged_extra, "check_response": False},
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientAPIError(f"Pinterest {what}: {type(error).__name__} (no answer)") from error
        self.server_time = _parse_http_date(response.headers.get("Date")) or self.server_time
        if response.ok:
            return response
        code, message = self._error_body(response)
        detail = f"Pinterest {what} answered {response.status_code} (code {code}): {message}"
        if response.status_code == 429 or response.status_code >= 500:
            now = self.server_time or dt.datetime.now(dt.UTC)
            raise TransientAPIError(
                f"{detail} [rate-limit category {category}]" if response.status_code == 429 else detail,
                status=response.status_code,
                retry_after=retry_after_seconds(response.headers, now),
            )
        if response.status_code == 401:
            raise PinterestTokenExpired(
                f"{detail.rstrip('.')}. The access token of connection {self.pinterest_conn_id!r} is expired or "
                "revoked: set a new one as the connection password, or put refresh_token, client_id and "
                "client_secret in its extra so the hook refreshes it (docs/pinterest.md)"
            )
        raise PinterestAPIError(detail, status=response.status_code, code=code, body=self._json_or_none(response))

    @staticmethod
    def _json_or_none(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    @staticmethod
    def _error_body(response: requests.Response) -> tuple[int | None, str]:
        try:
            body = response.json()
        except ValueError:
            return None, response.text[:300] or response.reason
        if isinstance(body, dict):
            return body.get("code"), str(body.get("message") or body)[:500]
        return None, str(body)[:300]

    # -- OAuth refresh -------------------------------------------------------------------------------------------
    def _can_refresh(self) -> bool:
        return all(self.extra.get(key) for key in ("refresh_token", "client_id", "client_secret"))

    def refresh_access_token(self, expired: str | None = None) -> None:
        """Replace the access token ``expired`` (None: whatever is stored) through ``POST /v5/oauth/token``.

        Under the connection's lock in ``ops.oauth_tokens``: when another worker already replaced ``expired`` its
        pair is adopted without a call; otherwise the stored (else configured) refresh token is exchanged and the
        new pair, with the refresh token Pinterest rotated, is stored encrypted before the lock is released. Both
        are masked in logs.
        """
        store = self.token_store
        if store is None:
            raise PinterestTokenExpired(
                f"connection {self.pinterest_conn_id!r} cannot refresh its token: put refresh_token, client_id and "
                "client_secret in its extra (docs/pinterest.md)"
            )
        with store.locked() as locked:
            current = locked.current
            if current is not None and current.access_token != expired and expired is not None:
                mask_secret(current.access_token)
                self._tokens = current
                self.log.info("Connection %s: using the token another worker refreshed", self.pinterest_conn_id)
                return
            refresh_token = (current or self.tokens).refresh_token or self.extra["refresh_token"]
            body = self._exchange(refresh_token)
            token = body["access_token"]
            mask_secret(token)
            if body.get("refresh_token"):
                mask_secret(body["refresh_token"])
            tokens = OAuthTokens(token, body.get("refresh_token") or refresh_token)
            locked.save(
                tokens, expires_in=body.get("expires_in"), refresh_expires_in=body.get("refresh_token_expires_in")
            )
        self._tokens = tokens
        self.log.warning(
            "Refreshed the access token of connection %s (valid %s s%s); stored encrypted in ops.oauth_tokens for "
            "every worker",
            self.pinterest_conn_id,
            body.get("expires_in", "?"),
            ", with the new refresh token Pinterest issued" if body.get("refresh_token") else "",
        )

    def _exchange(self, refresh_token: str) -> dict[str, Any]:
        """One ``POST /v5/oauth/token`` (``grant_type=refresh_token``); a refusal is a clear, final error."""
        request = requests.Request(
            "POST",
            self.url_from_endpoint(f"{API_PREFIX}/oauth/token"),
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(self.extra["client_id"], self.extra["client_secret"]),
        )
        try:
            response = self.retrying()(lambda: self._send(request, "org_read", "POST /oauth/token"))
        except (PinterestAPIError, PinterestTokenExpired) as error:
            raise PinterestTokenExpired(
                f"refreshing the access token of connection {self.pinterest_conn_id!r} failed: {error}. "
                "The refresh token is expired or revoked, or the client id/secret are wrong: authorise the app "
                "again and store the new tokens in the connection"
            ) from None
        return response.json()

    # -- shared reads ------------------------------------------------------------------------------------------------
    @property
    def ad_account_id(self) -> str:
        account = str(self.extra.get("ad_account_id") or "")
        if not account.isdigit():
            raise AirflowFailException(
                f"connection {self.pinterest_conn_id!r} needs the numeric ad account id in its extra "
                f"(ad_account_id), got {account!r}"
            )
        return account

    def paginate(self, path: str, *, category: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Yield the ``items`` of every page of a bookmark-paged list endpoint."""
        bookmark: str | None = None
        while True:
            page = self.call("GET", path, category=category, params={**params, "bookmark": bookmark})
            yield page.get("items") or []
            bookmark = page.get("bookmark")
            if not bookmark:
                return


class PinterestAdsHook(PinterestHook):
    """Pinterest Ads reads on ``pinterest_ads_default``: the ad account, its entities, their delivery metrics and the
    Event Quality Score of its conversion events."""

    default_conn_name = "pinterest_ads_default"
    hook_name = "Pinterest Ads"

    def get_ad_account(self) -> dict[str, Any]:
        return self.call("GET", f"/ad_accounts/{self.ad_account_id}", category="ads_read")

    def account_timezone(self, account: dict[str, Any] | None = None) -> ZoneInfo:
        """The ad account's time zone, in which Pinterest reports days: the extra ``timezone`` (IANA name).

        The v5 ad account object does not carry it; a ``timezone``/``time_zone`` field is used if the API sends
        one, else UTC with a warning (set the extra: a wrong zone shifts the edges of every day).
        """
        name = self.extra.get("timezone") or (account or {}).get("timezone") or (account or {}).get("time_zone")
        if not name:
            self.log.warning(
                "connection %s has no 'timezone' in its extra: reading Pinterest days as UTC days",
                self.pinterest_conn_id,
            )
            return ZoneInfo("UTC")
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise AirflowFailException(
                f"connection {self.pinterest_conn_id!r}: extra timezone {name!r} is not an IANA time zone name"
            ) from error

    def iter_entities(self, kind: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``campaigns``, ``ad_groups`` or ``ads`` of the account, in every status."""
        if kind not in ("campaigns", "ad_groups", "ads"):
            raise ValueError(f"unknown Pinterest entity kind {kind!r}")
        return self.paginate(
            f"/ad_accounts/{self.ad_account_id}/{kind}",
            category="ads_read",
            params={"entity_statuses": list(ENTITY_STATUSES), "page_size": MAX_PAGE_SIZE},
        )

    def ads_analytics(
        self, ad_ids: Sequence[str], start: dt.date, end: dt.date, columns: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Daily metrics of up to 250 ads over at most 90 days (``GET .../ads/analytics``, granularity DAY)."""
        if not 1 <= len(ad_ids) <= MAX_IDS_PER_REQUEST:
            raise ValueError(f"ads analytics takes 1 to {MAX_IDS_PER_REQUEST} ad ids per request, got {len(ad_ids)}")
        if not 0 <= (end - start).days < SYNC_MAX_RANGE_DAYS:
            raise ValueError(f"ads analytics takes at most {SYNC_MAX_RANGE_DAYS} days per request: {start}..{end}")
        rows = self.call(
            "GET",
            f"/ad_accounts/{self.ad_account_id}/ads/analytics",
            category="ads_analytics",
            params={
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "ad_ids": list(ad_ids),
                "columns": ",".join(columns),  # explode: false in the spec
                "granularity": "DAY",
            },
        )
        return rows or []

    def metrics_ready(self, day: dt.date) -> bool:
        """Whether Pinterest has finalised ``day``'s metrics (conversion and non-conversion alike)."""
        state = self.call(
            "GET", "/resources/metrics_ready_state", category="ads_analytics", params={"date": day.isoformat()}
        )
        return bool(state.get("conversion_metrics_ready")) and bool(state.get("non_conversion_metrics_ready"))

    def create_report(self, start: dt.date, end: dt.date, columns: Sequence[str]) -> str:
        """Ask for an asynchronous ad-level (PIN_PROMOTION) daily report of every ad; return its token."""
        if not 0 <= (end - start).days < REPORT_MAX_RANGE_DAYS:
            raise ValueError(f"a report covers at most {REPORT_MAX_RANGE_DAYS} days: {start}..{end}")
        answer = self.call(
            "POST",
            f"/ad_accounts/{self.ad_account_id}/reports",
            category="ads_analytics",
            json={
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "granularity": "DAY",
                "level": "PIN_PROMOTION",
                "columns": list(columns),
                "report_format": "JSON",
            },
        )
        return answer["token"]

    def get_report(self, token: str) -> dict[str, Any]:
        """``report_status`` and, once FINISHED, the download ``url`` (valid five minutes) of a report."""
        return self.call(
            "GET", f"/ad_accounts/{self.ad_account_id}/reports", category="ads_analytics", params={"token": token}
        )

    def conversion_eqs(self, lookback_period: str) -> list[Any]:
        """Pinterest's Event Quality Score of the account's conversion events over the lookback (``1d`` or ``14d``):
        one object per source platform and ingestion source (``GET .../conversion_eqs``; not paged)."""
        if lookback_period not in EQS_LOOKBACK_PERIODS:
            raise ValueError(f"lookback_period must be one of {list(EQS_LOOKBACK_PERIODS)}, got {lookback_period!r}")
        answer = self.call(
            "GET",
            f"/ad_accounts/{self.ad_account_id}/conversion_eqs",
            category="ads_read",
            params={"lookback_period": lookback_period},
        )
        if not isinstance(answer, list):
            raise PinterestAPIError(
                f"Pinterest GET /conversion_eqs answered {type(answer).__name__} where the spec says a list",
                status=200,
                body=answer,
            )
        return answer

    def download_report(self, url: str) -> Iterable[dict[str, Any]]:
        """The rows of a finished JSON report (``{id: [row, ...]}`` per entity, or a plain list of rows).

        The URL is pre-signed storage, not the API: no bearer token and no API budget, but the same retries.
        """

        def attempt() -> Any:
            try:
                response = requests.get(url, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                raise TransientAPIError(f"report download: {type(error).__name__}") from error
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientAPIError(f"report download answered {response.status_code}", status=response.status_code)
            if not response.ok:
                raise PinterestAPIError(
                    f"report download answered {response.status_code}: the link expired or is wrong",
                    status=response.status_code,
                )
            return response.json()

        body = self.retrying()(attempt)
        if isinstance(body, dict):
            return [row for rows in body.values() for row in (rows if isinstance(rows, list) else [rows])]
        return body or []


@dataclass
class EventsAnswer:
    """Pinterest's answer to one events request (200 or 422), and how it was obtained.

    ``body`` is the decoded answer (a 422's ``details``), or None when it was not JSON. ``unanswered_attempts``
    counts attempts that ended without any answer (timeout, dropped connection): Pinterest may have processed the
    events of such an attempt, so a later success may have delivered them twice.
    """

    status: int
    body: Any
    attempts: int
    unanswered_attempts: int

    def verdicts(self, count: int) -> list[dict[str, Any]] | None:
        """``events[]``, one verdict per event sent in request order; None when the answer does not list them all
        (not JSON, no list, a shorter one): which event each verdict belongs to is then unknown."""
        results = self.body.get("events") if isinstance(self.body, dict) else None
        if isinstance(results, list) and len(results) == count and all(isinstance(item, dict) for item in results):
            return results
        return None

    def defect(self, count: int) -> str:
        """What is wrong with an answer ``verdicts`` refused, in words."""
        if not isinstance(self.body, dict):
            return "a body that is not JSON"
        results = self.body.get("events")
        listed = len(results) if isinstance(results, list) else "no"
        return f"{listed} per-event results for {count} events"


@dataclass
class SendTrace:
    """Attempts of the last ``send_events`` call, also when it raised (the ledger records them)."""

    attempts: int = 0
    unanswered_attempts: int = 0


class PinterestConversionsHook(PinterestHook):
    """The Conversions API on ``pinterest_conversions_default``: the conversion access token as password,
    ``ad_account_id`` in the extra. Sends up to 1,000 events per request and returns Pinterest's answer for a 200
    and a 422 alike, readable or not (the sender decides what an unreadable one means); everything else is
    ``PinterestHook``'s error mapping (transient failures retried inside, 401 ``PinterestTokenExpired``, other 4xx
    ``PinterestAPIError``)."""

    default_conn_name = "pinterest_conversions_default"
    conn_type = "pinterest_conversions"
    hook_name = "Pinterest Conversions"

    def __init__(self, pinterest_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(pinterest_conn_id, **kwargs)
        self.last_send = SendTrace()

    def server_now(self) -> dt.datetime:
        """The API's clock: the ``Date`` of its last answer, else of a ``HEAD /v5/`` (no auth, no budget).

        Event age is Pinterest's rule on Pinterest's clock, so "too old" is decided on it, not on the worker's.
        """
        if self.server_time is None:

            def attempt() -> None:
                try:
                    response = self.session().head(self.url_from_endpoint(API_PREFIX + "/"), timeout=self.timeout)
                except (requests.ConnectionError, requests.Timeout) as error:
                    raise TransientAPIError(f"Pinterest HEAD /v5/: {type(error).__name__} (no answer)") from error
                if response.status_code >= 500 or response.status_code == 429:
                    raise TransientAPIError(f"Pinterest HEAD /v5/ answered {response.status_code}")
                self.server_time = _parse_http_date(response.headers.get("Date")) or dt.datetime.now(dt.UTC)

            self.retrying()(attempt)
        return self.server_time or dt.datetime.now(dt.UTC)

    def send_events(self, events: Sequence[dict[str, Any] | str], *, test: bool = False) -> EventsAnswer:
        """``POST /v5/ad_accounts/{id}/events`` with ``{"data": events}`` (``?test=true`` records nothing).

        ``events`` are event objects, or their JSON text when the caller already encoded them (to hash exactly the
        bytes sent). The body is encoded once: a retry sends the very same bytes, event ids included.
        """
        if not 1 <= len(events) <= 1000:
            raise ValueError(f"the events endpoint takes 1 to 1,000 events per request, got {len(events)}")
        path = f"/ad_accounts/{self.ad_account_id}/events"
        url = self.url_from_endpoint(API_PREFIX + path)
        encoded = [event if isinstance(event, str) else json.dumps(event, separators=(",", ":")) for event in events]
        body = ('{"data":[' + ",".join(encoded) + "]}").encode("utf-8")
        trace = self.last_send = SendTrace()

        def attempt() -> EventsAnswer:
            trace.attempts += 1
            request = requests.Request(
                "POST",
                url,
                params={"test": "true"} if test else None,
                data=body,
                headers={"Authorization": f"Bearer {self.access_token}", "Content-Type": "application/json"},
            )
            try:
                response = self._send(request, "ads_conversions", "POST /events")
            except TransientAPIError as error:
                if error.status is None:
                    trace.unanswered_attempts += 1
                raise
            except PinterestAPIError as error:
                if error.status != 422:
                    raise
                details = error.body.get("details") if isinstance(error.body, dict) else None
                return EventsAnswer(422, details, trace.attempts, trace.unanswered_attempts)
            decoded = self._json_or_none(response)
            return EventsAnswer(response.status_code, decoded, trace.attempts, trace.unanswered_attempts)

        return self.retrying()(attempt)
