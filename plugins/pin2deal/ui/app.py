"""The pin2deal page inside Airflow's UI: a read-only FastAPI app that the api-server mounts at ``/pin2deal``.

It shows the latest briefing with its chart, CAC per campaign / ad group / pin for a chosen period, the stage
funnel of a chosen campaign, and the pipeline's health (with Pinterest's Event Quality Score of our conversion
events, the advice for a low key, and Pinterest's warnings by count), each part linking to the DAG or task that
owns it. Every route sits behind Airflow's own authentication (the api-server's JWT cookie or bearer token, read
access to DAGs); the warehouse is read in one read-only snapshot. A part whose table does not exist yet says so
instead of failing the page.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.responses import HTMLResponse

from pin2deal.briefing.rules import BriefingSettings
from pin2deal.capi.quality import SHOWN_EQS_KEYS, SHOWN_KEYS, low_coverage, sent_match_keys, warnings_by_message
from pin2deal.paths import SQL_DIR

UI_SQL = SQL_DIR / "ui"
TEMPLATES = Path(__file__).resolve().parent / "templates"
URL_PREFIX = "/pin2deal"
GRAINS = {"campaign": "Campaign", "ad_group": "Ad group", "ad": "Pin (ad)"}
DEFAULT_DAYS = 28
# The DAG (and task) that owns each part of the page, where its "what to do" lives.
OWNERS: dict[str, tuple[str, str | None]] = {
    "briefing": ("daily_briefing", "write_briefing"),
    "cac": ("attribution_reconcile", None),
    "spend": ("pinterest_spend", "pull_spend"),
    "deals": ("hubspot_deals", "extract_hubspot_deals"),
    "epik": ("attribution_reconcile", None),
    "conversions": ("pinterest_capi", None),
    "event_quality": ("pinterest_capi", "read_event_quality"),
}
# Record issues: the owning DAG and task by the issue's source prefix.
ISSUE_OWNERS: dict[str, tuple[str, str | None]] = {
    "hubspot.": ("hubspot_deals", "extract_hubspot_deals"),
    "pinterest.": ("pinterest_spend", "pull_spend"),
    "capi": ("pinterest_capi", None),
    "channel_spend": ("attribution_reconcile", None),
    "reconcile": ("attribution_reconcile", None),
}
# The tables (and functions, named with their argument types) each part reads: a missing one makes that part say
# "not available yet".
NEEDS = {
    "briefing": ["ops.briefings"],
    # the CAC and forecast rules, defined by the first reconcile (the forecast's after migration 082)
    "cac": ["mart.performance", "mart.cac(numeric,bigint)", "mart.forecast_cac(numeric,bigint,numeric,bigint)"],
    "funnel": ["mart.funnel"],
    "freshness": ["raw.pinterest_ad_daily", "raw.hubspot_deals"],
    "epik": ["mart.truth_vs_platform"],
    "conversions": ["ops.capi_ledger"],
    "event_quality": ["raw.pinterest_event_quality"],
    "issues": ["ops.record_issues"],
}


_EXISTS_SQL = {False: "SELECT to_regclass(%s)", True: "SELECT to_regprocedure(%s)"}  # by "is it a function"


def owner_link(dag_id: str, task_id: str | None = None) -> dict[str, str]:
    """A link into Airflow's own UI (opened in the top window, not the plugin's frame)."""
    if task_id:
        return {"href": f"/dags/{dag_id}/tasks/{task_id}", "label": f"{dag_id}.{task_id}"}
    return {"href": f"/dags/{dag_id}", "label": dag_id}


def issue_owner(source: str) -> dict[str, str]:
    for prefix, (dag_id, task_id) in ISSUE_OWNERS.items():
        if source.startswith(prefix):
            return owner_link(dag_id, task_id)
    return {"href": "/dags", "label": "DAGs"}


def _sql(name: str) -> str:
    return (UI_SQL / f"{name}.sql").read_text()


@dataclass
class Part:
    """One part of the page: its rows, or why it has none."""

    owner: dict[str, str]
    missing: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return not self.missing


def _rows(conn: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(_sql(name), params)
    columns = [column.name for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def read_page(
    conn: Any, grain: str, first: dt.date | None, last: dt.date | None, campaign: str | None = None
) -> dict[str, Any]:
    """Everything the page shows, from one snapshot of the warehouse (``conn`` in a read-only transaction);
    ``campaign``: whose funnel (default: the campaign with the most stage entries in the period's months)."""
    tables = {table for tables in NEEDS.values() for table in tables}
    present = {table for table in tables if conn.execute(_EXISTS_SQL["(" in table], (table,)).fetchone()[0] is not None}

    def part(name: str, owner: dict[str, str]) -> Part:
        return Part(owner=owner, missing=[table for table in NEEDS[name] if table not in present])

    if last is None and "mart.performance" in present:
        last = conn.execute(_sql("newest_day")).fetchone()[0]
    if last is None and "raw.pinterest_ad_daily" in present:
        last = conn.execute("SELECT max(date) FROM raw.pinterest_ad_daily").fetchone()[0]
    last = last or dt.date.today()
    first = first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    page: dict[str, Any] = {"grain": grain, "first": first, "last": last}

    briefing = part("briefing", owner_link(*OWNERS["briefing"]))
    if briefing.available:
        briefing.rows = _rows(conn, "latest_briefing")
    cac = part("cac", owner_link(*OWNERS["cac"]))
    if cac.available:
        cac.rows = _rows(conn, "cac", grain=grain, first=first, last=last)
    funnel = part("funnel", owner_link(*OWNERS["cac"]))
    campaigns: list[dict[str, Any]] = []
    if funnel.available:
        campaigns = _rows(conn, "funnel_campaigns", first=first, last=last)
        campaign = campaign or (campaigns[0]["campaign_id"] if campaigns else None)
        if campaign:
            funnel.rows = _rows(conn, "funnel", campaign=campaign, first=first, last=last)
    freshness = part("freshness", owner_link(*OWNERS["spend"]))
    if freshness.available:
        freshness.rows = _rows(conn, "freshness")
    epik = part("epik", owner_link(*OWNERS["epik"]))
    if epik.available:
        # The weeks (Mondays) that overlap the period.
        epik.rows = _rows(conn, "epik_coverage", first=first - dt.timedelta(days=first.weekday()), last=last)
    conversions = part("conversions", owner_link(*OWNERS["conversions"]))
    if conversions.available:
        conversions.rows = _rows(conn, "conversions")
    event_quality = part("event_quality", owner_link(*OWNERS["event_quality"]))
    if event_quality.available:
        event_quality.rows = quality_rows(_rows(conn, "event_quality", keys=list(SHOWN_EQS_KEYS)))
    warnings: list[dict[str, Any]] = []
    match_keys: dict[str, Any] | None = None
    if conversions.available:
        warnings = [
            {"warning_message": message, "events": events}
            for message, events in warnings_by_message(conn, first, last, "UTC")
        ]
        week = last - dt.timedelta(days=6)
        match_keys = match_key_shares(sent_match_keys(conn, week, last, "UTC"), week)
    issues = part("issues", {"href": "/dags", "label": "DAGs"})
    if issues.available:
        issues.rows = [{**row, "owner": issue_owner(row["source"])} for row in _rows(conn, "record_issues")]
    page.update(
        briefing=briefing,
        cac=cac,
        funnel=funnel,
        funnel_campaigns=campaigns,
        campaign=campaign,
        freshness=freshness,
        deals_owner=owner_link(*OWNERS["deals"]),
        epik=epik,
        conversions=conversions,
        event_quality=event_quality,
        capi_warnings=warnings,
        match_keys=match_keys,
        issues=issues,
    )
    return page


def quality_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest EQS read, one row per source platform and event type: Pinterest's rating and its issues with the
    shown keys. The coverage the page gives is its own count of the events sent (``match_key_shares``)."""
    shown: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for row in rows:
        key = (row["ad_account_id"], row["source_platform"], row["event_type"])
        entry = shown.setdefault(
            key,
            {
                "source_platform": row["source_platform"],
                "overall_status": row["overall_status"],
                "read_day": row["read_day"],
                "lookback_period": row["lookback_period"],
                "event_type": row["event_type"],
                "issues": [],
            },
        )
        entry["issues"] += [issue["reason"] for issue in row["issues"] or []]
    return list(shown.values())


def match_key_shares(sent: tuple[int, int, tuple[tuple[str, int], ...]], first: dt.date) -> dict[str, Any]:
    """The events sent in the 7 days from ``first`` (``quality.sent_match_keys``): how many, the share carrying each
    key, the advice for each low one (the briefing's rule and default threshold), and how many were left out (sent
    before the ledger kept match keys)."""
    minimum = BriefingSettings().min_key_coverage
    events, unrecorded, carrying = sent
    shares = {key: Decimal(count) / events for key, count in carrying} if events else {}
    advice = [
        f"{SHOWN_KEYS[key].label}: {text}"
        for key, share in shares.items()
        if (text := low_coverage(key, share, minimum))
    ]
    return {"first": first, "events": events, "unrecorded": unrecorded, "shares": shares, "advice": advice}


def _snapshot():
    """A read-only, repeatable-read transaction on the warehouse: the page never writes and never mixes states."""
    from pin2deal.hooks.warehouse import WarehouseHook

    conn = WarehouseHook().get_conn()
    conn.read_only = True
    conn.isolation_level = 3  # psycopg.IsolationLevel.REPEATABLE_READ
    return conn


def _access() -> Any:
    """Airflow's own authentication: read access to DAGs (401 without a valid token, 403 without the right)."""
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return Depends(requires_access_dag("GET"))


def _render(page: dict[str, Any]) -> str:
    import jinja2
    from markdown_it import MarkdownIt

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    # The briefing's Markdown links its chart file by a relative path; the page shows the stored chart instead.
    environment.filters["markdown"] = lambda text: markdown.render(re.sub(r"(?m)^!\[[^\]]*\]\([^)]*\)\s*$", "", text))
    environment.filters["money"] = _money
    environment.filters["number"] = _number
    environment.filters["share"] = lambda value: "-" if value is None else f"{float(value):.0%}"
    environment.filters["days"] = lambda value: "-" if value is None else f"{Decimal(value):.1f}"
    environment.filters["percent"] = lambda value: "-" if value is None else f"{Decimal(value):.0f}%"
    return environment.get_template("page.html").render(
        prefix=URL_PREFIX, grains=GRAINS, presets=(7, 28, 90), timedelta=dt.timedelta, shown_keys=SHOWN_KEYS, **page
    )


def _money(value: Any, currency: str | None = None) -> str:
    if value is None:
        return "-"
    return f"{Decimal(value):,.2f}" + (f" {currency}" if currency else "")


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def create_app() -> FastAPI:
    app = FastAPI(title="pin2deal", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[_access()])

    @app.get("/", response_class=HTMLResponse)
    def page(
        grain: str = "campaign", first: dt.date | None = None, last: dt.date | None = None, campaign: str | None = None
    ) -> str:
        if grain not in GRAINS:
            raise HTTPException(400, f"grain must be one of {', '.join(GRAINS)}")
        with _snapshot() as conn:
            return _render(read_page(conn, grain, first, last, campaign or None))

    @app.get("/briefing/{day}/chart.png")
    def chart(day: dt.date) -> Response:
        with _snapshot() as conn:
            if conn.execute("SELECT to_regclass('ops.briefings')").fetchone()[0] is None:
                raise HTTPException(404, "no briefings yet")
            row = conn.execute(_sql("briefing_chart"), {"day": day}).fetchone()
        if row is None:
            raise HTTPException(404, f"no briefing for {day}")
        return Response(bytes(row[0]), media_type="image/png")

    return app
