"""``attribution_reconcile`` run for real after ``hubspot_deals`` and ``pinterest_spend`` on the hand-computed world of
``reconcile_worlds`` (docs/attribution.md works through the same figures)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import requests

from tests.reconcile.reconcile_worlds import (
    A411,
    ACCOUNT_ID,
    C1,
    C2,
    C3,
    C4,
    CHANNEL_SPEND_CSV,
    D4,
    D8,
    D9,
    D10,
    D13,
    OLD_C2_NAME,
    world,
)

MAY, JUNE = dt.date(2025, 5, 1), dt.date(2025, 6, 1)
MART_TABLES = {  # table -> its key columns (snapshots compare whole rows but reconciled_at)
    "mart.deal_attribution": "stable_key",
    "mart.performance": "grain, grain_id, period, period_start, model",
    "mart.cohort_cac": "grain, grain_id, cohort_month, model",
    "mart.truth_vs_platform": "grain, grain_id, week_start",
    "mart.channel_performance": "channel_name, period, period_start, model",
}


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def performance(warehouse: psycopg.Connection, grain: str, grain_id: str, period: str, start: dt.date) -> tuple:
    row = warehouse.execute(
        "SELECT spend, leads, won, revenue, cac, roas FROM mart.performance "
        "WHERE model = 'last_touch' AND grain = %s AND grain_id = %s AND period = %s AND period_start = %s",
        (grain, grain_id, period, start),
    ).fetchone()
    return tuple(None if value is None else Decimal(value) for value in row) if row else None


def figures(*values: Any) -> tuple:
    return tuple(None if value is None else Decimal(str(value)) for value in values)


def deal_row(warehouse: psycopg.Connection, stable_key: int, columns: str) -> tuple | None:
    return warehouse.execute(
        f"SELECT {columns} FROM mart.deal_attribution WHERE stable_key = %s", (f"hubspot:{stable_key}",)
    ).fetchone()


def snapshot(warehouse: psycopg.Connection) -> dict[str, list[tuple]]:
    tables = {}
    for table, key in MART_TABLES.items():
        columns = [
            name
            for (name,) in warehouse.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = %s "
                "AND column_name <> 'reconciled_at' ORDER BY ordinal_position",
                (table,),
            ).fetchall()
        ]
        tables[table] = warehouse.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}").fetchall()
    return tables


def mutate(server: Any, path: str, body: dict[str, Any]) -> None:
    requests.post(f"{server.url}/_sandbox/hubspot/{path}", json=body, timeout=10).raise_for_status()


def test_the_world_reconciles_to_the_hand_computed_figures_through_merge_reopen_and_rename(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    channel_spend_dir: Path,
    warehouse: psycopg.Connection,
) -> None:
    # Run 1: campaign C2 still carries its old name; D10 is won in May.
    crm = serve_world(world(c2_name=OLD_C2_NAME))
    (channel_spend_dir / "spend.csv").write_text(CHANNEL_SPEND_CSV)
    extract()
    first = reconcile()
    assert (first["mode"], first["reason"], first["deals"], first["warnings"]) == ("full", "first run", 15 - 1, 0)
    assert performance(warehouse, "campaign", C2, "month", MAY) == figures(250, 2, 2, 1400, 125, 5.6)
    assert deal_row(warehouse, D10, "is_won, won_day") == (True, dt.date(2025, 5, 21))
    assert deal_row(warehouse, 1006, "campaign_resolved_by") == ("unresolved",)  # "summer_patio": not yet a name

    # Run 2: D10 re-opened, D8 merged into D9; only those deals are reconciled, and the result equals a rebuild.
    mutate(crm, f"deals/{D10}/update", {"properties": {"dealstage": "qualified", "hs_is_closed_won": "false"}})
    mutate(crm, "deals/merge", {"primaryObjectId": str(D9), "objectIdToMerge": str(D8)})
    extract(pinterest=False)
    second = reconcile()
    assert second["mode"] == "incremental" and 2 <= second["deals_changed"] < 15
    assert deal_row(warehouse, D10, "is_won, won_at") == (False, None)
    assert deal_row(warehouse, D8, "deal_id") is None  # merged away: counts nowhere
    assert deal_row(warehouse, D9, "lead_day, lineage_deal_count") == (dt.date(2025, 5, 5), 2)
    assert performance(warehouse, "campaign", C2, "month", MAY) == figures(250, 2, 1, 800, 250, 3.2)
    incremental = snapshot(warehouse)
    assert reconcile(full_rebuild=True)["reason"] == "requested"
    assert snapshot(warehouse) == incremental

    # Run 3: C2 renamed "Summer Patio" (a second sandbox serves the renamed Pinterest world), D10 won again in June.
    serve_world(world(), hubspot=False)
    mutate(crm, f"deals/{D10}/close-won", {"closedAt": "2025-06-11T15:00:00.000Z"})
    extract()
    third = reconcile()
    assert (third["mode"], third["reason"]) == ("full", "Pinterest entities or names changed")

    # CAC = spend / won in the period; ROAS = revenue / spend (both USD here); NULL CAC where nothing was won.
    assert performance(warehouse, "account", ACCOUNT_ID, "month", MAY) == figures(900, 7, 3, 2100, 300, 2.3333)
    assert performance(warehouse, "account", ACCOUNT_ID, "month", JUNE) == figures(850, 3, 5, 4900, 170, 5.7647)
    assert performance(warehouse, "campaign", C1, "month", MAY) == figures(500, 4, 1, 1000, 500, 2)
    assert performance(warehouse, "campaign", C1, "month", JUNE) == figures(500, 1, 3, 3100, 166.6667, 6.2)
    assert performance(warehouse, "campaign", C2, "month", MAY) == figures(250, 2, 1, 800, 250, 3.2)
    assert performance(warehouse, "campaign", C2, "month", JUNE) == figures(250, 1, 2, 1800, 125, 7.2)
    assert performance(warehouse, "campaign", C3, "month", MAY) == figures(150, 1, 1, 300, 150, 2)  # archived
    assert performance(warehouse, "campaign", C4, "month", JUNE) == figures(100, 0, 0, 0, None, 0)  # no deals
    # D3 (lead 8 May) is won in the week of 2 June, with D4 and D9.
    june_2 = dt.date(2025, 6, 2)
    assert performance(warehouse, "campaign", C1, "week", june_2) == figures(500, 1, 3, 3100, 166.6667, 6.2)
    assert performance(warehouse, "ad", "687195100002", "day", dt.date(2025, 6, 3)) == figures(40, 0, 1, 2200, 40, 55)

    cohorts = dict(
        ((grain_id, month), (leads, won, cac))
        for grain_id, month, leads, won, cac in warehouse.execute(
            "SELECT grain_id, cohort_month, leads, won_to_date, cac FROM mart.cohort_cac "
            "WHERE model = 'last_touch' AND grain IN ('account', 'campaign')"
        ).fetchall()
    )
    assert cohorts[(ACCOUNT_ID, MAY)] == (7, 6, Decimal("150.0000"))
    assert cohorts[(C1, MAY)] == (4, 3, Decimal("166.6667"))
    assert cohorts[(C4, JUNE)] == (0, 0, None)
    # Within 7 / 30 / 90 / 60 days of their lead: D1 14 days, D3 26, D9 32 (from D8's creation); D2 open.
    assert cohort_windows(warehouse, C1, MAY) == (4, 3, 0, 2, 3, 3, 60)

    time_to_close = dict(
        ((grain_id, start), (won, median, p75))
        for grain_id, start, won, median, p75 in warehouse.execute(
            "SELECT grain_id, period_start, won, median, p75 FROM mart.time_to_close WHERE period = 'month'"
        ).fetchall()
    )
    assert time_to_close[(C1, JUNE)] == (3, days(26), days(29))
    assert time_to_close[(ACCOUNT_ID, JUNE)] == (5, days(26), days(28))
    assert time_to_close[(C2, MAY)] == (1, days(14), days(14))

    resolution = dict(
        warehouse.execute(
            "SELECT campaign_resolved_by, count(*) FROM mart.deal_attribution "
            "WHERE channel = 'pinterest_paid' GROUP BY 1"
        ).fetchall()
    )
    assert resolution == {"macro_id": 3, "utm_id": 2, "utm_name": 4, "unresolved": 1}
    assert deal_row(warehouse, 1001, "campaign_id, campaign_resolved_by, ad_id") == (C1, "macro_id", "687195100001")
    assert deal_row(warehouse, 1003, "ad_id, ad_group_resolved_by, ad_resolved_by, amount, currency, amount_home") == (
        "687195100002", "utm_name", "utm_name", Decimal("2000"), "EUR", Decimal("2200")
    )  # fmt: skip
    assert deal_row(warehouse, 1005, "campaign_id, campaign_resolved_by") == (C2, "utm_name")  # its old name
    assert deal_row(warehouse, D4, "contact_count") == (2,)  # two contacts, one row
    assert deal_row(warehouse, D13, "deal_id") is None  # archived
    assert deal_row(warehouse, D10, "won_day, time_to_close") == (dt.date(2025, 6, 11), days(28))
    assert deal_row(warehouse, 1012, "channel, channel_name, campaign_resolved_by") == ("other", "google", None)
    assert deal_row(warehouse, 1015, "channel, channel_name") == ("unknown", None)

    truth = warehouse.execute(
        "SELECT platform_checkouts, crm_won, crm_won_with_epik, epik_coverage FROM mart.truth_vs_platform "
        "WHERE grain = 'campaign' AND grain_id = %s AND week_start = '2025-06-02'",
        (C1,),
    ).fetchone()
    assert truth == (10, 4, 3, Decimal("0.7500"))  # D11 is organic: won without an epik

    channels = {
        channel: (spend, leads, won, revenue, cac)
        for channel, spend, leads, won, revenue, cac in warehouse.execute(
            "SELECT channel_name, spend, leads, won, revenue, cac FROM mart.channel_performance "
            "WHERE model = 'last_touch' AND period = 'month' AND period_start = %s",
            (JUNE,),
        ).fetchall()
    }
    assert channels["pinterest"] == figures(850, 4, 6, 5000, 141.6667)
    # google's CSV has lines on 3 and 10 June only: the month's other days are unknown spend, so is the month's
    assert channels["google"] == figures(None, 1, 1, 700, None)
    bad_lines = warehouse.execute(
        "SELECT record_key, field FROM ops.record_issues WHERE source = 'channel_spend.csv' ORDER BY field"
    ).fetchall()
    assert bad_lines == [("spend.csv:4", "currency"), ("spend.csv:4", "day"), ("spend.csv:4", "spend")]
    assert warehouse.execute("SELECT count(*) FROM ops.channel_spend_files").fetchone() == (1,)  # loaded once


def test_spend_and_revenue_in_two_currencies_are_never_divided(
    serve_world: Callable[..., Any], extract: Callable[..., None], reconcile: Callable[..., Any], warehouse
) -> None:
    serve_world(world(currency="EUR"))  # the ad account pays in EUR, the CRM's home currency is USD
    extract()
    reconcile()
    row = warehouse.execute(
        "SELECT spend, spend_currency, revenue, revenue_currency, cac, roas FROM mart.performance "
        "WHERE model = 'last_touch' AND grain = 'campaign' AND grain_id = %s AND period = 'month' "
        "AND period_start = %s",
        (C1, MAY),
    ).fetchone()
    assert row == (Decimal("500"), "EUR", Decimal("1000"), "USD", Decimal("500.0000"), None)
    assert warehouse.execute("SELECT count(*) FROM mart.performance WHERE roas IS NOT NULL").fetchone() == (0,)


def test_a_rerun_with_nothing_new_changes_nothing_and_a_deleted_deal_leaves_every_mart(
    serve_world: Callable[..., Any], extract: Callable[..., None], reconcile: Callable[..., Any], warehouse
) -> None:
    serve_world(world())
    extract()
    reconcile()
    before = snapshot(warehouse)
    again = reconcile()
    assert (again["mode"], again["deals_changed"]) == ("incremental", 0)
    assert snapshot(warehouse) == before

    # HubSpot no longer lists D4 (as the extraction's deletion check marks it): it counts nowhere, incrementally.
    account_june = performance(warehouse, "account", ACCOUNT_ID, "month", JUNE)
    warehouse.execute("UPDATE raw.hubspot_deals SET deleted_at = now(), loaded_at = now() WHERE deal_id = %s", (D4,))
    gone = reconcile()
    assert (gone["mode"], gone["deals_changed"]) == ("incremental", 1)
    assert deal_row(warehouse, D4, "deal_id") is None
    spend, leads, won, revenue, _, _ = account_june
    after = performance(warehouse, "account", ACCOUNT_ID, "month", JUNE)
    assert after[:4] == (spend, leads - 1, won - 1, revenue - 500)


def world_without_ad_day(ad_id: str, day: dt.date) -> Any:
    """The world as Pinterest restates it after dropping one ad-day."""
    restated = world()
    restated.analytics = [row for row in restated.analytics if (row["AD_ID"], row["DATE"]) != (ad_id, str(day))]
    return restated


def test_an_ad_day_pinterest_stops_reporting_leaves_its_day_week_and_month_on_the_next_run(
    serve_world: Callable[..., Any], extract: Callable[..., None], reconcile: Callable[..., Any], warehouse
) -> None:
    serve_world(world())
    extract()
    reconcile()
    last_day = dt.date(2025, 6, 20)  # A411's (C4's) last delivery day: no other ad delivered that day
    assert performance(warehouse, "campaign", C4, "month", JUNE) == figures(100, 0, 0, 0, None, 0)

    # Pinterest's re-pull no longer reports the day: the pull deletes its only row, and nothing of that day loads.
    serve_world(world_without_ad_day(A411, last_day), hubspot=False)
    extract(hubspot=False)
    assert warehouse.execute("SELECT count(*) FROM raw.pinterest_ad_daily_deleted").fetchone() == (1,)
    run = reconcile()
    assert (run["mode"], run["deals_changed"]) == ("incremental", 0)
    assert performance(warehouse, "ad", A411, "day", last_day) is None
    assert performance(warehouse, "campaign", C4, "week", dt.date(2025, 6, 16)) == figures(80, 0, 0, 0, None, 0)
    assert performance(warehouse, "campaign", C4, "month", JUNE) == figures(80, 0, 0, 0, None, 0)
    assert performance(warehouse, "account", ACCOUNT_ID, "month", JUNE)[0] == Decimal(830)
    incremental = snapshot(warehouse)
    reconcile(full_rebuild=True)
    assert snapshot(warehouse) == incremental


class LoseStagedSpend(threading.Thread):
    """Empties ``mart.performance_spend`` after ``reconcile_spend`` staged it and before ``publish_marts``
    reads it (as another run's ``reconcile_spend`` would replace the rows). Deterministic however fast the tasks
    are: a share lock makes ``reconcile_spend`` wait to begin; an exclusive lock is queued behind it, and the share
    lock let go; once ``reconcile_spend`` commits, the queued lock holds ``publish_marts`` off while the rows are
    truncated."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.error, self.lost = url, None, False
        self.gate = psycopg.connect(url)
        self.gate.execute("LOCK TABLE mart.performance_spend IN SHARE MODE")  # held from before the run

    def _wait_for_waiters(self, watch: psycopg.Connection, count: int, why: str) -> None:
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'mart.performance_spend'::regclass"
        deadline = time.monotonic() + 120
        while watch.execute(waiting).fetchone()[0] < count:
            assert time.monotonic() < deadline, why
            time.sleep(0.01)

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as watch, psycopg.connect(self.url) as thief:
                self._wait_for_waiters(watch, 1, "reconcile_spend never began")
                queued = threading.Thread(
                    target=thief.execute, args=("LOCK TABLE mart.performance_spend IN ACCESS EXCLUSIVE MODE",)
                )
                queued.start()
                self._wait_for_waiters(watch, 2, "the exclusive lock was never queued")
                self.gate.commit()  # reconcile_spend runs and commits; the thief's lock comes next
                queued.join(timeout=120)
                self._wait_for_waiters(watch, 1, "publish_marts never read the staged spend")
                staged = thief.execute("SELECT count(*) FROM mart.performance_spend").fetchone()[0]
                assert staged > 0, "reconcile_spend had staged rows"
                thief.execute("TRUNCATE mart.performance_spend")
                thief.commit()
                self.lost = True
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.gate.close()


def test_staged_spend_lost_before_the_performance_step_fails_it_by_name_and_the_next_run_repairs_the_marts(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    warehouse_url: str,
    capfd: Any,
) -> None:
    crm = serve_world(world())
    extract()
    reconcile()
    # A deal re-opened and an ad-day restated away: the next run stages the spend of that day's periods.
    mutate(crm, f"deals/{D10}/update", {"properties": {"dealstage": "qualified", "hs_is_closed_won": "false"}})
    serve_world(world_without_ad_day(A411, dt.date(2025, 6, 20)), hubspot=False)
    extract()
    thief = LoseStagedSpend(warehouse_url)
    thief.start()
    try:
        failed = reconcile(expect="failed")
    finally:
        thief.join(timeout=60)
    assert thief.error is None and thief.lost, thief.error
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in failed.get_task_instances()}
    # The guard fails every try alike: the task fails at once, without retries.
    assert (tries["reconcile_deals"][0], tries["publish_marts"]) == ("success", ("failed", 1)), tries
    out, err = capfd.readouterr()
    assert "is gone" in out + err and "clear reconcile_spend and this task" in out + err, (out + err)[-3000:]

    # Nothing was published; the next run reconciles the failed run's deal changes again, and the spend.
    again = reconcile()
    assert again["mode"] == "incremental"
    assert deal_row(warehouse, D10, "is_won") == (False,)
    repaired = snapshot(warehouse)
    reconcile(full_rebuild=True)
    assert snapshot(warehouse) == repaired


def test_a_case_only_rename_rewrites_the_name_on_every_row(
    serve_world: Callable[..., Any], extract: Callable[..., None], reconcile: Callable[..., Any], warehouse
) -> None:
    serve_world(world())
    extract()
    reconcile()
    # "Summer Patio" -> "SUMMER PATIO": the same name for resolution (no new normalised name), a new one on screen.
    serve_world(world(c2_name="SUMMER PATIO"), hubspot=False)
    extract(hubspot=False)
    renamed = reconcile()
    assert (renamed["mode"], renamed["reason"]) == ("full", "Pinterest entities or names changed")
    for table in ("mart.performance", "mart.cohort_cac", "mart.truth_vs_platform"):
        names = warehouse.execute(
            f"SELECT DISTINCT name FROM {table} WHERE grain = 'campaign' AND grain_id = %s", (C2,)
        ).fetchall()
        assert names == [("SUMMER PATIO",)], table
    again = reconcile()
    assert (again["mode"], again["deals_changed"]) == ("incremental", 0)


def cohort_windows(warehouse: psycopg.Connection, grain_id: str, month: dt.date) -> tuple:
    return warehouse.execute(
        "SELECT leads, won_to_date, won_within_7d, won_within_30d, won_within_90d, won_within_window, window_days "
        "FROM mart.cohort_cac WHERE model = 'last_touch' AND grain_id = %s AND cohort_month = %s",
        (grain_id, month),
    ).fetchone()


def test_cohort_windows_count_wins_within_n_days_and_stay_unknown_until_every_lead_had_its_n_days(
    serve_world: Callable[..., Any], extract: Callable[..., None], reconcile: Callable[..., Any], warehouse
) -> None:
    crm = serve_world(world())
    extract()
    reconcile()
    # May's paid leads and days to their win: D1 14, D2 open, D3 26, D5 14, D7 2, D8 open (not merged here),
    # D10 7 (lead 14 May, won 21 May); C2's is D10 alone (D5's "patio-launch" names no campaign in this world).
    # The data is as of today: every window has closed.
    assert cohort_windows(warehouse, ACCOUNT_ID, MAY) == (7, 5, 2, 5, 5, 5, 60)
    assert cohort_windows(warehouse, C2, MAY) == (1, 1, 1, 1, 1, 1, 60)

    # D10 won again on 11 June (28 days after its lead) and a 20-day window: only what changed is reconciled, and
    # every cohort row takes the new window; the result equals a rebuild's.
    mutate(crm, f"deals/{D10}/close-won", {"closedAt": "2025-06-11T15:00:00.000Z"})
    extract(pinterest=False)
    run = reconcile(cohort_window_days=20)
    assert run["mode"] == "incremental" and run["deals_changed"] < 15
    assert cohort_windows(warehouse, C2, MAY) == (1, 1, 0, 1, 1, 0, 20)
    assert cohort_windows(warehouse, ACCOUNT_ID, MAY) == (7, 5, 1, 5, 5, 3, 20)
    assert cohort_windows(warehouse, C1, JUNE) == (2, 2, 2, 2, 2, 2, 20)  # D4: 2 days, D9: 1 day
    assert warehouse.execute("SELECT DISTINCT window_days FROM mart.cohort_cac").fetchall() == [(20,)]
    incremental = snapshot(warehouse)
    reconcile(full_rebuild=True, cohort_window_days=20)
    assert snapshot(warehouse) == incremental

    # As of the world's own last day (the publishing run's watermark: midnight of 1 July in New York), May's 90-day
    # window and June's 7-day window have not closed: not yet known, never an undercount.
    warehouse.execute(
        "UPDATE ops.reconcile_runs SET watermark = '2025-07-01T04:00:00Z' "
        "WHERE run_id = (SELECT run_id FROM ops.mart_publication)"
    )
    assert cohort_windows(warehouse, ACCOUNT_ID, MAY) == (7, 5, 1, 5, None, 3, 20)
    assert cohort_windows(warehouse, C1, JUNE) == (2, 2, None, None, None, None, 20)
