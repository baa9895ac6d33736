"""Stable deal keys cannot collide: namespaced aliases, a key never held by two live deals (flagged, naming
both), a merge of two known deals keeps the survivor's key."""

from __future__ import annotations

import datetime as dt

import httpx
from deal_worlds import HOUR, HOUR_MS, deal

H = 3_600_000
FIRST, SECOND = HOUR + dt.timedelta(hours=1), HOUR + dt.timedelta(hours=2)


def _keys(warehouse) -> dict[str, str]:
    return dict(warehouse.execute("SELECT alias_id, stable_key FROM raw.hubspot_deal_ids").fetchall())


def _key_issues(warehouse) -> list[tuple]:
    return warehouse.execute(
        "SELECT record_key, reason, raw_value FROM ops.record_issues WHERE source = 'hubspot.deal_key' ORDER BY 1"
    ).fetchall()


def test_a_legacy_id_equal_to_a_live_deals_hubspot_id_does_not_share_its_key(
    hubspot_world, run_dag, warehouse
) -> None:
    # A numeric legacy id may be the deal's previous HubSpot id (a re-import): while that deal is live the two
    # never share a key; the newcomer keeps its own and is flagged naming both.
    hubspot_world([deal(101, HOUR_MS), deal(202, HOUR_MS + 1, legacy_deal_id="101")])

    run_dag("hubspot_deals", FIRST)

    keys = _keys(warehouse)
    assert keys == {"hubspot:101": "hubspot:101", "hubspot:202": "hubspot:202", "legacy:101": "hubspot:202"}
    assert _key_issues(warehouse) == [(
        "202", "legacy id already keys live deal 101 (stable key hubspot:101): deal 202 keeps its own key hubspot:202",
        "101",
    )]  # fmt: skip


def test_a_cloned_deal_with_the_same_legacy_id_is_refused_the_key_and_flagged(
    hubspot_world, run_dag, warehouse
) -> None:
    deals = [
        deal(301, HOUR_MS, legacy_deal_id="SF-1"),
        deal(401, HOUR_MS + 1, legacy_deal_id="SF-2"), deal(402, HOUR_MS + 2, legacy_deal_id="SF-2"),  # one page
        deal(302, HOUR_MS + H, legacy_deal_id="SF-1"),  # cloned from 301 an hour later
    ]  # fmt: skip
    hubspot_world(deals)
    run_dag("hubspot_deals", FIRST)
    run_dag("hubspot_deals", SECOND)

    keys = _keys(warehouse)
    assert keys["hubspot:301"] == keys["legacy:SF-1"] == "hubspot:301"
    assert keys["hubspot:302"] == "hubspot:302", "the clone keys itself: one key never belongs to two live deals"
    assert keys["hubspot:401"] != keys["hubspot:402"]
    selves = warehouse.execute(
        "SELECT stable_key, count(*) FROM raw.hubspot_deal_ids WHERE via = 'self' GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    assert selves == []
    issues = _key_issues(warehouse)
    assert issues[0] == (
        "302",
        "legacy id already keys live deal 301 (stable key hubspot:301): deal 302 keeps its own key hubspot:302",
        "SF-1",
    )
    assert len(issues) == 2 and issues[1][0] in ("401", "402") and issues[1][2] == "SF-2"
    assert {"401", "402"} <= set(issues[1][1].replace(",", " ").split()), "both deals are named"


def test_a_deal_reimported_with_the_legacy_id_of_a_gone_deal_inherits_its_key(
    hubspot_world, run_dag, warehouse
) -> None:
    server = hubspot_world([deal(501, HOUR_MS, legacy_deal_id="SF-3")])
    run_dag("hubspot_deals", FIRST)
    httpx.post(f"{server.url}/_sandbox/hubspot/deals/501/archive", json={}).raise_for_status()
    today = server.app.state.sandbox.today
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    run_dag("hubspot_deals", midnight, conf={"full_refresh": True})  # finds 501 archived
    httpx.post(f"{server.url}/_sandbox/hubspot/deals", json={
        "deals": [deal(502, HOUR_MS + H, legacy_crm_deal_id="SF-3")]}).raise_for_status()
    run_dag("hubspot_deals", midnight, conf={"since": "2025-06-01"})

    keys = _keys(warehouse)
    assert keys["hubspot:502"] == keys["hubspot:501"] == "hubspot:501", "501 is archived: 502 carries its lineage"
    assert _key_issues(warehouse) == []


def test_a_merge_of_two_known_deals_keeps_the_survivors_key(hubspot_world, run_dag, warehouse) -> None:
    server = hubspot_world([deal(601, HOUR_MS), deal(602, HOUR_MS + 1, legacy_deal_id="SF-6")])
    run_dag("hubspot_deals", FIRST)
    httpx.post(
        f"{server.url}/_sandbox/hubspot/deals/merge", json={"primaryObjectId": "601", "objectIdToMerge": "602"}
    ).raise_for_status()
    today = server.app.state.sandbox.today
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    run_dag("hubspot_deals", tomorrow, conf={"since": today.isoformat()})

    keys = _keys(warehouse)
    assert keys["hubspot:601"] == "hubspot:601"
    assert keys["hubspot:602"] == keys["legacy:SF-6"] == "hubspot:601", "the merged lineage is the survivor's alias"
    assert warehouse.execute(
        "SELECT count(*) FROM raw.hubspot_deal_ids WHERE via = 'self'"
    ).fetchone() == (2,), "one self row per deal, the merged one included"


def _hourly_run_after_now(server, run_dag) -> dict:
    """The scheduled run whose interval holds the sandbox's now; returns the extraction's counts (XCom)."""
    now = server.app.state.sandbox.now()
    dag_run = run_dag("hubspot_deals", now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1))
    extract = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "extract_hubspot_deals")
    return extract.xcom_pull(task_ids="extract_hubspot_deals")


def test_an_hourly_run_hands_a_recreated_deal_its_lineage_and_a_clone_keeps_its_own_key(
    hubspot_world, run_dag, warehouse
) -> None:
    # The sandbox's clock is the day after the first run's hour: the migration comes after it.
    next_day = HOUR.date() + dt.timedelta(days=1)
    server = hubspot_world([deal(701, HOUR_MS, legacy_deal_id="SF-7"), deal(801, HOUR_MS + 1)], today=next_day)
    run_dag("hubspot_deals", FIRST)
    # 801 is re-created by a migration (its old id is gone from HubSpot); 701 is cloned (the original stays).
    answer = httpx.post(f"{server.url}/_sandbox/hubspot/deals/re-id", json={"ids": ["801"]})
    recreated = int(answer.json()["ids"]["801"])
    now_ms = int(server.app.state.sandbox.now().timestamp() * 1000)
    httpx.post(f"{server.url}/_sandbox/hubspot/deals", json={
        "deals": [deal(702, now_ms - 1000, legacy_crm_deal_id="SF-7")]}).raise_for_status()

    counts = _hourly_run_after_now(server, run_dag)  # no full refresh, no sweep

    keys = _keys(warehouse)
    assert keys[f"hubspot:{recreated}"] == keys["hubspot:801"] == keys["legacy:801"] == "hubspot:801"
    assert keys["hubspot:702"] == "hubspot:702" and keys["hubspot:701"] == "hubspot:701", "the clone keeps its own"
    deleted = dict(warehouse.execute("SELECT deal_id, deleted_at IS NOT NULL FROM raw.hubspot_deals"))
    assert deleted == {701: False, 702: False, 801: True, recreated: False}, "only the gone predecessor"
    assert _key_issues(warehouse) == [(
        "702", "legacy id already keys live deal 701 (stable key hubspot:701): deal 702 keeps its own key hubspot:702",
        "SF-7",
    )]  # fmt: skip
    assert (counts["predecessors_checked"], counts["predecessors_gone"]) == (2, 1)
    assert counts["api"]["requests.deal_batch"] == 1, "both asked in one batch read"


def test_an_hourly_run_after_a_migration_of_250_deals_asks_hubspot_in_3_batch_reads(
    hubspot_world, run_dag, warehouse
) -> None:
    server = hubspot_world([deal(1000 + n, HOUR_MS + n) for n in range(250)], today=HOUR.date() + dt.timedelta(days=1))
    run_dag("hubspot_deals", FIRST)
    keys_before = dict(warehouse.execute("SELECT deal_id, stable_key FROM raw.hubspot_deal_ids WHERE via = 'self'"))
    new_ids = httpx.post(f"{server.url}/_sandbox/hubspot/deals/re-id", json={}).json()["ids"]

    counts = _hourly_run_after_now(server, run_dag)

    keys = dict(warehouse.execute("SELECT deal_id, stable_key FROM raw.hubspot_deal_ids WHERE via = 'self'"))
    assert {int(new): keys[int(new)] for new in new_ids.values()} == {
        int(new_ids[str(old)]): key for old, key in keys_before.items()
    }, "every re-created deal carries its lineage's key"
    assert (counts["deals"], counts["predecessors_checked"], counts["predecessors_gone"]) == (250, 250, 250)
    assert counts["api"]["requests.deal_batch"] == 3, "ceil(250 / 100) batch reads: about 100 for 10,000 deals"
    assert _key_issues(warehouse) == []
