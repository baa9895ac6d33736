"""HubSpot emulator search at scale: 200-deal pages of a last-modified window over 1,000,000 deals.

The budget (from the issue): a ``hs_lastmodifieddate`` GTE/LT-filtered, ascending-sorted search page of 200 deals
answers in under 20 ms with 1,000,000 deals loaded. The world is built in memory (no million-line file) as a
``Dataset`` and served by the real ``SandboxServer`` (so the state and its indexes come from the same code as
``python -m sandbox serve``); pages are timed over loopback HTTP with a keep-alive client, for one-day windows at
the start, middle and end of the year of data, every page of each window (``after`` = 0, 200, 400, ...).
Also timed: the same page through ``hubspot-api-client`` (adds the client's model deserialisation), the
update mutation that moves a deal in the index, a bulk-touch giving 50,000 deals one instant, and paging those
ties by id (``hs_object_id`` GT the last id seen, sorted by id) as the extraction hook does.

``python -m bench sandbox_search [--deals=N] [--repeat=N]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import hubspot
from hubspot.crm.deals import PublicObjectSearchRequest

from sandbox.dataset import Dataset
from sandbox.hubspot.wire import iso_ms
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

BUDGET_MS = 20.0
DAY_MS = 86_400_000
YEAR_START_MS = int(dt.datetime(2024, 7, 1, tzinfo=dt.UTC).timestamp() * 1000)
TOKEN = "pat-bench"
CONFIG = {
    "hubspot_token": TOKEN,
    "pinterest_ads_token": "pina-bench",
    "pinterest_conversions_token": "pinc-bench",
    "ad_account_id": "549755885175",
    "currency": "EUR",
    "timezone": "UTC",
    "today": "2025-06-30",
    "properties": {"epik": "pinterest_epik", "utm_source": "utm_source", "legacy_deal_id": "legacy_deal_id"},
}


def deals(count: int, seed: int) -> list[dict]:
    """``count`` deals modified at random instants over a year (about count/365 a day), created before that."""
    chooser = random.Random(seed)
    rows = []
    gc.disable()  # a million fresh dicts: the cyclic GC would rescan them over and over
    for number in range(1, count + 1):
        modified = YEAR_START_MS + chooser.randrange(365 * DAY_MS)
        created = modified - chooser.randrange(90 * DAY_MS)
        rows.append(
            {
                "id": str(10_000_000 + number),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(modified),
                "archived": False,
                "properties": {
                    "dealname": f"Deal {number}",
                    "amount": str(chooser.randrange(100, 20_000)),
                    "pipeline": "default",
                    "dealstage": "appointmentscheduled",
                    "createdate": iso_ms(created),
                    "hs_lastmodifieddate": iso_ms(modified),
                    "pinterest_epik": f"dj0yJnU9{number:08d}" if number % 3 == 0 else None,
                    "utm_source": "pinterest" if number % 2 else "google",
                },
            }
        )
    gc.enable()
    return rows


def search_body(low: int, high: int, after: int) -> dict:
    return {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(low)},
                    {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(high)},
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["amount", "dealstage", "pipeline", "pinterest_epik", "utm_source"],
        "limit": 200,
        "after": str(after),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(label: str, timings: list[float], budget: bool = True) -> None:
    median, p95 = statistics.median(timings), percentile(timings, 0.95)
    line = f"{label:<36} n={len(timings):<5} median {median:7.2f} ms  p95 {p95:7.2f} ms"
    if budget:
        line += f"  p95/budget {p95 / BUDGET_MS:5.2f} ({'within' if p95 < BUDGET_MS else 'OVER'} {BUDGET_MS:.0f} ms)"
    print(line)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_sandbox_search", description=__doc__)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="passes over every page of every window")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    dataset = Dataset(config=CONFIG, deals=deals(args.deals, args.seed))
    built = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        settings = SandboxSettings(data_dir=Path(scratch), seed=args.seed, rate_limits=False)
        server = SandboxServer(settings, dataset)
        loaded = time.perf_counter()
        print(
            f"{args.deals:,} deals: rows built in {built - started:.1f} s, state and indexes in {loaded - built:.1f} s"
        )
        with server, httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            every: list[float] = []
            for label, day in (("start", 0), ("middle", 182), ("end", 364)):
                low, high = YEAR_START_MS + day * DAY_MS, YEAR_START_MS + (day + 1) * DAY_MS
                timings, total = [], None
                for _ in range(args.repeat):
                    after = 0
                    while total is None or after < total:
                        begin = time.perf_counter()
                        answer = http.post("/crm/v3/objects/deals/search", json=search_body(low, high, after))
                        timings.append((time.perf_counter() - begin) * 1000)
                        page = answer.json()
                        assert answer.status_code == 200, answer.text
                        total = page["total"]
                        after += len(page["results"])
                    total = None
                every.extend(timings)
                report(f"window day {day} ({label}), 200/page", timings)
            report("all windows", every)

            client = hubspot.Client.create(access_token=TOKEN, host=server.url).crm.deals.search_api
            low = YEAR_START_MS + 182 * DAY_MS
            body = search_body(low, low + DAY_MS, 0)
            request = PublicObjectSearchRequest(
                filter_groups=body["filterGroups"], sorts=body["sorts"], properties=body["properties"], limit=200
            )
            client_timings = []
            for _ in range(20):
                begin = time.perf_counter()
                client.do_search(public_object_search_request=request)
                client_timings.append((time.perf_counter() - begin) * 1000)
            report("page via hubspot-api-client (models)", client_timings, budget=False)

            update_timings = []
            for number in range(1, 101):
                begin = time.perf_counter()
                http.post(
                    f"/_sandbox/hubspot/deals/{10_000_000 + number * 9_973}/update",
                    json={"properties": {"amount": "1"}},
                )
                update_timings.append((time.perf_counter() - begin) * 1000)
            median = statistics.median(update_timings)
            print(f"{'update mutation (moves the index)':<36} n=100   median {median:7.2f} ms")

            ties = min(50_000, args.deals // 2)
            begin = time.perf_counter()
            touch = {"count": ties, "modifiedAt": "1751284800000"}
            touched = http.post("/_sandbox/hubspot/deals/bulk-touch", json=touch)
            assert touched.status_code == 200, touched.text
            print(f"{f'bulk-touch of {ties:,} deals':<36} one call {time.perf_counter() - begin:7.2f} s")
            tie_timings, last, seen = [], 0, 0
            while True:  # through the ties by id, as the extraction hook does
                body = {
                    "filterGroups": [
                        {
                            "filters": [
                                {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": "1751284800000"},
                                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)},
                            ]
                        }
                    ],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "limit": 200,
                }
                begin = time.perf_counter()
                page = http.post("/crm/v3/objects/deals/search", json=body).json()["results"]
                tie_timings.append((time.perf_counter() - begin) * 1000)
                if not page:
                    break
                seen += len(page)
                last = int(page[-1]["id"])
            assert seen == ties, (seen, ties)
            report(f"{ties:,} ties paged by id, 200/page", tie_timings)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
