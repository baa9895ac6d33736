"""The match-quality loop: Pinterest's Event Quality Score (EQS) of our conversion events, read into the warehouse,
and the advice the briefing and the pin2deal page give when a key is missing from too many of the events we sent.

``read_event_quality`` reads ``GET /v5/ad_accounts/{id}/conversion_eqs`` once (through ``PinterestAdsHook``: its
OAuth refresh, budget and retries), parses the answer by the spec's ``EventQualityScore`` schema and replaces the
read of the account, UTC day (the API's clock) and lookback in ``raw.pinterest_event_quality`` and
``raw.pinterest_event_quality_keys`` in one transaction: a re-run of the day overwrites, never duplicates. An
object of the answer that breaks the schema is left out and flagged in ``ops.record_issues``
(``pinterest.event_quality``) naming it and its field; the others are stored.

``low_coverage`` is the one rule that says a key's coverage is low, and what to do about it; the coverage it judges is
our own count of the week's sent events carrying the key (``ops.capi_ledger.match_keys``, docs/capi.md "Match
quality"), as Pinterest's EQS looks back 1 or 14 days only and rates no phone.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pin2deal.capi.send import sql_statements
from pin2deal.hooks.pinterest import EQS_LOOKBACK_PERIODS as LOOKBACK_PERIODS
from pin2deal.hooks.warehouse import replace_record_issues
from pin2deal.paths import SQL_DIR

if TYPE_CHECKING:
    from psycopg import Connection

    from pin2deal.hooks.pinterest import PinterestAdsHook

ISSUE_SOURCE = "pinterest.event_quality"
# The spec's enums of EventQualityScore (tests check them against the official description).
OVERALL_STATUSES = ("NEEDS_IMPROVEMENT", "FAIR", "GOOD")
INGESTION_SOURCES = ("TAG", "MMP", "FILE_UPLOAD", "CONVERSIONS_API", "NATIVE")
SOURCE_PLATFORMS = (
    "WEB", "MOBILE", "MOBILE_ANDROID", "MOBILE_IOS", "OFFLINE", "PINTEREST_WEB", "PINTEREST_ANDROID",
    "PINTEREST_IOS", "POINT_OF_SALE",
)  # fmt: skip


@dataclass(frozen=True)
class ShownKey:
    """A match key the briefing and the page count among the week's sent events: how it is called in words, what to
    do when too few events carry it, and its ``quality_components`` name in Pinterest's EQS (None: not rated there)."""

    label: str
    advice: str
    eqs_key: str | None = None


# Keyed by the user_data field name (ops.capi_ledger.match_keys); the advice is said once, in these words, wherever
# coverage is shown.
SHOWN_KEYS: dict[str, ShownKey] = {
    "click_id": ShownKey(
        "click id",
        "keep the epik URL parameter in the deal property mapped as epik, so events carry Pinterest's click id",
        "click_id_epik",
    ),
    "em": ShownKey(
        "email",
        "associate each deal with its contact and map the contact email property, so events carry an email",
        "hashed_email",
    ),
    "ph": ShownKey("phone", "map the contact phone property, so events carry a phone"),
}
# The EQS components whose issues the page shows beside the score.
SHOWN_EQS_KEYS = tuple(shown.eqs_key for shown in SHOWN_KEYS.values() if shown.eqs_key)


@functools.cache
def quality_sql(name: str) -> str:
    return (SQL_DIR / "capi" / f"{name}.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class KeyCoverage:
    """One quality component for one conversion event type: the percent of events carrying the key."""

    quality_key: str
    event_type: str
    coverage: Decimal
    overlap: Decimal | None
    issues: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class QualityScore:
    """Pinterest's rating of the events of one ingestion source and source platform over the lookback."""

    ingestion_source: str
    source_platform: str
    lookback_period: str
    overall_status: str
    keys: tuple[KeyCoverage, ...]
    raw: dict[str, Any] = field(compare=False, default_factory=dict)

    @property
    def record_key(self) -> str:
        return f"{self.ingestion_source}/{self.source_platform}/{self.lookback_period}"


class Malformed(ValueError):
    """An object of the answer that breaks the spec's schema: ``field`` names where."""

    def __init__(self, field_name: str, reason: str, value: Any = None) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field, self.reason, self.value = field_name, reason, value


def _choice(item: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = item.get(name)
    if value not in allowed:
        raise Malformed(name, f"not one of {list(allowed)}", value)
    return value


def _percent(value: Any, name: str, *, required: bool) -> Decimal | None:
    if value is None and not required:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Malformed(name, "not a number", value)
    return Decimal(str(value))


def _issues(value: Any, name: str) -> tuple[dict[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Malformed(name, "not a list", value)
    for index, issue in enumerate(value):
        if not isinstance(issue, dict) or not all(isinstance(issue.get(k), str) for k in ("id", "name", "reason")):
            raise Malformed(f"{name}[{index}]", "needs id, name and reason (strings)", issue)
    return tuple({k: issue[k] for k in ("id", "name", "reason")} for issue in value)


def parse_score(item: Any) -> QualityScore:
    """One object of the answer by the spec's ``EventQualityScore`` schema, or ``Malformed`` naming the field."""
    if not isinstance(item, dict):
        raise Malformed("(object)", "not a JSON object", item)
    source = _choice(item, "ingestion_source", INGESTION_SOURCES)
    platform = _choice(item, "source_platform", SOURCE_PLATFORMS)
    lookback = _choice(item, "lookback_period", LOOKBACK_PERIODS)
    status = _choice(item, "overall_status", OVERALL_STATUSES)
    components = item.get("quality_components")
    if not isinstance(components, dict):
        raise Malformed("quality_components", "not an object", components)
    keys = []
    for key, per_type in sorted(components.items()):
        if not isinstance(per_type, dict):
            raise Malformed(f"quality_components.{key}", "not an object", per_type)
        for event_type, details in sorted(per_type.items()):
            where = f"quality_components.{key}.{event_type}"
            if not isinstance(details, dict):
                raise Malformed(where, "not an object", details)
            keys.append(
                KeyCoverage(
                    quality_key=key,
                    event_type=event_type.lower(),
                    coverage=_percent(details.get("coverage"), f"{where}.coverage", required=True),
                    overlap=_percent(details.get("overlap"), f"{where}.overlap", required=False),
                    issues=_issues(details.get("issues"), f"{where}.issues"),
                )
            )
    return QualityScore(source, platform, lookback, status, tuple(keys), item)


def _record_key(item: Any, lookback: str) -> str:
    fields = item if isinstance(item, dict) else {}
    return f"{fields.get('ingestion_source')}/{fields.get('source_platform')}/{fields.get('lookback_period', lookback)}"


def store_scores(
    conn: Connection, ad_account_id: str, read_day: dt.date, lookback: str, scores: list[QualityScore], run_id: str
) -> None:
    """Replace the read of ``(ad_account_id, read_day, lookback)`` by ``scores`` (the caller's transaction)."""
    keys = [(score, key) for score in scores for key in score.keys]
    params = {
        "ad_account_id": ad_account_id,
        "read_day": read_day,
        "lookback_period": lookback,
        "run_id": run_id,
        "ingestion_sources": [s.ingestion_source for s in scores],
        "source_platforms": [s.source_platform for s in scores],
        "overall_statuses": [s.overall_status for s in scores],
        "raws": [json.dumps(s.raw) for s in scores],
        "key_ingestion_sources": [s.ingestion_source for s, _ in keys],
        "key_source_platforms": [s.source_platform for s, _ in keys],
        "quality_keys": [k.quality_key for _, k in keys],
        "event_types": [k.event_type for _, k in keys],
        "coverages": [k.coverage for _, k in keys],
        "overlaps": [k.overlap for _, k in keys],
        "issues": [json.dumps(list(k.issues)) for _, k in keys],
    }
    with conn.cursor() as cur:
        for statement in sql_statements(quality_sql("replace_event_quality")):
            cur.execute(statement, params)


def read_event_quality(hook: PinterestAdsHook, conn: Connection, lookback: str, run_id: str) -> dict[str, Any]:
    """Read the account's EQS over ``lookback`` and store it as the read of today (UTC, the API's clock); return
    counts for the XCom. ``conn`` must not be in a transaction."""
    answer = hook.conversion_eqs(lookback)
    read_day = hook.server_today()
    account = hook.ad_account_id
    scores: list[QualityScore] = []
    issues: list[tuple[str, str, str, str | None]] = []
    for item in answer:
        try:
            score = parse_score(item)
        except Malformed as error:
            raw = None if error.value is None else json.dumps(error.value)[:200]
            issues.append((_record_key(item, lookback), error.field, error.reason, raw))
            continue
        if score.lookback_period != lookback:
            issues.append((score.record_key, "lookback_period", f"asked for {lookback}", score.lookback_period))
            continue
        scores.append(score)
    # Two objects for one source and platform would be one row twice: the first one counts, the others are flagged.
    unique: dict[tuple[str, str], QualityScore] = {}
    for score in scores:
        if (score.ingestion_source, score.source_platform) in unique:
            issues.append((score.record_key, "source_platform", "repeated in the answer", score.source_platform))
            continue
        unique[(score.ingestion_source, score.source_platform)] = score
    with conn.transaction():
        store_scores(conn, account, read_day, lookback, list(unique.values()), run_id)
        replace_record_issues(
            conn, ISSUE_SOURCE, {_record_key(item, lookback) for item in answer}, issues, run_id=run_id
        )
    for record_key, field_name, reason, _ in issues:
        hook.log.warning("Event quality answer %s: %s %s (left out, see ops.record_issues)", record_key, field_name,
                         reason)  # fmt: skip
    return {
        "ad_account_id": account,
        "read_day": read_day.isoformat(),
        "lookback_period": lookback,
        "scores": len(unique),
        "keys": sum(len(score.keys) for score in unique.values()),
        "statuses": {f"{s.ingestion_source}/{s.source_platform}": s.overall_status for s in unique.values()},
        "malformed": len(issues),
    }


def low_coverage(key: str, share: Decimal | float, minimum: float) -> str | None:
    """The advice for a shown key (a user_data field name) carried by a share of the events below ``minimum``
    (shares, 0.5 = 50%), else None."""
    if key not in SHOWN_KEYS or Decimal(str(share)) >= Decimal(str(minimum)):
        return None
    return SHOWN_KEYS[key].advice


def sent_match_keys(
    conn: Connection, first: dt.date, last: dt.date, timezone: str
) -> tuple[int, int, tuple[tuple[str, int], ...]]:
    """The events sent from ``first`` to ``last`` (days in ``timezone``), read once for the briefing and the page:
    how many with their match keys recorded, how many sent before the ledger kept them, and per shown key
    (SHOWN_KEYS order) how many of the recorded ones carried it."""
    rows = conn.execute(
        quality_sql("match_keys"), {"first": first, "last": last, "timezone": timezone, "keys": list(SHOWN_KEYS)}
    ).fetchall()
    events, unrecorded = (int(rows[0][1]), int(rows[0][2])) if rows else (0, 0)
    return events, unrecorded, tuple((key, int(carrying)) for key, _, _, carrying in rows)


def warnings_by_message(conn: Connection, first: dt.date, last: dt.date, timezone: str) -> list[tuple[str, int]]:
    """Pinterest's warnings on the events decided from ``first`` to ``last`` (days in ``timezone``), most frequent
    first: (warning_message, events)."""
    rows = conn.execute(quality_sql("warnings_by_message"), {"first": first, "last": last, "timezone": timezone})
    return [(message, int(events)) for message, events in rows.fetchall()]
