"""The keyset windowing over the real search API (sandbox over HTTP): every deal exactly once, whatever the ties,
page boundaries, and deals modified while we page."""

from __future__ import annotations

import datetime as dt

import httpx
from deal_worlds import HOUR, HOUR_MS, deal

from pin2deal.hooks.hubspot_api import HubSpotHook
from pin2deal.hubspot.extract import initial_search_position, modified_deal_batches

END = HOUR + dt.timedelta(hours=1)
PROPERTIES = ["hs_lastmodifieddate", "amount"]


def _ids(batches) -> list[int]:
    return [deal.id for batch in batches for deal in batch.deals]


def test_ties_across_page_boundaries_and_whole_pages_on_one_instant(hubspot_world) -> None:
    # instants: 3 deals, then 7 (more than a page of 5), then 1, then 12 (several pages), then 4 at the window's
    # start and end edges; ids deliberately not in modification order.
    layout = [(HOUR_MS, 3), (HOUR_MS + 5, 7), (HOUR_MS + 6, 1), (HOUR_MS + 900, 12), (HOUR_MS + 3_599_999, 4)]
    deals, next_id = [], 9000
    for at, count in layout:
        for _ in range(count):
            deals.append(deal(next_id, at))
            next_id -= 7
    outside = [deal(1, HOUR_MS - 1), deal(2, int(END.timestamp() * 1000))]
    hubspot_world(deals + outside)

    hook = HubSpotHook()
    start = initial_search_position(HOUR)
    batches = list(modified_deal_batches(hook, PROPERTIES, END, start, batch_size=10, page_size=5))

    ids = _ids(batches)
    assert sorted(ids) == sorted(int(d["id"]) for d in deals)
    assert len(ids) == len(set(ids)), "a deal was yielded twice"
    assert batches[-1].position.get("done") is True
    assert all(len(batch.deals) <= 10 for batch in batches)
    # keyset paging never pages by offset: one search per page, plus one per instant read by id
    assert hook.stats["requests.search"] <= len(deals) // 5 + 8


def test_deals_modified_while_paging_are_not_lost(hubspot_world) -> None:
    """Offset paging skips a deal when an earlier one moves to the end of the sort; keyset paging cannot."""
    deals = [deal(100 + n, HOUR_MS + n * 1000) for n in range(40)]
    server = hubspot_world(deals)
    hook = HubSpotHook()
    batches = modified_deal_batches(hook, PROPERTIES, END, initial_search_position(HOUR), batch_size=10, page_size=5)

    first = next(batches)
    read = [deal.id for deal in first.deals]
    # Deals already read are edited now: they move to the end of the window's sort order.
    for deal_id in read[:5]:
        response = httpx.post(
            f"{server.url}/_sandbox/hubspot/deals/{deal_id}/update",
            json={"properties": {"amount": "1"}, "modifiedAt": str(HOUR_MS + 3_000_000)},
        )
        response.raise_for_status()
    ids = read + _ids(batches)

    assert set(ids) == {100 + n for n in range(40)}
    # the moved deals come again at their new instant (the upsert keeps one row each); nothing else repeats
    assert sorted(ids) == sorted([100 + n for n in range(40)] + read[:5])


def test_resume_from_a_saved_position_reads_only_what_follows(hubspot_world) -> None:
    deals = [deal(100 + n, HOUR_MS + (n // 3) * 1000) for n in range(30)]  # triples share an instant
    hubspot_world(deals)
    hook = HubSpotHook()
    batches = modified_deal_batches(hook, PROPERTIES, END, initial_search_position(HOUR), batch_size=8, page_size=4)
    first = next(batches)

    resumed = list(modified_deal_batches(HubSpotHook(), PROPERTIES, END, first.position, batch_size=8, page_size=4))

    done = [deal.id for deal in first.deals]
    rest = _ids(resumed)
    assert sorted(done + rest) == [100 + n for n in range(30)]
    assert not set(done) & set(rest)
