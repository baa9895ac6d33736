"""The briefing's I/O: which day, reading the marts into pandas, summing windows into facts, storing the result.

The reads run in one REPEATABLE READ, READ ONLY transaction, so every number comes from one snapshot even while a
reconcile commits. ``facts_from_frames`` is pure (DataFrames in, ``BriefingFacts`` out); the text and its rules are
in ``pin2deal.briefing.rules``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from psycopg import Connection

from pin2deal.briefing.chart import render_chart
from pin2deal.briefing.rewrite import Verdict, judge
from pin2deal.briefing.rules import (
    Briefing,
    BriefingFacts,
    BriefingSettings,
    CampaignForecast,
    CampaignTouches,
    ChannelFacts,
    EntityFacts,
    EventQuality,
    Health,
    MatchKeys,
    Window,
    render,
)
from pin2deal.capi.quality import sent_match_keys, warnings_by_message
from pin2deal.paths import PROJECT_ROOT, SQL_DIR

BRIEFING_SQL = SQL_DIR / "briefing"
CHART_WEEKS = 8
TYPICAL_CLOSE_DAYS = 90  # the won days the typical time to close is the median of


def default_output_dir() -> Path:
    """``PIN2DEAL_BRIEFING_DIR``, else ``.local/briefings`` under the project."""
    return Path(os.environ.get("PIN2DEAL_BRIEFING_DIR") or PROJECT_ROOT / ".local" / "briefings")


def briefing_day(logical_date: dt.datetime | None, run_after: dt.datetime, timezone: ZoneInfo) -> dt.date:
    """The last account day that had ended at the run's logical date, or at ``run_after`` for runs without one
    (Asset-triggered and manual runs): the day before "today" in the ad account's time zone."""
    moment = logical_date if logical_date is not None else run_after
    return moment.astimezone(timezone).date() - dt.timedelta(days=1)


def sql(name: str) -> str:
    return (BRIEFING_SQL / f"{name}.sql").read_text(encoding="utf-8")


def frame(conn: Connection, name: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(sql(name), params or {})
        columns = [column.name for column in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=columns)


@dataclass
class Frames:
    """What the briefing reads, as read."""

    accounts: pd.DataFrame
    performance: pd.DataFrame
    channels: pd.DataFrame
    deals: pd.DataFrame
    freshness: dict[str, Any]
    conversions: dict[str, int] | None
    time_to_close: dict[str, float]  # campaign id -> median days to close of the week's won deals
    event_quality: tuple[EventQuality, ...] = ()
    capi_warnings: tuple[tuple[str, int], ...] = ()
    match_keys: MatchKeys | None = None  # None: no ledger
    typical_days_to_close: float | None = None  # the account's paid deals won in the 90 days: median days to close
    forecasts: pd.DataFrame | None = None  # campaigns younger than that, summed (include/sql/briefing/forecast.sql)
    touches: pd.DataFrame | None = None  # campaigns' 28-day won deals by touch model (briefing/touch_models.sql)


def account_timezone(conn: Connection) -> ZoneInfo:
    """The (first) ad account's time zone; UTC before any account is loaded."""
    row = conn.execute("SELECT timezone FROM raw.pinterest_ad_accounts ORDER BY ad_account_id LIMIT 1").fetchone()
    return ZoneInfo(row[0]) if row else ZoneInfo("UTC")


def read_frames(conn: Connection, day: dt.date, timezone: ZoneInfo) -> Frames:
    """Everything for ``day`` in one snapshot (the caller's connection must not be in a transaction)."""
    first = day - dt.timedelta(days=7 * CHART_WEEKS - 1)
    window = {"first": first, "last": day}
    conn.autocommit = False
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        accounts = frame(conn, "accounts")
        performance = frame(conn, "performance", window)
        channels = frame(conn, "channels", window)
        deals = frame(conn, "deals", {"first": day - dt.timedelta(days=27), "last": day})
        touches = frame(conn, "touch_models", {"first": day - dt.timedelta(days=27), "last": day})
        freshness = frame(conn, "freshness", {"week_first": day - dt.timedelta(days=6), "last": day}).iloc[0]
        conversions = None
        capi_warnings: tuple[tuple[str, int], ...] = ()
        match_keys = None
        if conn.execute("SELECT to_regclass('ops.capi_ledger')").fetchone()[0] is not None:
            counted = frame(conn, "conversions", {"day": day, "timezone": timezone.key})
            conversions = {row.state: int(row.events) for row in counted.itertuples()}
            week = (day - dt.timedelta(days=6), day, timezone.key)
            capi_warnings = tuple(warnings_by_message(conn, *week))
            match_keys = MatchKeys(*sent_match_keys(conn, *week))
        event_quality: tuple[EventQuality, ...] = ()
        if conn.execute("SELECT to_regclass('raw.pinterest_event_quality')").fetchone()[0] is not None:
            event_quality = tuple(
                EventQuality(row.source_platform, row.overall_status, row.lookback_period, row.read_day)
                for row in frame(conn, "event_quality", {"day": day}).itertuples()
            )
        time_to_close = {}
        typical_days, forecasts = None, None
        # The rule's view is defined by the first reconcile: before it, no deal has a time to close.
        if conn.execute("SELECT to_regclass('mart.deal_time_to_close')").fetchone()[0] is not None:
            medians = frame(conn, "time_to_close", {"first": day - dt.timedelta(days=6), "last": day})
            time_to_close = {row.campaign_id: float(row.median_days) for row in medians.itertuples()}
            typical = frame(conn, "typical_time_to_close", {
                "first": day - dt.timedelta(days=TYPICAL_CLOSE_DAYS - 1), "last": day,
            })["median_days"].iloc[0]  # fmt: skip
            typical_days = None if typical is None or pd.isna(typical) else float(typical)
            forecast_rule = "SELECT to_regprocedure('mart.forecast_cac(numeric,bigint,numeric,bigint)')"
            # the forecast's rule function is defined by the first reconcile after migration 082
            if typical_days is not None and conn.execute(forecast_rule).fetchone()[0] is not None:
                young_days = math.ceil(typical_days)
                forecasts = frame(conn, "forecast", {"last": day, "young_days": young_days})
    finally:
        conn.rollback()
        conn.autocommit = True
    return Frames(
        accounts,
        performance,
        channels,
        deals,
        freshness.to_dict(),
        conversions,
        time_to_close,
        event_quality,
        capi_warnings,
        match_keys,
        typical_days,
        forecasts,
        touches,
    )


# ------------------------------------------------------------------------------------------------------ windows
def _window(rows: pd.DataFrame, first: dt.date, last: dt.date, currency: str | None, *, unknown_spend=False) -> Window:
    """Sum of the daily rows in ``[first, last]``. With ``unknown_spend`` (other channels), the window's spend is known
    only when every one of its days has a row with a spend: a day without a CSV line, whether or not a deal fell on
    it, is unknown spend, never zero. Otherwise (Pinterest) a day without a row spent nothing."""
    inside = rows[(rows["day"] >= first) & (rows["day"] <= last)] if len(rows) else rows
    spends = zip(inside["day"], inside["spend"], strict=True) if len(inside) else ()
    known = [(day, value) for day, value in spends if value is not None and not pd.isna(value)]
    if unknown_spend and len({day for day, _ in known}) < (last - first).days + 1:
        spend = None
    else:
        spend = sum((Decimal(value) for _, value in known), Decimal(0))
    revenue = sum((Decimal(value) for value in inside["revenue"]), Decimal(0)) if len(inside) else None
    return Window(
        spend=spend,
        spend_currency=_first(inside, "spend_currency") or currency,
        leads=int(inside["leads"].sum()) if len(inside) else 0,
        won=int(inside["won"].sum()) if len(inside) else 0,
        revenue=revenue,
        revenue_currency=_first(inside, "revenue_currency"),
    )


def _first(rows: pd.DataFrame, column: str) -> str | None:
    if not len(rows):
        return None
    values = sorted({value for value in rows[column] if isinstance(value, str)})
    return values[0] if values else None


def _windows(rows: pd.DataFrame, day: dt.date, currency: str | None) -> dict[str, Window]:
    back = dt.timedelta
    return {
        "day": _window(rows, day, day, currency),
        "week": _window(rows, day - back(days=6), day, currency),
        "days28": _window(rows, day - back(days=27), day, currency),
        "prior4w": _window(rows, day - back(days=34), day - back(days=7), currency),
    }


def _weeks(rows: pd.DataFrame, day: dt.date, currency: str | None, *, unknown_spend=False) -> tuple[Window, ...]:
    ends = [day - dt.timedelta(days=7 * k) for k in range(CHART_WEEKS - 1, -1, -1)]
    return tuple(_window(rows, end - dt.timedelta(days=6), end, currency, unknown_spend=unknown_spend) for end in ends)


def facts_from_frames(frames: Frames, day: dt.date, timezone: ZoneInfo) -> BriefingFacts:
    """Sum the daily rows into the briefing's windows (day, week, 28 days, the 4 weeks before, 8 chart weeks)."""
    perf = frames.performance
    currency_of = {row.ad_account_id: row.currency for row in frames.accounts.itertuples()}
    main_currency = next(iter(currency_of.values()), None)

    def rows_of(grain: str) -> dict[str, pd.DataFrame]:
        chosen = perf[perf["grain"] == grain] if len(perf) else perf
        return {key: group for key, group in chosen.groupby("grain_id", sort=True)} if len(chosen) else {}

    def name_of(rows: pd.DataFrame) -> str | None:
        named = rows.dropna(subset=["name"]).sort_values("day")
        return str(named["name"].iloc[-1]) if len(named) else None

    account_rows = rows_of("account")
    accounts = []
    for row in frames.accounts.itertuples():
        rows = account_rows.get(row.ad_account_id, perf.iloc[0:0])
        accounts.append(EntityFacts(row.ad_account_id, row.name, **_windows(rows, day, row.currency)))

    medians = frames.time_to_close

    campaigns, campaign_weeks, campaign_names = [], {}, {}
    for campaign_id, rows in rows_of("campaign").items():
        currency = currency_of.get(_first(rows, "ad_account_id"), main_currency)
        name = name_of(rows)
        campaign_names[campaign_id] = name
        entity = EntityFacts(
            campaign_id, name, median_days_to_close=medians.get(campaign_id), **_windows(rows, day, currency)
        )
        campaigns.append(entity)
        label = entity.label
        if label in campaign_weeks:
            label = f"{label} ({campaign_id})"
        campaign_weeks[label] = _weeks(rows, day, currency)

    ads = []
    for ad_id, rows in rows_of("ad").items():
        currency = currency_of.get(_first(rows, "ad_account_id"), main_currency)
        windows = {"days28": _window(rows, day - dt.timedelta(days=27), day, currency)}
        ads.append(
            EntityFacts(ad_id, name_of(rows), parent_name=campaign_names.get(_first(rows, "campaign_id")), **windows)
        )

    channels, channel_weeks = [], {}
    for channel, rows in frames.channels.groupby("channel_name", sort=True) if len(frames.channels) else []:
        known = channel == "pinterest"
        week = _window(rows, day - dt.timedelta(days=6), day, None, unknown_spend=not known)
        channels.append(ChannelFacts(channel, week))
        channel_weeks[channel] = _weeks(rows, day, None, unknown_spend=not known)

    forecasts = []
    for row in frames.forecasts.itertuples() if frames.forecasts is not None else ():
        forecasts.append(
            CampaignForecast(
                campaign_id=row.campaign_id, name=row.name, ad_account_id=row.ad_account_id,
                first_spend_day=row.first_spend_day, spend=Decimal(row.spend), spend_currency=row.spend_currency,
                won=int(row.won), open_deals=int(row.open_deals), expected_wins=Decimal(row.expected_wins),
                open_without_probability=int(row.open_without_probability),
                forecast_cac=None if pd.isna(row.forecast_cac) else Decimal(row.forecast_cac),
            )  # fmt: skip
        )

    touches = tuple(
        CampaignTouches(row.campaign_id, row.name, int(row.first_touch_won), int(row.last_touch_won))
        for row in (frames.touches.itertuples() if frames.touches is not None else ())
    )

    return BriefingFacts(
        day=day,
        timezone=timezone.key,
        accounts=tuple(accounts),
        campaigns=tuple(campaigns),
        ads=tuple(ads),
        channels=tuple(channels),
        health=_health(frames, day, timezone),
        typical_days_to_close=frames.typical_days_to_close,
        forecasts=tuple(forecasts),
        touches=touches,
        campaign_weeks=campaign_weeks,
        channel_weeks=channel_weeks,
    )


def _health(frames: Frames, day: dt.date, timezone: ZoneInfo) -> Health:
    deals = frames.deals
    first = day - dt.timedelta(days=27)
    if len(deals):
        won = deals[deals["is_won"] & (deals["won_day"] >= first) & (deals["won_day"] <= day)]
        paid_leads = deals[
            (deals["channel"] == "pinterest_paid") & (deals["lead_day"] >= first) & (deals["lead_day"] <= day)
        ]
        week_won = won[(won["won_day"] >= day - dt.timedelta(days=6)) & (won["channel"] == "pinterest_paid")]
        counts = {
            "won_pinterest_28d": len(won),
            "won_with_epik_28d": int(won["has_epik"].sum()),
            "paid_leads_28d": len(paid_leads),
            "unresolved_leads_28d": int((paid_leads["campaign_resolved_by"] == "unresolved").sum()),
            "unresolved_won_week": int((week_won["campaign_resolved_by"] == "unresolved").sum()),
        }
    else:
        counts = {}
    fresh = frames.freshness
    newest_change = fresh.get("newest_deal_change")
    return Health(
        **counts,
        conversions=frames.conversions,
        event_quality=frames.event_quality,
        capi_warnings=frames.capi_warnings,
        match_keys=frames.match_keys,
        newest_spend_day=fresh.get("newest_spend_day"),
        provisional_days=tuple(fresh.get("provisional_days") or ()),
        newest_deal_change=None if newest_change is None else newest_change.astimezone(timezone),
        deals_loaded=int(fresh.get("deals_loaded") or 0),
    )


# ---------------------------------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class BriefingFiles:
    markdown: Path
    png: Path
    svg: Path


def write_files(output_dir: Path, day: dt.date, markdown: str, png: bytes, svg: bytes) -> BriefingFiles:
    """``<day>.md``, ``<day>.png`` and ``<day>.svg``, each replaced atomically (a re-run overwrites)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    files = BriefingFiles(*(output_dir / f"{day.isoformat()}.{ext}" for ext in ("md", "png", "svg")))
    for path, content in ((files.markdown, markdown.encode()), (files.png, png), (files.svg, svg)):
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(content)
        partial.replace(path)
    return files


def to_json(value: Any) -> str:
    """Facts and settings as JSON: decimals as strings (exact), dates ISO."""

    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return str(item)
        if isinstance(item, dt.date | dt.datetime):
            return item.isoformat()
        raise TypeError(f"not JSON: {type(item).__name__}")

    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=default, sort_keys=True)


def store(
    conn: Connection,
    result: BriefingResult,
    facts: BriefingFacts,
    settings: BriefingSettings,
    chart: tuple[bytes, bytes],
    run_id: str | None,
) -> None:
    briefing, files = result.briefing, result.files
    conn.execute(
        sql("store"),
        {
            "briefing_date": briefing.day,
            "timezone": facts.timezone,
            "markdown": result.markdown,
            "template_markdown": briefing.markdown,
            "rewrite_note": result.rewrite.reason if result.rewrite else None,
            "stale": briefing.stale,
            "facts": to_json(facts),
            "settings": to_json(settings),
            "chart_png": chart[0],
            "chart_svg": chart[1].decode(),
            "markdown_path": str(files.markdown),
            "chart_png_path": str(files.png),
            "chart_svg_path": str(files.svg),
            "run_id": run_id,
        },
    )


def mark_delivered(conn: Connection, day: dt.date, delivered_to: str) -> None:
    conn.execute(sql("delivered"), {"briefing_date": day, "delivered_to": delivered_to})


@dataclass(frozen=True)
class BriefingResult:
    briefing: Briefing  # the template's
    markdown: str  # what readers get: the template's text, or its accepted rewrite
    files: BriefingFiles
    rewrite: Verdict | None  # None: no rewrite asked for


def rewrite_or_keep(template: Briefing, rewriter: Callable[[str], str | None] | None) -> tuple[str, Verdict | None]:
    """The rewrite of the template's Markdown when the guard accepts it, else the template's (with the reason); a
    failing rewriter is a refusal, never a failed briefing."""
    if rewriter is None:
        return template.markdown, None
    try:
        candidate = rewriter(template.markdown)
    except Exception as error:  # the rewrite is optional: any failure keeps the template
        return template.markdown, Verdict(False, f"the rewrite failed: {type(error).__name__}: {error}")
    verdict = judge(template, candidate)
    return (candidate if verdict.accepted else template.markdown), verdict


def build_briefing(
    conn: Connection,
    *,
    logical_date: dt.datetime | None,
    run_after: dt.datetime,
    output_dir: Path,
    settings: BriefingSettings,
    run_id: str | None = None,
    rewriter: Callable[[str], str | None] | None = None,
) -> BriefingResult:
    """Decide the day, read, render, draw, (maybe) rewrite, write the files and store the row (one per day)."""
    timezone = account_timezone(conn)
    day = briefing_day(logical_date, run_after, timezone)
    facts = facts_from_frames(read_frames(conn, day, timezone), day, timezone)
    briefing = render(facts, settings, chart_name=f"{day.isoformat()}.png")
    markdown, verdict = rewrite_or_keep(briefing, rewriter)
    chart = render_chart(facts)
    files = write_files(output_dir, day, markdown, *chart)
    result = BriefingResult(briefing, markdown, files, verdict)
    store(conn, result, facts, settings, chart, run_id)
    return result


def summary(result: BriefingResult) -> dict[str, Any]:
    """The task's XCom: small, and enough to find everything else."""
    briefing, files = result.briefing, result.files
    return {
        "briefing_date": briefing.day.isoformat(),
        "stale": briefing.stale,
        "markdown": result.markdown,
        "rewritten": result.markdown != briefing.markdown,
        "rewrite_note": result.rewrite.reason if result.rewrite else None,
        "markdown_path": str(files.markdown),
        "chart_png_path": str(files.png),
        "chart_svg_path": str(files.svg),
        "sections": [title for title, _ in briefing.sections],
    }
