"""Spoiled records in every world, so that the pipeline's handling of dirty CRM data is always exercised.

Deliberate bad records: ``bad_record_count(deals)`` = ``max(1, deals // BAD_RECORD_EVERY)`` of each kind below (fewer
only when a tiny world has too few candidates), each on a distinct non-archived record:

- ``amount_with_currency``: amount like "1,250.00 USD" (no amount_in_home_currency)
- ``amount_tbd``: amount "TBD" (no amount_in_home_currency)
- ``unknown_currency``: deal_currency_code "XYZ" (no amount_in_home_currency)
- ``won_without_closedate``: a won deal without closedate (its stage entry time is still there)
- ``epik_with_spaces``: epik with leading/trailing or one inner space
- ``epik_url_encoded``: epik whose "=" padding arrived URL-encoded as "%3D"
- ``phone_not_a_number``: a contact phone like "n/a" or "ask for Mike"
"""

from __future__ import annotations

import random

from sandbox.generate.crm import _P, _Crm
from sandbox.generate.knobs import BAD_RECORD_EVERY

GARBAGE_PHONES = ("n/a", "ask for Mike", "0", "tbd", "call after 5pm")


def bad_record_count(deals: int) -> int:
    """How many records of each deliberate-bad kind a world of ``deals`` deals holds (at most)."""
    return max(1, deals // BAD_RECORD_EVERY) if deals else 0


def _inject_bad_records(rng: random.Random, crm: _Crm, deals: int) -> None:
    """Spoil ``bad_record_count(deals)`` records of each kind, each on a different live record."""
    count = bad_record_count(deals)
    live = [i for i, deal in enumerate(crm.deals) if not deal["archived"]]
    used: set[int] = set()

    def choose(candidates: list[int]) -> list[int]:
        free = [i for i in candidates if i not in used]
        chosen = rng.sample(free, min(count, len(free)))
        used.update(chosen)
        return chosen

    def props(index: int) -> dict[str, str | None]:
        return crm.deals[index]["properties"]

    with_amount = [i for i in live if "amount" in props(i)]
    for i in choose(with_amount):
        amount = float(props(i)["amount"])
        props(i)["amount"] = f"{amount:,.2f} {props(i)['deal_currency_code']}"
        del props(i)["amount_in_home_currency"]
    for i in choose(with_amount):
        props(i)["amount"] = "TBD"
        del props(i)["amount_in_home_currency"]
    for i in choose(with_amount):
        props(i)["deal_currency_code"] = "XYZ"
        del props(i)["amount_in_home_currency"]
    live_set = set(live)
    for i in choose([i for i in crm.won if i in live_set]):
        del props(i)["closedate"]
    paid = [i for i in crm.paid if i in live_set]
    epik = _P["epik"]
    for i in choose(paid):
        value = props(i)[epik]
        cut = rng.randint(8, len(value) - 8)
        props(i)[epik] = rng.choice((f" {value}", f"{value} ", f"  {value} ", f"{value[:cut]} {value[cut:]}"))
    for i in choose([i for i in paid if props(i)[epik].endswith("=")]):
        props(i)[epik] = props(i)[epik].replace("=", "%3D")
    with_phone = [i for i, contact in enumerate(crm.contacts) if "phone" in contact["properties"]]
    for i in rng.sample(with_phone, min(count, len(with_phone))):
        crm.contacts[i]["properties"]["phone"] = rng.choice(GARBAGE_PHONES)
