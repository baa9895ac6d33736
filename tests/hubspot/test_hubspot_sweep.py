"""The ``hubspot_sweep`` DAG, run for real: deals HubSpot no longer has are marked deleted (never removed)
and unmarked when they come back, an untrustworthy listing is refused, drift is loaded, changed contacts are
refreshed; and a failed association read never wipes a deal's stored contacts."""

from __future__ import annotations

import datetime as dt

import httpx
from deal_worlds import HOUR, HOUR_MS, contact, deal

NEXT_HOUR = HOUR + dt.timedelta(hours=1)
WEEK = dt.datetime(2025, 6, 15, 4, tzinfo=dt.UTC)
ALL = {"max_deleted_share": 1.0}


def _post(server, path: str, body: dict | None = None) -> dict:
    response = httpx.post(f"{server.url}/_sandbox/hubspot/{path}", json=body or {})
    response.raise_for_status()
    return response.json()


def _state(warehouse) -> dict[int, tuple]:
    rows = warehouse.execute("SELECT deal_id, deleted_at IS NOT NULL, archived FROM raw.hubspot_deals")
    return {row[0]: row[1:] for row in rows}


def test_deleted_deals_are_marked_never_removed_and_unmarked_when_they_come_back(
    hubspot_world, run_dag, warehouse
) -> None:
    server = hubspot_world([deal(n, HOUR_MS + n) for n in range(1, 6)])
    run_dag("hubspot_deals", NEXT_HOUR)
    _post(server, "deals/2/purge")
    _post(server, "deals/3/archive")

    run_dag("hubspot_sweep", WEEK, conf=ALL)

    assert _state(warehouse) == {1: (False, False), 2: (True, False), 3: (False, True), 4: (False, False),
                                 5: (False, False)}
    _post(server, "deals", {"deals": [deal(2, HOUR_MS + 2)]})  # restored (re-created with its id)
    run_dag("hubspot_sweep", WEEK + dt.timedelta(days=7), conf=ALL)
    assert _state(warehouse)[2] == (False, False)


def test_a_listing_that_would_delete_too_much_is_refused_and_marks_nothing(hubspot_world, run_dag, warehouse):
    server = hubspot_world([deal(n, HOUR_MS + n) for n in range(1, 11)])
    run_dag("hubspot_deals", NEXT_HOUR)
    for deal_id in (1, 2, 3):
        _post(server, f"deals/{deal_id}/purge")

    run_dag("hubspot_sweep", WEEK + dt.timedelta(days=1), conf={"max_deleted_share": 0.2}, expect="failed")

    assert all(state == (False, False) for state in _state(warehouse).values())


def test_drift_is_loaded_and_changed_contacts_are_refreshed(hubspot_world, run_dag, warehouse) -> None:
    now = dt.datetime.now(dt.UTC)
    server = hubspot_world(
        [deal(1, HOUR_MS, contacts=[11]), deal(2, HOUR_MS + 1, contacts=[12])],
        [contact(11), contact(12), contact(99)],
        today=now.date(),
    )
    run_dag("hubspot_deals", NEXT_HOUR)
    # A deal modified long before the high-water mark that the warehouse never got, and contact edits (which
    # never move their deals' modified dates); contact 99 belongs to no loaded deal.
    _post(server, "deals", {"deals": [deal(3, HOUR_MS - 86_400_000, contacts=[12])]})
    before = (now - dt.timedelta(minutes=2)).isoformat()
    _post(server, "contacts/11/update", {"properties": {"email": "fixed@example.com"}, "modifiedAt": before})
    _post(server, "contacts/99/update", {"properties": {"email": "stranger@example.com"}, "modifiedAt": before})

    run_dag("hubspot_sweep", WEEK + dt.timedelta(days=2), conf=ALL)

    assert set(_state(warehouse)) == {1, 2, 3}
    assert warehouse.execute("SELECT contact_id FROM raw.hubspot_deal_contacts WHERE deal_id = 3").fetchall() == [(12,)]
    emails = dict(warehouse.execute("SELECT contact_id, email_normalized FROM raw.hubspot_contacts").fetchall())
    assert emails == {11: "fixed@example.com", 12: "buyer12@example.com"}, "only contacts of loaded deals"
    assert warehouse.execute(
        "SELECT count(*) FROM ops.watermarks WHERE source = 'hubspot.contacts' AND scope = 'high_water_mark'"
    ).fetchone() == (1,)


def test_an_association_read_error_keeps_the_deals_stored_contacts(hubspot_world, run_dag, warehouse) -> None:
    server = hubspot_world(
        [deal(1, HOUR_MS, contacts=[11, 12]), deal(2, HOUR_MS + 1, contacts=[13])],
        [contact(n) for n in (11, 12, 13, 14)],
    )
    run_dag("hubspot_deals", NEXT_HOUR)
    _post(server, "deals/1/association-error", {"category": "INTERNAL_ERROR"})
    _post(server, "deals/2/associations", {"contacts": [14]})
    later = str(HOUR_MS + 3_600_000 + 60_000)
    for deal_id in (1, 2):
        _post(server, f"deals/{deal_id}/update", {"properties": {"amount": "5"}, "modifiedAt": later})

    run_dag("hubspot_deals", NEXT_HOUR + dt.timedelta(hours=1))

    links = warehouse.execute("SELECT deal_id, contact_id FROM raw.hubspot_deal_contacts ORDER BY 1, 2").fetchall()
    assert links == [(1, 11), (1, 12), (2, 14)], "deal 1's read failed: its links stay; deal 2's are replaced"
    assert warehouse.execute("SELECT amount FROM raw.hubspot_deals WHERE deal_id = 1").fetchone() == (5,)


def _full_refresh(server, run_dag, expect: str = "success"):
    midnight = dt.datetime.combine(server.app.state.sandbox.today, dt.time(), tzinfo=dt.UTC)
    return run_dag("hubspot_deals", midnight, conf={"full_refresh": True}, expect=expect)


def _stable_keys(warehouse) -> dict[int, str]:
    return dict(warehouse.execute("SELECT deal_id, stable_key FROM raw.hubspot_deal_ids WHERE via = 'self'"))


def test_a_plain_full_refresh_after_a_crm_migration_keeps_every_stable_key(hubspot_world, run_dag, warehouse):
    # Some deals carry a legacy id from an earlier CRM already (the migration's new legacy id replaces it), one
    # survived a merge (its re-created deal still lists the merged ids, which belong to the lineage it succeeds).
    server = hubspot_world(
        [deal(n, HOUR_MS + n, legacy_deal_id=f"SF-{n}" if n % 2 else None) for n in range(1, 10)]
        + [deal(10, HOUR_MS + 10, hs_merged_object_ids="101;102")]
    )
    run_dag("hubspot_deals", NEXT_HOUR)
    keys_before = _stable_keys(warehouse)

    new_ids = {int(old): int(new) for old, new in _post(server, "deals/re-id", {"firstId": 900})["ids"].items()}
    _full_refresh(server, run_dag)  # the default max_deleted_share (0.2): every old deal has a successor

    keys = _stable_keys(warehouse)
    assert {new_ids[old]: key for old, key in keys_before.items()} == {new: keys[new] for new in new_ids.values()}
    assert all(state == (True, False) for deal_id, state in _state(warehouse).items() if deal_id in new_ids)
    assert warehouse.execute("SELECT count(*) FROM ops.record_issues WHERE source = 'hubspot.deal_key'").fetchone() == (
        0,
    )


def test_deals_gone_without_a_successor_still_count_when_others_were_reidentified(hubspot_world, run_dag, warehouse):
    server = hubspot_world([deal(n, HOUR_MS + n) for n in range(1, 11)])
    run_dag("hubspot_deals", NEXT_HOUR)
    _post(server, "deals/re-id", {"ids": ["1", "2"], "firstId": 900})  # 2 re-identified: they do not count
    for deal_id in (3, 4, 5):  # 30 % of the 10 deals vanish without a successor
        _post(server, f"deals/{deal_id}/purge")

    _full_refresh(server, run_dag, expect="failed")

    deleted = {deal_id for deal_id, (gone, _) in _state(warehouse).items() if gone}
    assert deleted == {1, 2}, "the sweep marked nothing: only the re-created deals' predecessors, when they loaded"
