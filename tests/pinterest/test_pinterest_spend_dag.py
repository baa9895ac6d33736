"""The ``pinterest_spend`` DAG run for real (``dag.test()``) against the sandbox and the warehouse."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests
from airflow.sdk.exceptions import ParamValidationError

from pin2deal.pinterest.spend import interval_days
from tests.conftest import isolated_dag_test
from tests.pinterest.pinterest_worlds import (
    CURRENCY,
    TIMEZONE,
    build_world,
    metrics_row,
    spend_by_campaign_day,
    today_utc,
)

DAG_ID = "pinterest_spend"
ZONE = ZoneInfo(TIMEZONE)
# Every param, explicitly: what a run is asked to do is visible in the test.
DEFAULT_CONF = {"lookback_days": 3, "deletion_max_share": 0.05, "deletion_max_rows": 10}


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def days(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


def spend_in_warehouse(warehouse: psycopg.Connection) -> dict[tuple[str, dt.date], int]:
    rows = warehouse.execute(
        "SELECT campaign_id, date, sum(spend_micro) FROM raw.pinterest_ad_daily GROUP BY campaign_id, date"
    ).fetchall()
    return {(campaign, day): int(total) for campaign, day, total in rows}


def ad_days(warehouse: psycopg.Connection) -> dict[tuple[str, dt.date], tuple]:
    rows = warehouse.execute(
        "SELECT ad_id, date, spend_micro, provisional, loaded_at FROM raw.pinterest_ad_daily"
    ).fetchall()
    return {(ad_id, day): (spend, provisional, loaded_at) for ad_id, day, spend, provisional, loaded_at in rows}


def issues(warehouse: psycopg.Connection) -> set[tuple[str, str, str, str | None]]:
    rows = warehouse.execute(
        "SELECT record_key, field, reason, raw_value FROM ops.record_issues WHERE source = 'pinterest.ad_daily'"
    ).fetchall()
    return set(rows)


def test_a_run_loads_every_campaigns_spend_per_day_and_marks_unfinished_days_provisional(
    pinterest_world: Callable[..., Any], run_dag: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    today = today_utc()
    world = build_world(today)
    # On final days of the pulled window: a delivered ad-day without clicks or checkouts (Pinterest leaves the
    # zero metrics out of its answer) and a bad row, a negative spend (they replace good rows).
    ad = world.ads[1]
    missing = metrics_row(ad["id"], ad["ad_group_id"], ad["campaign_id"], today - dt.timedelta(days=4), 2, 4)
    missing.update(TOTAL_CLICKTHROUGH=0, TOTAL_CHECKOUT=0, TOTAL_CLICK_CHECKOUT=0, TOTAL_VIEW_CHECKOUT=0)
    negative = metrics_row(ad["id"], ad["ad_group_id"], ad["campaign_id"], today - dt.timedelta(days=3), 2, 3)
    negative["SPEND_IN_MICRO_DOLLAR"] = -750_000
    world.analytics += [missing, negative]
    pinterest_world(world)

    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)  # data interval: yesterday (UTC)

    first, last = interval_days(midnight(today - dt.timedelta(days=1)), midnight(today), ZONE)
    pulled = days(first - dt.timedelta(days=3), last)
    final = {day for day in pulled if day < today - dt.timedelta(days=2)}  # the sandbox finalises after 2 days
    expected = spend_by_campaign_day(world, final)
    loaded = spend_in_warehouse(warehouse)
    assert {key: value for key, value in loaded.items() if key[1] in final} == expected
    assert {campaign for campaign, _ in expected} == {c["id"] for c in world.campaigns}  # paused, archived too

    rows = ad_days(warehouse)
    assert {day for _, day in rows} == pulled & {day for day in pulled if day < today}
    first_campaign = world.campaigns[0]["id"]
    archived_ad = next(a for a in world.ads if a["status"] == "ARCHIVED" and a["campaign_id"] == first_campaign)
    assert all((archived_ad["id"], day) in rows for day in pulled)
    for (ad_id, day), (_, provisional, _) in rows.items():
        assert provisional == (day >= today - dt.timedelta(days=2)), (ad_id, day)
    provisional_sums = spend_by_campaign_day(world, pulled - final)
    for key, value in provisional_sums.items():  # the sandbox reports 80 % of a day until it is final
        assert loaded[key] <= value and loaded[key] >= value * 0.8 - 13

    assert issues(warehouse) == {
        (f"{ad['id']}/{today - dt.timedelta(days=3)}", "SPEND_IN_MICRO_DOLLAR", "negative spend", "-750000"),
    }
    without_clicks = warehouse.execute(
        "SELECT spend_micro, impressions, clicks, checkouts, click_checkouts, view_checkouts, metrics "
        "FROM raw.pinterest_ad_daily WHERE ad_id = %s AND date = %s",
        (ad["id"], today - dt.timedelta(days=4)),
    ).fetchone()
    assert without_clicks[:6] == (missing["SPEND_IN_MICRO_DOLLAR"], missing["PAID_IMPRESSION"], 0, 0, 0, 0)
    assert "TOTAL_CLICKTHROUGH" not in without_clicks[6]  # as received: the API left the zero out
    account = warehouse.execute("SELECT currency, timezone FROM raw.pinterest_ad_accounts").fetchone()
    assert account == (CURRENCY, TIMEZONE)
    statuses = dict(warehouse.execute("SELECT status, count(*) FROM raw.pinterest_campaigns GROUP BY 1").fetchall())
    assert statuses == {"ACTIVE": 1, "PAUSED": 1, "ARCHIVED": 1}
    spend, micro, currency = warehouse.execute(
        "SELECT spend, spend_micro, currency FROM raw.pinterest_ad_daily WHERE spend_micro IS NOT NULL LIMIT 1"
    ).fetchone()
    assert spend == Decimal(micro) / 1_000_000 and currency == CURRENCY


def test_restated_and_finalised_days_are_replaced_by_the_next_run_and_a_rerun_changes_nothing(
    pinterest_world: Callable[..., Any], run_dag: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    today = today_utc()
    server = pinterest_world()
    world = server.dataset
    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)
    before = ad_days(warehouse)

    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)  # the same interval again: nothing is rewritten
    assert ad_days(warehouse) == before

    ad = world.ads[0]
    restated_day = today - dt.timedelta(days=4)
    requests.post(
        f"{server.url}/_sandbox/pinterest/restate",
        json={"ad_id": ad["id"], "date": restated_day.isoformat(), "metrics": {"SPEND_IN_MICRO_DOLLAR": 4_321_000}},
        timeout=10,
    ).raise_for_status()
    requests.post(f"{server.url}/_sandbox/clock/advance", params={"days": 1}, timeout=10).raise_for_status()

    run_dag(DAG_ID, midnight(today + dt.timedelta(days=1)), conf=DEFAULT_CONF)  # the next interval

    after = ad_days(warehouse)
    assert after[(ad["id"], restated_day)][0] == 4_321_000
    assert len(after) == len(before)  # replaced, never added
    two_days_ago = today - dt.timedelta(days=2)  # final now: full value, no longer provisional
    full = {(r["AD_ID"], r["DATE"]): r["SPEND_IN_MICRO_DOLLAR"] for r in world.analytics}
    for ad_id in {a["id"] for a in world.ads}:
        spend, provisional, _ = after[(ad_id, two_days_ago)]
        assert (spend, provisional) == (full[(ad_id, two_days_ago.isoformat())], False)
        assert after[(ad_id, today - dt.timedelta(days=1))][1] is True
    final_sums = spend_by_campaign_day(world, days(today - dt.timedelta(days=5), two_days_ago))
    restated_campaign = (ad["campaign_id"], restated_day)
    final_sums[restated_campaign] += 4_321_000 - full[(ad["id"], restated_day.isoformat())]
    loaded = spend_in_warehouse(warehouse)
    assert {key: loaded[key] for key in final_sums} == final_sums


def test_a_backfill_redoes_exactly_its_intervals_days(
    pinterest_world: Callable[..., Any], run_dag: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    today = today_utc()
    server = pinterest_world()
    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)
    before = ad_days(warehouse)
    ad = server.dataset.ads[0]
    for offset in range(1, 7):
        requests.post(
            f"{server.url}/_sandbox/pinterest/restate",
            json={"ad_id": ad["id"], "date": str(today - dt.timedelta(days=offset)), "metrics": {"PAID_IMPRESSION": 1}},
            timeout=10,
        ).raise_for_status()
        requests.post(
            f"{server.url}/_sandbox/pinterest/restate",
            json={
                "ad_id": ad["id"],
                "date": str(today - dt.timedelta(days=offset)),
                "metrics": {"SPEND_IN_MICRO_DOLLAR": 1_000_000 * offset},
            },
            timeout=10,
        ).raise_for_status()

    # Backfill runs for the intervals of today-4 and today-3 (UTC), no lookback: one run per interval.
    for interval_start in (today - dt.timedelta(days=4), today - dt.timedelta(days=3)):
        run_dag(DAG_ID, midnight(interval_start + dt.timedelta(days=1)), conf={**DEFAULT_CONF, "lookback_days": 0})

    redone = set()
    for interval_start in (today - dt.timedelta(days=4), today - dt.timedelta(days=3)):
        first, last = interval_days(midnight(interval_start), midnight(interval_start + dt.timedelta(days=1)), ZONE)
        redone |= days(first, last)
    after = ad_days(warehouse)
    changed = {day for (ad_id, day), row in after.items() if ad_id == ad["id"] and row[:2] != before[(ad_id, day)][:2]}
    assert changed == redone == {today - dt.timedelta(days=n) for n in (5, 4, 3)}


def test_an_interval_older_than_90_days_goes_through_async_reports(
    pinterest_world: Callable[..., Any], run_dag: Callable[..., Any], warehouse: psycopg.Connection, dagbag
) -> None:
    today = today_utc()
    world = build_world(today, history_days=130)
    old_day = today - dt.timedelta(days=121)
    campaign = world.campaigns[2]  # archived long ago: only a report still shows its ads' spend
    unknown = {
        "DATE": old_day.isoformat(),
        "AD_ID": "699999999999",
        "AD_GROUP_ID": world.ad_groups[4]["id"],
        "CAMPAIGN_ID": campaign["id"],
        "SPEND_IN_MICRO_DOLLAR": 3_000_000,
        "PAID_IMPRESSION": 10,
        "TOTAL_CLICKTHROUGH": 1,
    }
    world.analytics.append(unknown)
    pinterest_world(world)
    dagbag.get_dag(DAG_ID).get_task("wait_for_reports").poke_interval = 1

    run_dag(DAG_ID, midnight(today - dt.timedelta(days=119)), conf=DEFAULT_CONF)  # interval: 120 days ago

    start = midnight(today - dt.timedelta(days=120))
    first, last = interval_days(start, start + dt.timedelta(days=1), ZONE)
    pulled = days(first - dt.timedelta(days=3), last)
    assert spend_in_warehouse(warehouse) == spend_by_campaign_day(world, pulled)
    assert {day for _, day in ad_days(warehouse)} == pulled
    assert not any(provisional for _, provisional, _ in ad_days(warehouse).values())
    assert issues(warehouse) == {
        (f"699999999999/{old_day}", "AD_ID", "unknown ad id: not listed by the entity refresh", "699999999999")
    }


@pytest.mark.parametrize("lookback", [-1, 90, "three"])
def test_lookback_days_is_validated(run_dag: Callable[..., Any], dagbag, lookback: Any) -> None:
    dag = dagbag.get_dag(DAG_ID)
    with pytest.raises(ParamValidationError, match="Invalid input for param lookback_days"):
        isolated_dag_test(dag, midnight(today_utc()), {"lookback_days": lookback})


def deleted_rows(warehouse: psycopg.Connection) -> list[tuple]:
    return warehouse.execute(
        "SELECT ad_id, date, spend_micro, reason, deleted_by_run_id FROM raw.pinterest_ad_daily_deleted ORDER BY 1, 2"
    ).fetchall()


def test_an_ad_day_pinterest_stops_reporting_is_deleted_and_kept_in_the_deleted_table(
    pinterest_world: Callable[..., Any], run_dag: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    today = today_utc()
    server = pinterest_world()
    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)
    before = ad_days(warehouse)
    ad, gone_day = server.dataset.ads[0], today - dt.timedelta(days=4)
    everything = ("SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "TOTAL_CHECKOUT",
                  "TOTAL_CLICK_CHECKOUT", "TOTAL_VIEW_CHECKOUT")  # fmt: skip
    requests.post(
        f"{server.url}/_sandbox/pinterest/restate",
        json={"ad_id": ad["id"], "date": gone_day.isoformat(), "metrics": dict.fromkeys(everything, 0)},
        timeout=10,
    ).raise_for_status()  # restated to nothing: Pinterest no longer reports the ad-day at all

    run = run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)

    after = ad_days(warehouse)
    assert set(before) - set(after) == {(ad["id"], gone_day)}
    assert deleted_rows(warehouse) == [
        (ad["id"], gone_day, before[(ad["id"], gone_day)][0], "not reported by Pinterest for the ads and days pulled",
         run.run_id)
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["empty", "null", "truncate"])
def test_an_empty_null_or_truncated_answer_erases_nothing_and_fails_naming_the_ads_and_days(
    pinterest_world: Callable[..., Any],
    run_dag: Callable[..., Any],
    warehouse: psycopg.Connection,
    dagbag,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
    kind: str,
) -> None:
    today = today_utc()
    server = pinterest_world()
    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF)
    before = ad_days(warehouse)
    requests.post(
        f"{server.url}/_sandbox/pinterest/answer-fault", json={"kind": kind, "answers": 0, "keep": 0.5}, timeout=10
    ).raise_for_status()
    monkeypatch.setattr(dagbag.get_dag(DAG_ID).get_task("pull_spend"), "retries", 0)  # fail at once

    run_dag(DAG_ID, midnight(today), conf=DEFAULT_CONF, expect="failed")

    assert set(ad_days(warehouse)) == set(before)
    assert deleted_rows(warehouse) == []
    output = "".join(capfd.readouterr())
    assert "UntrustworthyAnswer" in output and "kept" in output
    reason = "the answer has no rows while" if kind != "truncate" else "the answer leaves out"
    assert reason in output
    first_lost = min(ad["id"] for ad in server.dataset.ads) if kind != "truncate" else None
    assert re.search(r"kept \d+ stored ad-day\(s\).*: ads 6871951\d+, ", output)
    assert first_lost is None or f"ads {first_lost}, " in output
    assert f"days {today - dt.timedelta(days=5)}..{today - dt.timedelta(days=1)}" in output

    # A higher threshold, given as the trigger's conf, lets a user accept a real shrink on purpose.
    requests.post(f"{server.url}/_sandbox/pinterest/answer-fault", json={"kind": "truncate", "answers": 0}, timeout=10)
    run_dag(DAG_ID, midnight(today), conf={**DEFAULT_CONF, "deletion_max_share": 1.0})
    assert 0 < len(ad_days(warehouse)) < len(before)
    assert len(deleted_rows(warehouse)) == len(before) - len(ad_days(warehouse))


def test_an_empty_report_erases_nothing_and_fails_naming_the_ads_and_days(
    pinterest_world: Callable[..., Any],
    run_dag: Callable[..., Any],
    warehouse: psycopg.Connection,
    dagbag,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
) -> None:
    today = today_utc()
    server = pinterest_world(build_world(today, history_days=130))
    dag = dagbag.get_dag(DAG_ID)
    monkeypatch.setattr(dag.get_task("wait_for_reports"), "poke_interval", 1)
    logical = midnight(today - dt.timedelta(days=119))  # interval: 120 days ago, through reports only
    run_dag(DAG_ID, logical, conf=DEFAULT_CONF)
    before = ad_days(warehouse)
    assert before and all(day < today - dt.timedelta(days=90) for _, day in before)
    requests.post(
        f"{server.url}/_sandbox/pinterest/answer-fault", json={"kind": "empty", "answers": 0}, timeout=10
    ).raise_for_status()
    monkeypatch.setattr(dag.get_task("load_reports"), "retries", 0)

    run_dag(DAG_ID, logical, conf=DEFAULT_CONF, expect="failed")

    assert ad_days(warehouse) == before and deleted_rows(warehouse) == []
    output = "".join(capfd.readouterr())
    assert "UntrustworthyAnswer: Pinterest reports of ad account" in output
    assert "the answer has no rows while" in output
    first, last = min(day for _, day in before), max(day for _, day in before)
    assert f"days {first}..{last}" in output
