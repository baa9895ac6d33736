"""A small hand-computed world for the reconcile tests: one Pinterest ad account and a HubSpot portal whose deals
exercise every rule of docs/attribution.md. The expected figures in the tests are worked out by hand from the
tables below (docs/attribution.md walks through the same numbers)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sandbox.dataset import Dataset
from tests.hubspot.deal_worlds import CONTACT_PROPERTIES, CUSTOM, DEAL_PROPERTIES, PIPELINES, TOKEN, contact, iso

TODAY = dt.date(2025, 6, 30)
ACCOUNT_ID = "549755885175"
TIMEZONE = "America/New_York"
ADS_TOKEN = "pina-reconcile-tests"
CONFIG = {
    "hubspot_token": TOKEN, "pinterest_ads_token": ADS_TOKEN, "pinterest_conversions_token": "pinc-reconcile",
    "ad_account_id": ACCOUNT_ID, "currency": "USD", "timezone": TIMEZONE, "today": TODAY.isoformat(),
    "properties": CUSTOM,
}  # fmt: skip

C1, C2, C3, C4 = "626735560001", "626735560002", "626735560003", "626735560004"
G11, G21, G31, G41 = "268006010001", "268006020001", "268006030001", "268006040001"
A111, A112, A211, A311, A411 = "687195100001", "687195100002", "687195200001", "687195300001", "687195400001"
CAMPAIGNS = {  # id -> (name, status)
    C1: ("Spring Sofas", "ACTIVE"),
    C2: ("Summer Patio", "ACTIVE"),  # called "Patio Launch" before its rename
    C3: ("Old Archive", "ARCHIVED"),  # archived after it spent in May
    C4: ("No Deals", "ACTIVE"),  # spends in June, no deal: CAC NULL
}
OLD_C2_NAME = "Patio Launch"
AD_GROUPS = {G11: (C1, "Living Room"), G21: (C2, "Patio"), G31: (C3, "Archive"), G41: (C4, "Nothing")}
ADS = {  # id -> (ad group, name)
    A111: (G11, "Pin Velvet"), A112: (G11, "Pin Linen"), A211: (G21, "Pin Teak"), A311: (G31, "Pin Old"),
    A411: (G41, "Pin None"),
}  # fmt: skip
# (ad, first day, days, spend per day in dollars): one row per ad and day; 1 checkout (a click checkout) each day.
DELIVERY = [
    (A111, dt.date(2025, 5, 5), 5, 100), (A111, dt.date(2025, 6, 2), 5, 60), (A112, dt.date(2025, 6, 2), 5, 40),
    (A211, dt.date(2025, 5, 12), 5, 50), (A211, dt.date(2025, 6, 9), 5, 50), (A311, dt.date(2025, 5, 19), 5, 30),
    (A411, dt.date(2025, 6, 16), 5, 20),
]  # fmt: skip


def at(moment: str) -> str:
    """``moment`` as HubSpot writes it: a day alone is 15:00 UTC on it (11:00 in New York: the same account day); a
    time with its offset (``2026-10-31T23:30:00-07:00``) is that moment."""
    return iso(dt.datetime.fromisoformat(moment if "T" in moment else f"{moment}T15:00:00+00:00"))


def deal(deal_id: int, created: str, *, won: str | None = None, contacts: tuple[int, ...] = (), archived=False,
         modified: str = "2025-06-29", **props: Any) -> dict[str, Any]:  # fmt: skip
    """A USD deal of 1,000 created at ``created``, won at ``won`` when given, last changed at ``modified`` (moments
    as ``at`` reads them)."""
    properties = {
        "dealname": f"Deal {deal_id}", "amount": "1000", "deal_currency_code": "USD", "amount_in_home_currency": None,
        "pipeline": "default", "dealstage": "qualified", "hs_is_closed_won": "false", "createdate": at(created),
        "hs_lastmodifieddate": at(modified), "closedate": None,
    }  # fmt: skip
    if won:
        properties.update(dealstage="closedwon", hs_is_closed_won="true", closedate=at(won))
        properties["hs_v2_date_entered_closedwon"] = at(won)
    properties.update({CUSTOM.get(name, name): value for name, value in props.items()})
    properties = {name: value for name, value in properties.items() if value is not None}
    return {
        "id": str(deal_id), "properties": properties, "createdAt": at(created), "updatedAt": at(modified),
        "archived": archived, "associations": {"contacts": [str(contact) for contact in contacts]},
    }  # fmt: skip


def epik(deal_id: int) -> str:
    return f"dj0yJnU9{deal_id}.click"


def paid(deal_id: int, created: str, **props: Any) -> dict[str, Any]:
    return deal(deal_id, created, epik=epik(deal_id), utm_source="pinterest", **props)


def macros(campaign: str, ad_group: str, ad: str) -> dict[str, str]:
    return {"pinterest_campaign_id": campaign, "pinterest_ad_group_id": ad_group, "pinterest_ad_id": ad}


# D8 is merged into D9 during the test; D10 is won, re-opened and won again.
D1, D2, D3, D4, D5, D6, D7, D8, D9, D10, D11, D12, D13, D14, D15 = range(1001, 1016)
DEALS = [
    # a typo'd utm_campaign, but the campaign-id macros resolve it
    paid(D1, "2025-05-06", won="2025-05-20", utm_campaign="sprng sofas", **macros(C1, G11, A111)),
    # utm ids: campaign id in utm_campaign, ad id in utm_content; still open
    paid(D2, "2025-05-07", utm_campaign=C1, utm_content=A112),
    # name variants; lead in May, won in June; EUR deal with its home-currency amount
    paid(D3, "2025-05-08", won="2025-06-03", utm_campaign="SPRING-sofas", utm_content="pin_linen", amount="2000",
         deal_currency_code="EUR", amount_in_home_currency="2200"),  # fmt: skip
    # spaces in the name; a deal with two contacts counts once
    paid(D4, "2025-06-02", won="2025-06-04", utm_campaign="  spring   sofas ", amount="500", contacts=(5001, 5002)),
    # the old and the new name of the renamed campaign
    paid(D5, "2025-05-13", won="2025-05-27", utm_campaign="patio-launch", amount="800"),
    paid(D6, "2025-06-10", won="2025-06-12", utm_campaign="summer_patio", amount="1200"),
    # the archived campaign that spent
    paid(D7, "2025-05-20", won="2025-05-22", amount="300", **macros(C3, G31, A311)),
    # D8 (earliest lead) is merged into D9 during the test: D9 then carries D8's lead time
    paid(D8, "2025-05-05", utm_campaign="Spring Sofas"),
    paid(D9, "2025-06-05", won="2025-06-06", amount="400", **macros(C1, G11, A112)),
    # won in May, re-opened, won again in June (by the sandbox's mutations)
    paid(D10, "2025-05-14", won="2025-05-21", utm_campaign=C2, amount="600"),
    # Pinterest organic (no epik) resolved to C1 by name
    deal(D11, "2025-06-03", won="2025-06-05", utm_source="pinterest", utm_campaign="spring sofas", amount="100"),
    # another channel
    deal(D12, "2025-06-03", won="2025-06-10", utm_source="google", utm_campaign="brand_search_us", amount="700"),
    # archived: counts nowhere
    deal(D13, "2025-05-06", won="2025-05-08", archived=True, epik=epik(D13), **macros(C1, G11, A111)),
    # paid, campaign unresolved
    paid(D14, "2025-06-04", utm_campaign="mystery campaign"),
    # no source at all
    deal(D15, "2025-06-02"),
]
CONTACTS = [contact(5001), contact(5002)]

CHANNEL_SPEND_CSV = """channel,campaign,day,spend,currency
Google,brand_search_us,2025-06-03,350.00,USD
google,brand_search_us,2025-06-10,350.00,USD
google,brand_search_us,2025-06-31,abc,US
"""


def _entity(entity_id: str, name: str, status: str, **fields: Any) -> dict[str, Any]:
    """An entity as the v5 list endpoints return it, created on 1 Apr 2025 unless ``created_time`` says otherwise."""
    created = int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())
    return {"id": entity_id, "ad_account_id": ACCOUNT_ID, "name": name, "status": status, "created_time": created,
            "updated_time": fields.get("created_time", created) + 3600, **fields}  # fmt: skip


def world(*, c2_name: str = CAMPAIGNS[C2][0], currency: str = "USD") -> Dataset:
    """The world as the APIs serve it; ``c2_name`` is the renamed campaign's name at the time."""
    names = {**{cid: name for cid, (name, _) in CAMPAIGNS.items()}, C2: c2_name}
    return dataset(
        CAMPAIGNS, AD_GROUPS, ADS, DELIVERY, json.loads(json.dumps(DEALS)), config={**CONFIG, "currency": currency},
        names=names, contacts=CONTACTS,
    )  # fmt: skip


def dataset(campaigns: dict[str, tuple[str, str]], ad_groups: dict[str, tuple[str, str]],
            ads: dict[str, tuple[str, str]], delivery: list[tuple[str, dt.date, int, float]],
            deals: list[dict[str, Any]], *, config: dict[str, Any], names: dict[str, str] | None = None,
            created: dict[str, dt.datetime] | None = None, contacts: list[dict[str, Any]] = (),
            pipelines: dict[str, Any] = PIPELINES) -> Dataset:  # fmt: skip
    """A world of these campaigns (id -> (name, status)), ad groups (id -> (campaign, name)), ads (id -> (ad group,
    name)), delivery (ad, first day, days, spend per day: one checkout a day) and deals. ``names`` overrides a
    campaign's name, ``created`` an entity's creation time, ``pipelines`` the deal pipelines (the API's body)."""
    names, created = names or {}, created or {}

    def entity(entity_id: str, name: str, status: str, **fields: Any) -> dict[str, Any]:
        when = {"created_time": int(created[entity_id].timestamp())} if entity_id in created else {}
        return _entity(entity_id, name, status, **fields, **when)

    campaign_rows = [
        entity(cid, names.get(cid, name), status, type="campaign") for cid, (name, status) in campaigns.items()
    ]
    ad_group_rows = [entity(gid, name, campaigns[cid][1], campaign_id=cid) for gid, (cid, name) in ad_groups.items()]
    ad_rows, parents = [], {}
    for number, (ad_id, (gid, name)) in enumerate(ads.items(), start=1):
        cid = ad_groups[gid][0]
        parents[ad_id] = (gid, cid)
        ad_rows.append(entity(ad_id, name, campaigns[cid][1], campaign_id=cid, ad_group_id=gid,
                              pin_id=f"9{number:011d}", type="pinpromotion"))  # fmt: skip
    analytics = []
    for ad_id, first, days, dollars in delivery:
        gid, cid = parents[ad_id]
        for offset in range(days):
            analytics.append({
                "DATE": (first + dt.timedelta(days=offset)).isoformat(), "AD_ID": ad_id, "AD_GROUP_ID": gid,
                "CAMPAIGN_ID": cid, "SPEND_IN_MICRO_DOLLAR": int(dollars * 1_000_000), "PAID_IMPRESSION": 1000,
                "TOTAL_CLICKTHROUGH": 10, "TOTAL_CHECKOUT": 1, "TOTAL_CLICK_CHECKOUT": 1, "TOTAL_VIEW_CHECKOUT": 0,
            })  # fmt: skip
    return Dataset(
        config=config, deals=deals, contacts=list(contacts), pipelines=pipelines,
        properties={"deals": DEAL_PROPERTIES, "contacts": CONTACT_PROPERTIES}, campaigns=campaign_rows,
        ad_groups=ad_group_rows, ads=ad_rows, analytics=analytics,
    )  # fmt: skip
