"""The reliability suite's world: one HubSpot portal and one Pinterest ad account that tell one story, small enough
to run the whole pipeline in seconds, with every expected outcome known from the dataset itself.

The portal definition (pipelines, properties, custom property names, tokens) and the Pinterest entities come from
``sandbox.generate`` (a zero-deal world); the deals are written here so that most of them are won within the
Conversions API's 7-day window (so conversions are actually sent), and Pinterest analytics are trimmed to the days
one ``pinterest_spend`` run with ``lookback_days`` reaches (so raw counts can be compared with the dataset's).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.dataset import Dataset
from sandbox.generate import generate

TODAY = dt.date(2025, 6, 30)  # the sandbox clock: the same results on any day
MIDNIGHT = dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.UTC)
ANALYTICS_DAYS = 30  # analytics rows on the days TODAY-ANALYTICS_DAYS-1 .. TODAY-2 (all final, all in reach)
LOOKBACK_DAYS = ANALYTICS_DAYS + 5
WON_STAGE = "closedwon"


def iso_ms(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class World:
    """A dataset under construction plus what the suite expects of it."""

    dataset: Dataset
    root: Path
    next_deal_id: int = 9_000_001
    next_contact_id: int = 4_000_001

    @property
    def props(self) -> dict[str, str]:
        return self.dataset.config["properties"]

    @property
    def ads(self) -> list[dict[str, Any]]:
        """Ads that delivered in the trimmed analytics (a deal's click points at one of them)."""
        delivering = {row["AD_ID"] for row in self.dataset.analytics}
        return [ad for ad in self.dataset.ads if ad["id"] in delivering]

    def add_contact(self, **props: Any) -> int:
        contact_id = self.next_contact_id
        self.next_contact_id += 1
        created = iso_ms(MIDNIGHT - dt.timedelta(days=40))
        properties = {
            "email": f"buyer.{contact_id}@northwind-customer.example",
            "phone": f"+1 415 555 {contact_id % 100:02d}{(contact_id // 100) % 100:02d}",
            "firstname": "Ann", "lastname": f"Buyer{contact_id}", "country": "United States",
            self.props["ads_consent"]: "granted", "createdate": created, "lastmodifieddate": created,
        }  # fmt: skip
        properties.update({self.props.get(name, name): value for name, value in props.items()})
        self.dataset.contacts.append(
            {"id": str(contact_id), "properties": properties, "createdAt": created, "updatedAt": created,
             "archived": False}
        )  # fmt: skip
        return contact_id

    def add_deal(
        self,
        *,
        won_days_ago: float | None = 2,
        paid: bool = True,
        contacts: int = 1,
        deal_id: int | None = None,
        **props: Any,
    ) -> int:
        """A deal (won ``won_days_ago`` before TODAY, or open when None) clicked from a delivering ad when
        ``paid``; ``props`` override properties by role or internal name (``None`` unsets)."""
        if deal_id is None:
            deal_id = self.next_deal_id
            self.next_deal_id += 1
        ad = self.ads[deal_id % len(self.ads)]
        created = MIDNIGHT - dt.timedelta(days=25, hours=deal_id % 7)
        won = MIDNIGHT - dt.timedelta(days=won_days_ago, hours=3) if won_days_ago is not None else None
        modified = (won or created) + dt.timedelta(hours=1)
        properties: dict[str, Any] = {
            "dealname": f"Sofa order {deal_id}", "amount": f"{1000 + deal_id % 900}.50",
            "deal_currency_code": "USD", "amount_in_home_currency": f"{1000 + deal_id % 900}.50",
            "pipeline": "default", "dealstage": WON_STAGE if won else "qualifiedtobuy",
            "hs_is_closed_won": "true" if won else "false", "createdate": iso_ms(created),
            "closedate": iso_ms(won) if won else None, "hs_lastmodifieddate": iso_ms(modified),
            f"hs_v2_date_entered_{WON_STAGE}": iso_ms(won) if won else None,
            "hs_analytics_source": "PAID_SOCIAL" if paid else "ORGANIC_SEARCH",
        }  # fmt: skip
        if paid:
            properties.update({
                self.props["epik"]: f"dj0yJnU9{uuid.UUID(int=deal_id).hex[:20]}", self.props["utm_source"]: "pinterest",
                self.props["utm_medium"]: "paid", self.props["pinterest_campaign_id"]: ad["campaign_id"],
                self.props["pinterest_ad_group_id"]: ad["ad_group_id"], self.props["pinterest_ad_id"]: ad["id"],
            })  # fmt: skip
        properties.update({self.props.get(name, name): value for name, value in props.items()})
        properties = {name: value for name, value in properties.items() if value is not None}
        linked = [str(self.add_contact()) for _ in range(contacts)]
        self.dataset.deals.append({
            "id": str(deal_id), "properties": properties, "createdAt": iso_ms(created),
            "updatedAt": iso_ms(modified), "archived": False, "associations": {"contacts": linked},
        })  # fmt: skip
        return deal_id

    def save(self) -> Path:
        self.dataset.save(self.root)
        return self.root


def new_world(root: Path, *, seed: int = 13) -> World:
    """An empty portal and a Pinterest account with ``ANALYTICS_DAYS`` days of delivery."""
    dataset = generate(root.with_name(root.name + "-base"), deals=0, seed=seed, today=TODAY)
    first, last = TODAY - dt.timedelta(days=ANALYTICS_DAYS + 1), TODAY - dt.timedelta(days=2)
    dataset.analytics = [
        row for row in dataset.analytics if first <= dt.date.fromisoformat(row["DATE"]) <= last
    ]
    dataset.deals, dataset.contacts = [], []
    return World(dataset=dataset, root=root)


def pipeline_world(root: Path, *, deals: int = 60, seed: int = 13) -> World:
    """The world of the fault scenarios: ``deals`` deals, three in four won in the last 6 days (sendable), the rest
    open, one in ten organic; one to two contacts each."""
    world = new_world(root, seed=seed)
    for n in range(deals):
        won = None if n % 4 == 3 else 0.5 + (n % 6)
        world.add_deal(won_days_ago=won, paid=n % 10 != 9, contacts=1 + (n % 5 == 0))
    return world
