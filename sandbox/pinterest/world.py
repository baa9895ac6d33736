"""In-memory state of the emulated Pinterest account: entities, metrics, tokens, budgets, reports and CAPI events.

Built from the dataset when the server starts; mutations (restatements, token expiry, received events) live in
memory only, so a restarted sandbox is the dataset's world again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.limits import SlidingWindow
from sandbox.pinterest.analytics import Metrics, id_order
from sandbox.pinterest.wire import rate_limited
from sandbox.state import Sandbox

ACCESS_TOKEN_SECONDS = 30 * 24 * 3600  # Pinterest access tokens: 30 days
REFRESH_TOKEN_SECONDS = 60 * 24 * 3600  # continuous refresh tokens: 60 days, renewed by every refresh
TEST_EVENTS_PER_SECOND = 10  # "Test requests have a rate limit of 10 per app per second" (rate limits page)

# Optional config.json keys of the Pinterest side, with the values used when a dataset does not set them.
CONFIG_DEFAULTS = {
    "pinterest_client_id": "pin2deal-sandbox-app",
    "pinterest_client_secret": "pin2deal-sandbox-secret",
    "pinterest_refresh_token": "pinr.pin2deal-sandbox-refresh",
    "ad_account_name": "pin2deal sandbox ad account",
    "country": "US",
    "owner_username": "pin2deal",
}


class Tokens:
    """Which bearer tokens are valid for what.

    - ads endpoints: the config's ``pinterest_ads_token`` and every token issued by ``POST /v5/oauth/token``, until
      ``POST /_sandbox/pinterest/expire-token`` expires all of them (tokens never expire by time in the sandbox);
    - the events endpoint: the config's ``pinterest_conversions_token`` (never expires) or a valid ads token;
    - ``POST /v5/oauth/token``: HTTP Basic ``pinterest_client_id:pinterest_client_secret`` and the current refresh
      token (first ``pinterest_refresh_token``). Like Pinterest's continuous refresh tokens, every refresh rotates
      it: the answer carries a new refresh token and the one just used stops working (a second refresh with it is
      answered 400), so a client that does not keep the new one is locked out.
    """

    def __init__(self, config: dict[str, Any], seed: int) -> None:
        self.conversions = str(config["pinterest_conversions_token"])
        self.client_id = str(config.get("pinterest_client_id", CONFIG_DEFAULTS["pinterest_client_id"]))
        self.client_secret = str(config.get("pinterest_client_secret", CONFIG_DEFAULTS["pinterest_client_secret"]))
        self.refresh_token = str(config.get("pinterest_refresh_token", CONFIG_DEFAULTS["pinterest_refresh_token"]))
        self._valid_ads = {str(config["pinterest_ads_token"])}
        self._seed = seed
        self._issued = itertools.count(1)
        self._lock = threading.Lock()
        self.refreshes = 0  # successful refreshes (tests count them)

    def is_ads(self, token: str) -> bool:
        with self._lock:
            return token in self._valid_ads

    def is_conversions(self, token: str) -> bool:
        return token == self.conversions

    def expire_ads(self) -> int:
        with self._lock:
            count = len(self._valid_ads)
            self._valid_ads.clear()
            return count

    def issue(self) -> str:
        """A new ads access token (deterministic for a seed: the n-th refresh of a run gets the same token)."""
        digest = hashlib.sha256(f"{self._seed}:{next(self._issued)}".encode()).hexdigest()
        token = f"pina_sandbox{digest[:48]}"
        with self._lock:
            self._valid_ads.add(token)
        return token

    def refresh(self, refresh_token: str) -> tuple[str, str] | None:
        """Exchange the current refresh token for ``(new access token, new refresh token)``; None when it is not
        the current one (never issued, or already used: rotated away)."""
        with self._lock:
            if refresh_token != self.refresh_token:
                return None
            self.refreshes += 1
            digest = hashlib.sha256(f"{self._seed}:refresh:{self.refreshes}".encode()).hexdigest()
            self.refresh_token = f"pinr.sandbox{digest[:48]}"
            rotated = self.refresh_token
        return self.issue(), rotated


class RateLimits:
    """Per-minute budgets per ``x-ratelimit-category`` (settings.pinterest), one sliding window each.

    Pinterest counts per user per app (per ad account for ``ads_conversions``); the sandbox has one user, one app
    and one ad account, so one window per category. Requests authenticated with the conversion token are not
    counted ("unlimited conversion-tracking events"); test events (``?test=true``) have their own 10/s budget.
    """

    def __init__(self, enabled: bool, per_minute: dict[str, int], default_per_minute: int) -> None:
        self.enabled = enabled
        self._per_minute, self._default = per_minute, default_per_minute
        self._windows: dict[str, SlidingWindow] = {}
        self._test_events = SlidingWindow(TEST_EVENTS_PER_SECOND, 1.0)
        self._lock = threading.Lock()

    def limit(self, category: str) -> int:
        return self._per_minute.get(category, self._default)

    def _window(self, category: str) -> SlidingWindow:
        with self._lock:
            if category not in self._windows:
                self._windows[category] = SlidingWindow(self.limit(category), 60.0)
            return self._windows[category]

    def acquire(self, category: str | None, *, test_event: bool = False) -> dict[str, str]:
        """Count one request; return the ``x-ratelimit-*`` headers, or raise Pinterest's 429 when over budget."""
        if not self.enabled:
            return {}
        if test_event:
            wait = self._test_events.try_acquire()
            if wait is not None:
                raise rate_limited(wait, TEST_EVENTS_PER_SECOND)
        if category is None:
            return {}
        window = self._window(category)
        wait = window.try_acquire()
        if wait is not None:
            raise rate_limited(wait, window.limit)
        return {"x-ratelimit-limit": str(window.limit), "x-ratelimit-remaining": str(window.remaining())}


ANSWER_FAULT_KINDS = ("empty", "null", "truncate")


@dataclass
class AnswerFaults:
    """Broken-but-200 analytics answers, armed by ``POST /_sandbox/pinterest/answer-fault``: the next ``answers``
    synchronous analytics answers and report files (0: every one until cleared) come back ``empty`` (no rows),
    ``null`` (a JSON null) or ``truncate`` (only the first ``keep`` share of their rows), like the partial
    answers a real API sometimes gives."""

    kind: str | None = None
    answers: int = 0
    keep: float = 0.5
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, kind: str | None, answers: int = 1, keep: float = 0.5) -> None:
        with self._lock:
            self.kind, self.answers, self.keep = kind, answers, keep

    def apply(self, rows: list[Any]) -> list[Any] | None:
        """``rows`` as the armed fault (if any) breaks them; counts one answer."""
        with self._lock:
            kind = self.kind
            if kind is None:
                return rows
            if self.answers > 0:
                self.answers -= 1
                if self.answers == 0:
                    self.kind = None
            keep = self.keep
        if kind == "empty":
            return []
        if kind == "null":
            return None
        return rows[: int(len(rows) * keep)]


EVENTS_FAULT_KINDS = ("not_json", "short_events", "refuse_all")


@dataclass
class EventsFaults:
    """Faults of the events endpoint, armed by ``POST /_sandbox/pinterest/events-fault`` for the next ``answers``
    real (not ``?test=true``) events requests (0: every one until cleared):

    - ``not_json``: the events are processed and recorded, then the answer (200, or 422 when one failed) is cut off
      mid-body: its status and ``Content-Type`` say JSON, its bytes are not (a proxy or a gateway cutting it short);
    - ``short_events``: processed and recorded, then ``events[]`` lists only the first ``keep`` share of the
      verdicts (``num_events_*`` stay true): which event a verdict belongs to can no longer be told;
    - ``refuse_all``: every request is refused whole with a 400 naming a field each event carries, nothing
      processed: what a change of the API's validation does to a client that did not change (a systemic 400).
    """

    kind: str | None = None
    answers: int = 0
    keep: float = 0.5
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, kind: str | None, answers: int = 1, keep: float = 0.5) -> None:
        with self._lock:
            self.kind, self.answers, self.keep = kind, answers, keep

    def take(self) -> tuple[str | None, float]:
        """The fault of this request (and ``keep``), counting one answer."""
        with self._lock:
            kind, keep = self.kind, self.keep
            if kind is not None and self.answers > 0:
                self.answers -= 1
                if self.answers == 0:
                    self.kind = None
            return kind, keep


EQS_FAULT_KINDS = ("unknown_status",)


@dataclass
class EqsFaults:
    """An answer of ``conversion_eqs`` the spec does not describe, armed by ``POST /_sandbox/pinterest/eqs-fault``
    for the next ``answers`` reads (0: every one until cleared): ``unknown_status`` gives the first object an
    ``overall_status`` outside the spec's enum, as when Pinterest adds a rating a client does not know yet; the other
    objects are as computed."""

    kind: str | None = None
    answers: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, kind: str | None, answers: int = 1) -> None:
        with self._lock:
            self.kind, self.answers = kind, answers

    def apply(self, scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            kind = self.kind
            if kind is not None and self.answers > 0:
                self.answers -= 1
                if self.answers == 0:
                    self.kind = None
        if kind == "unknown_status" and scores:
            return [{**scores[0], "overall_status": "UNRATED"}, *scores[1:]]
        return scores


@dataclass
class Report:
    """One async report: its request, how often it was polled, and its file once generated."""

    token: str
    request: dict[str, Any]
    polls: int = 0
    content: bytes | None = None
    media_type: str = "application/json"
    extension: str = "json"


@dataclass
class ReceivedEvent:
    """A CAPI event the sandbox accepted (``GET /_sandbox/events``)."""

    ad_account_id: str
    event: dict[str, Any]
    deduplicated: bool
    received_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "ad_account_id": self.ad_account_id,
            "event_id": self.event.get("event_id"),
            "event_name": self.event.get("event_name"),
            "event_time": self.event.get("event_time"),
            "deduplicated": self.deduplicated,
            "received_at": self.received_at,
            "event": self.event,
        }


@dataclass
class EventLog:
    """Accepted events in arrival order; an event repeating an accepted ``(event_name, event_id)`` of the same ad
    account is accepted again (Pinterest answers "processed") and recorded as deduplicated."""

    received: list[ReceivedEvent] = field(default_factory=list)
    _keys: set[tuple[str, str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def is_duplicate(self, ad_account_id: str, event: dict[str, Any]) -> bool:
        with self._lock:
            return (ad_account_id, str(event.get("event_name")), str(event.get("event_id"))) in self._keys

    def record(self, ad_account_id: str, event: dict[str, Any], received_at: str) -> ReceivedEvent:
        key = (ad_account_id, str(event.get("event_name")), str(event.get("event_id")))
        with self._lock:
            entry = ReceivedEvent(ad_account_id, event, key in self._keys, received_at)
            self._keys.add(key)
            self.received.append(entry)
            return entry

    def all(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self.received)


class PinterestWorld:
    """Everything the Pinterest routes read and change, for one sandbox server."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        dataset, settings = sandbox.dataset, sandbox.settings
        config = dataset.config
        self.config = config
        self.ad_account_id = str(config["ad_account_id"])
        self.campaigns = _by_id(dataset.campaigns)
        self.ad_groups = _by_id(dataset.ad_groups)
        self.ads = _by_id(dataset.ads)
        self.metrics = Metrics(dataset.analytics, dataset.ads)
        self.tokens = Tokens(config, settings.seed)
        self.limits = RateLimits(
            settings.rate_limits, settings.pinterest.per_minute, settings.pinterest.default_per_minute
        )
        self.reports: dict[str, Report] = {}
        self._report_numbers = itertools.count(1)
        self.events = EventLog()
        self.answer_faults = AnswerFaults()
        self.events_faults = EventsFaults()
        self.eqs_faults = EqsFaults()
        # Event ids whose presence makes the whole events request a 400 (POST /_sandbox/pinterest/faults): an
        # event the client's validation let through and Pinterest's refuses.
        self.poisoned_event_ids: set[str] = set()

    @property
    def today(self) -> dt.date:
        return self.sandbox.today

    def now(self) -> dt.datetime:
        return self.sandbox.now()

    def ad_account(self) -> dict[str, Any]:
        """``GET /v5/ad_accounts/{id}`` (the ``AdAccount`` schema) from the config."""
        config = self.config
        return {
            "id": self.ad_account_id,
            "name": config.get("ad_account_name", CONFIG_DEFAULTS["ad_account_name"]),
            "owner": {
                "id": str(config.get("owner_user_id", self.ad_account_id)),
                "username": config.get("owner_username", CONFIG_DEFAULTS["owner_username"]),
            },
            "country": config.get("country", CONFIG_DEFAULTS["country"]),
            "currency": config.get("currency", "USD"),
            "permissions": ["OWNER"],
        }

    def new_report(self, request: dict[str, Any]) -> Report:
        number = next(self._report_numbers)
        digest = hashlib.sha256(f"{self.sandbox.settings.seed}:report:{number}".encode()).hexdigest()
        report = Report(token=f"{digest[:32]}", request=request)
        self.reports[report.token] = report
        return report


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Entities by id, in ascending id order (the order list endpoints page through)."""
    ordered = sorted(records, key=lambda record: id_order(str(record["id"])))
    return {str(record["id"]): record for record in ordered}
