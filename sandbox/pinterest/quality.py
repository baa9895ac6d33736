"""Event Quality Score (``GET /v5/ad_accounts/{id}/conversion_eqs``) as the sandbox computes it: from the Conversions
API events it accepted, never from a fixed answer.

- the events: those accepted for the account within the lookback (``1d``/``14d`` before now, by the time they
  were received), each ``(event_name, event_id)`` once (a repeat Pinterest deduplicated does not count again).
  Every one came through the Conversions API (the sandbox has no tag), so ``ingestion_source`` is
  ``CONVERSIONS_API``, and its ``action_source`` gives ``source_platform`` (``offline`` -> ``OFFLINE``,
  ``web`` -> ``WEB``, ``app_android``/``app_ios`` -> ``MOBILE_ANDROID``/``MOBILE_IOS``);
- one object per source platform (the optional ``ingestion_source``/``source_platform`` parameters filter them),
  none at all when no event is in the window (an empty list, as for an account without conversions);
- ``quality_components``: every component of the spec, per event type (the ``event_name``), with ``coverage`` the
  percent (0-100, two decimals) of the events carrying the key (``hashed_email`` = ``user_data.em``,
  ``click_id_epik`` = ``user_data.click_id``, ``advertiser_external_id`` = ``user_data.external_id``,
  ``external_event_id`` = ``event_id``, ``order_id``/``order_value`` = ``custom_data.order_id``/``value``, ...);
  a hashed key whose values are not SHA-256 hex digests gets an ``UNHASHED_VALUE`` issue counting those events;
  ``external_event_id`` has ``overlap`` 0 (no tag events to overlap with);
- ``overall_status`` (Pinterest does not publish its formula; this is the sandbox's): ``GOOD`` when at least 90% of
  the events carry an email and 50% a click id, ``FAIR`` when at least 50% carry an email, else
  ``NEEDS_IMPROVEMENT``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.pinterest.world import ReceivedEvent

LOOKBACK_DAYS = {"1d": 1, "14d": 14}
INGESTION_SOURCE = "CONVERSIONS_API"
PLATFORMS = {"web": "WEB", "offline": "OFFLINE", "app_android": "MOBILE_ANDROID", "app_ios": "MOBILE_IOS"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _user(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("user_data") if isinstance(event.get("user_data"), dict) else {}


def _custom(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("custom_data") if isinstance(event.get("custom_data"), dict) else {}


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _products(event: dict[str, Any]) -> bool:
    custom = _custom(event)
    contents = custom.get("contents") if isinstance(custom.get("contents"), list) else []
    return _present(custom.get("content_ids")) or any(isinstance(c, dict) and _present(c.get("id")) for c in contents)


# Every component of the spec's QualityComponents: does an event carry it?
COMPONENTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "advertiser_external_id": lambda e: _present(_user(e).get("external_id")),
    "click_id_epik": lambda e: _present(_user(e).get("click_id")),
    "external_event_id": lambda e: _present(e.get("event_id")),
    "hashed_email": lambda e: _present(_user(e).get("em")),
    "hashed_maid": lambda e: _present(_user(e).get("hashed_maids")),
    "ip_address": lambda e: _present(_user(e).get("client_ip_address")),
    "order_id": lambda e: _present(_custom(e).get("order_id")),
    "order_value": lambda e: _present(_custom(e).get("value")),
    "product_id": _products,
    "source_url": lambda e: _present(e.get("event_source_url")),
    "user_agent": lambda e: _present(_user(e).get("client_user_agent")),
}
# Components whose values must be SHA-256 digests, and the user_data field that holds them.
HASHED = {"hashed_email": "em", "advertiser_external_id": "external_id", "hashed_maid": "hashed_maids"}


def _unhashed(event: dict[str, Any], name: str) -> bool:
    values = _user(event).get(name)
    return isinstance(values, list) and any(not (isinstance(v, str) and _SHA256.fullmatch(v)) for v in values)


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 2)


def status(events: list[dict[str, Any]]) -> str:
    email = sum(COMPONENTS["hashed_email"](e) for e in events) / len(events)
    click = sum(COMPONENTS["click_id_epik"](e) for e in events) / len(events)
    if email >= 0.9 and click >= 0.5:
        return "GOOD"
    return "FAIR" if email >= 0.5 else "NEEDS_IMPROVEMENT"


def score(platform: str, lookback: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``EventQualityScore`` object of one source platform's events."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_type[str(event.get("event_name"))].append(event)
    components: dict[str, dict[str, Any]] = {}
    for name, carries in COMPONENTS.items():
        per_type = {}
        for event_type, typed in sorted(by_type.items()):
            details: dict[str, Any] = {"coverage": _percent(sum(map(carries, typed)), len(typed))}
            field = HASHED.get(name)
            unhashed = sum(_unhashed(e, field) for e in typed) if field else 0
            if unhashed:
                details["issues"] = [
                    {
                        "id": "UNHASHED_VALUE",
                        "name": "Value not hashed",
                        "reason": f"{unhashed} of {len(typed)} {event_type} events sent user_data.{field} values that "
                        "are not lowercase SHA-256 hex digests",
                    }
                ]
            if name == "external_event_id":
                details["overlap"] = 0.0
            per_type[event_type] = details
        components[name] = per_type
    return {
        "ingestion_source": INGESTION_SOURCE,
        "source_platform": platform,
        "lookback_period": lookback,
        "overall_status": status(events),
        "quality_components": components,
    }


def event_quality(
    received: Iterable[ReceivedEvent],
    ad_account_id: str,
    now: dt.datetime,
    lookback: str,
    ingestion_source: str | None = None,
    source_platform: str | None = None,
) -> list[dict[str, Any]]:
    """The answer to ``conversion_eqs`` for the events received so far (see the module doc)."""
    since = now - dt.timedelta(days=LOOKBACK_DAYS[lookback])
    by_platform: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in received:
        if entry.ad_account_id != ad_account_id or entry.deduplicated:
            continue
        if not since <= dt.datetime.fromisoformat(entry.received_at) <= now:
            continue
        platform = PLATFORMS.get(str(entry.event.get("action_source")))
        if platform is not None:
            by_platform[platform].append(entry.event)
    if ingestion_source not in (None, INGESTION_SOURCE):
        return []
    return [
        score(platform, lookback, events)
        for platform, events in sorted(by_platform.items())
        if source_platform in (None, platform)
    ]
