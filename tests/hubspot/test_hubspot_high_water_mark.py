"""The high-water-mark contract of ``hubspot_deals``: skipped intervals, failed runs, a lagging search index and
manual runs without a data interval lose no deal; a backfill re-reads exactly its own interval."""

from __future__ import annotations

import datetime as dt

import httpx
from deal_worlds import FAST, HOUR, HOUR_MS, deal, hubspot_connection

from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator

H = 3_600_000


def _loaded(warehouse) -> dict[int, float]:
    return {row[0]: float(row[1]) for row in warehouse.execute("SELECT deal_id, amount FROM raw.hubspot_deals")}


def _mark(warehouse) -> dt.datetime | None:
    row = warehouse.execute(
        "SELECT position ->> 'read_to' FROM ops.watermarks WHERE source = 'hubspot.deals' AND scope = 'high_water_mark'"
    ).fetchone()
    return dt.datetime.fromisoformat(row[0]) if row else None


def _extract(run_id: str, **kwargs) -> dict:
    """The extraction task in this process, for windows a cron interval cannot express."""
    kwargs.setdefault("full_refresh", False)
    kwargs.setdefault("since", None)
    kwargs.setdefault("run_after", None)
    return HubSpotDealsToWarehouseOperator(task_id="extract_hubspot_deals", **kwargs).execute({"run_id": run_id})


def _update(server, deal_id: int, amount: str, modified: dt.datetime | int) -> None:
    millis = modified if isinstance(modified, int) else int(modified.timestamp() * 1000)
    httpx.post(
        f"{server.url}/_sandbox/hubspot/deals/{deal_id}/update",
        json={"properties": {"amount": amount}, "modifiedAt": str(millis)},
    ).raise_for_status()


def test_an_hour_the_scheduler_skipped_is_read_by_the_next_run(hubspot_world, run_dag, warehouse) -> None:
    hubspot_world([deal(1, HOUR_MS + 60_000), deal(2, HOUR_MS + H + 1_800_000), deal(3, HOUR_MS + 2 * H + 5)])
    run_dag("hubspot_deals", HOUR + dt.timedelta(hours=1))  # [09:00, 10:00)
    assert set(_loaded(warehouse)) == {1}

    # The [10:00, 11:00) run never happens (scheduler down, catchup=False); the next one is [11:00, 12:00).
    run_dag("hubspot_deals", HOUR + dt.timedelta(hours=3))

    assert set(_loaded(warehouse)) == {1, 2, 3}
    assert _mark(warehouse) == HOUR + dt.timedelta(hours=3)


def test_the_deals_of_a_failed_run_arrive_with_the_next_success(
    hubspot_world, run_dag, warehouse, monkeypatch
) -> None:
    server = hubspot_world([deal(1, HOUR_MS + 60_000), deal(2, HOUR_MS + H + 60_000), deal(3, HOUR_MS + 2 * H + 1)])
    run_dag("hubspot_deals", HOUR + dt.timedelta(hours=1))
    # The private app's token is rotated: the [10:00, 11:00) run fails (at once: a 401 is not retried).
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(server.url, "pat-na1-rotated", **FAST))
    run_dag("hubspot_deals", HOUR + dt.timedelta(hours=2), expect="failed")
    assert set(_loaded(warehouse)) == {1}
    assert _mark(warehouse) == HOUR + dt.timedelta(hours=1), "a failed run does not move the mark"

    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(server.url, **FAST))
    run_dag("hubspot_deals", HOUR + dt.timedelta(hours=3))

    assert set(_loaded(warehouse)) == {1, 2, 3}


def test_a_deal_the_search_index_shows_40_s_late_is_read_by_the_next_run(hubspot_world, warehouse) -> None:
    """A deal modified 2 s before an interval ends, searchable only 40 s later: after the run's 30 s wait."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = now + dt.timedelta(seconds=5)
    start = end - dt.timedelta(hours=1)
    at = int((start + dt.timedelta(minutes=20)).timestamp() * 1000)
    server = hubspot_world([deal(1, at), deal(2, at + 1)], today=now.date(), search_index_lag=40)
    _update(server, 2, "777", end - dt.timedelta(seconds=2))  # now ~ end - 5 s: searchable at ~ end + 35 s

    first = _extract("first", data_interval_start=start, data_interval_end=end, run_type="scheduled")

    assert first["deals"] == 1 and _loaded(warehouse) == {1: 1200.5}, "the index did not show deal 2 yet"
    next_end = end + dt.timedelta(seconds=10)
    second = _extract("second", data_interval_start=end, data_interval_end=next_end, run_type="scheduled")

    assert second["deals"] == 1
    assert _loaded(warehouse) == {1: 1200.5, 2: 777.0}, "the next run's overlap re-read the lagging instant"
    assert _mark(warehouse) == next_end


def test_a_backfill_rereads_exactly_its_interval_and_leaves_the_mark(hubspot_world, run_dag, warehouse) -> None:
    server = hubspot_world([deal(1, HOUR_MS - 60_000), deal(2, HOUR_MS + 60_000), deal(3, HOUR_MS + H + 60_000)])
    run_dag("hubspot_deals", HOUR + dt.timedelta(hours=2))  # no mark yet: [10:00, 11:00) only
    assert set(_loaded(warehouse)) == {3}
    _update(server, 3, "5", HOUR_MS + H + 120_000)  # changed within the later hour: not the backfill's business

    result = _extract(
        "backfill", data_interval_start=HOUR, data_interval_end=HOUR + dt.timedelta(hours=1), run_type="backfill"
    )

    assert result["deals"] == 1 and _loaded(warehouse) == {2: 1200.5, 3: 1200.5}
    assert _mark(warehouse) == HOUR + dt.timedelta(hours=2)


def test_manual_runs_without_a_data_interval_read_from_the_mark_to_now(hubspot_world, warehouse) -> None:
    triggered = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    server = hubspot_world([deal(1, HOUR_MS), deal(2, HOUR_MS + 1), deal(3, HOUR_MS + 2)])
    manual = {"data_interval_start": None, "data_interval_end": None, "run_type": "manual"}

    first = _extract("manual-1", run_after=triggered, **manual)  # no mark yet: every deal

    assert first["deals"] == 3 and set(_loaded(warehouse)) == {1, 2, 3}
    assert _mark(warehouse) == triggered - dt.timedelta(seconds=30), "up to its trigger time minus the index lag"
    _update(server, 2, "42", triggered - dt.timedelta(minutes=5))  # within the overlap before the mark
    later = dt.datetime.now(dt.UTC)

    second = _extract("manual-2", run_after=later, **manual)

    assert second["deals"] == 1 and _loaded(warehouse)[2] == 42.0
    assert _mark(warehouse) == later - dt.timedelta(seconds=30)
