"""Small HubSpot + Pinterest worlds for the briefing's end-to-end tests, with numbers simple enough to compute by hand.

A world is a list of ads (each spending a fixed amount per day over a range of days) and a list of deals (created
and maybe won on given days, tied to a campaign and ad by the ``{campaignid}``/``{adid}`` URL-macro properties, or to
another channel by ``utm_source``). Days are counted back from the world's last full day (``today - 1``), in the
ad account's time zone; deals are created at 11:00 and won at 12:00 local time, so a UTC timestamp never crosses a
day boundary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sandbox.dataset import Dataset
from tests.hubspot import deal_worlds

ACCOUNT_ID = "549755885175"
CUSTOM = deal_worlds.CUSTOM
DEAL_PROPERTIES = [*deal_worlds.DEAL_PROPERTIES, deal_worlds._property("hs_analytics_source", "enumeration")]


@dataclass(frozen=True)
class Ad:
    ad_id: str
    name: str
    campaign_id: str
    campaign_name: str
    daily_spend: str  # in the account's currency
    first_day: int = 60  # days before the last full day
    last_day: int = 0


@dataclass(frozen=True)
class Deal:
    deal_id: int
    created: int  # days before the last full day
    won: int | None = None
    ad: Ad | None = None  # Pinterest paid (an epik, the campaign and ad ids) when set
    utm_source: str | None = None  # another channel
    amount: str = "1000"
    currency: str = "USD"
    home_amount: str | None = None  # amount_in_home_currency; the amount when None
    modified: int | None = None  # days before the last full day of its last change; else its last event
    first_ad: Ad | None = None  # a first touch of its own: an earlier paid click on this ad


@dataclass
class World:
    today: dt.date  # the sandbox's clock: the last full day is today - 1
    ads: list[Ad]
    deals: list[Deal]
    currency: str = "USD"
    timezone: str = "America/New_York"
    spend_until: int = 0  # analytics stop this many days before the last full day (stale spend)
    extra: dict = field(default_factory=dict)

    @property
    def last_day(self) -> dt.date:
        return self.today - dt.timedelta(days=1)

    def day(self, days_back: int) -> dt.date:
        return self.last_day - dt.timedelta(days=days_back)

    def moment(self, days_back: int, hour: int) -> dt.datetime:
        local = dt.datetime.combine(self.day(days_back), dt.time(hour), ZoneInfo(self.timezone))
        return local.astimezone(dt.UTC)

    def dataset(self) -> Dataset:
        created = int(dt.datetime.combine(self.day(120), dt.time(), dt.UTC).timestamp())
        campaigns, ad_groups, ads, analytics = {}, {}, [], []
        for ad in self.ads:
            group_id = f"{ad.campaign_id}9"
            campaigns[ad.campaign_id] = _entity(ad.campaign_id, ad.campaign_name, created, type="campaign")
            ad_groups[group_id] = _entity(group_id, f"{ad.campaign_name} - group", created, campaign_id=ad.campaign_id)
            ads.append(
                _entity(
                    ad.ad_id, ad.name, created, campaign_id=ad.campaign_id, ad_group_id=group_id,
                    pin_id=f"9{ad.ad_id}", type="pinpromotion",
                )
            )  # fmt: skip
            for back in range(max(ad.last_day, self.spend_until), ad.first_day + 1):
                analytics.append(
                    {
                        "DATE": self.day(back).isoformat(), "AD_ID": ad.ad_id, "AD_GROUP_ID": group_id,
                        "CAMPAIGN_ID": ad.campaign_id, "SPEND_IN_MICRO_DOLLAR": int(Decimal(ad.daily_spend) * 10**6),
                        "PAID_IMPRESSION": 1000, "TOTAL_CLICKTHROUGH": 20, "TOTAL_CHECKOUT": 1,
                        "TOTAL_CLICK_CHECKOUT": 1, "TOTAL_VIEW_CHECKOUT": 0,
                    }
                )  # fmt: skip
        config = {
            **deal_worlds.CONFIG, "currency": self.currency, "timezone": self.timezone,
            "today": self.today.isoformat(), "ad_account_id": ACCOUNT_ID, **self.extra,
        }  # fmt: skip
        return Dataset(
            config=config,
            deals=[self._deal(deal) for deal in self.deals],
            pipelines=deal_worlds.PIPELINES,
            properties={"deals": DEAL_PROPERTIES, "contacts": deal_worlds.CONTACT_PROPERTIES},
            campaigns=list(campaigns.values()),
            ad_groups=list(ad_groups.values()),
            ads=ads,
            analytics=analytics,
        )

    def _deal(self, deal: Deal) -> dict:
        iso = deal_worlds.iso
        created = self.moment(deal.created, 11)
        won = self.moment(deal.won, 12) if deal.won is not None else None
        last = self.moment(deal.modified, 13) if deal.modified is not None else (won or created) + dt.timedelta(hours=2)
        props = {
            "dealname": f"Deal {deal.deal_id}", "amount": deal.amount, "deal_currency_code": deal.currency,
            "amount_in_home_currency": deal.home_amount or deal.amount, "pipeline": "default",
            "dealstage": "closedwon" if won else "qualified", "hs_is_closed_won": "true" if won else "false",
            "createdate": iso(created), "hs_lastmodifieddate": iso(last), "closedate": iso(won) if won else None,
            "hs_v2_date_entered_closedwon": iso(won) if won else None,
        }  # fmt: skip
        if deal.ad is not None:
            props[CUSTOM["epik"]] = f"dj0yJnU9{deal.deal_id}xyz"
            props[CUSTOM["pinterest_campaign_id"]] = deal.ad.campaign_id
            props[CUSTOM["pinterest_ad_id"]] = deal.ad.ad_id
            props[CUSTOM["utm_source"]] = "pinterest"
        elif deal.utm_source:
            props[CUSTOM["utm_source"]] = deal.utm_source
        if deal.first_ad is not None:
            props[CUSTOM["first_touch_epik"]] = f"dj0yJnU9{deal.deal_id}first"
            props[CUSTOM["first_touch_pinterest_campaign_id"]] = deal.first_ad.campaign_id
            props[CUSTOM["first_touch_pinterest_ad_id"]] = deal.first_ad.ad_id
            props[CUSTOM["first_touch_utm_source"]] = "pinterest"
        return {
            "id": str(deal.deal_id), "properties": props, "createdAt": iso(created), "updatedAt": iso(last),
            "archived": False, "associations": {"contacts": []},
        }  # fmt: skip


def _entity(entity_id: str, name: str, created: int, **fields) -> dict:
    return {
        "id": entity_id, "ad_account_id": ACCOUNT_ID, "name": name, "status": "ACTIVE", "created_time": created,
        "updated_time": created + 3600, **fields,
    }  # fmt: skip


def channel_spend_csv(path: Path, rows: list[tuple[str, str, dt.date, str, str]]) -> Path:
    """Other channels' spend as the reconcile reads it: channel, campaign, day, spend, currency."""
    lines = ["channel,campaign,day,spend,currency"] + [f"{c},{k},{d.isoformat()},{s},{cur}" for c, k, d, s, cur in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
