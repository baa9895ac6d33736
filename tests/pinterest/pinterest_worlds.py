"""Small hand-made Pinterest worlds (dataset directories) whose expected sums are computed independently of the code."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sandbox.dataset import Dataset
from sandbox.pinterest.world import CONFIG_DEFAULTS

ACCOUNT_ID = "549755885175"
CURRENCY = "EUR"
TIMEZONE = "America/New_York"
# The sandbox's OAuth app and refresh token (sandbox.pinterest.world.CONFIG_DEFAULTS) as a connection extra.
OAUTH_EXTRA = {
    "refresh_token": CONFIG_DEFAULTS["pinterest_refresh_token"],
    "client_id": CONFIG_DEFAULTS["pinterest_client_id"],
    "client_secret": CONFIG_DEFAULTS["pinterest_client_secret"],
}
# Campaign statuses of the world: paused and archived campaigns delivered in the past and must keep their spend.
CAMPAIGN_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED")


def today_utc() -> dt.date:
    """The world's "today": the real UTC date, which is also the hook's clock (the sandbox sends no clock)."""
    return dt.datetime.now(dt.UTC).date()


def build_world(today: dt.date, *, history_days: int = 12, extra_rows: list[dict[str, Any]] | None = None) -> Dataset:
    """3 campaigns (ACTIVE, PAUSED, ARCHIVED) x 2 ad groups x 2 ads, plus an ARCHIVED ad in the active campaign.

    Every ad delivers on each of the ``history_days`` days up to today-1, with spend that differs per ad and day.
    """
    campaigns, ad_groups, ads, analytics = [], [], [], []
    created = int(dt.datetime.combine(today - dt.timedelta(days=history_days + 5), dt.time(), dt.UTC).timestamp())
    ad_number = 0
    for c, status in enumerate(CAMPAIGN_STATUSES, start=1):
        campaign_id = f"62673556{c:04d}"
        campaigns.append(_entity(campaign_id, f"Summer Sofas {c}", status, created, type="campaign"))
        for g in range(1, 3):
            ad_group_id = f"268006{c:02d}{g:04d}"
            ad_groups.append(_entity(ad_group_id, f"Sofas {c} - group {g}", status, created, campaign_id=campaign_id))
            for a in range(1, 3 + (c == 1 and g == 1)):
                ad_number += 1
                ad_status = "ARCHIVED" if (c == 1 and g == 1 and a == 3) else status
                ad_id = f"6871951{ad_number:05d}"
                ads.append(
                    _entity(
                        ad_id,
                        f"Pin {ad_number}",
                        ad_status,
                        created,
                        campaign_id=campaign_id,
                        ad_group_id=ad_group_id,
                        pin_id=f"9{ad_number:011d}",
                        type="pinpromotion",
                    )
                )
                for offset in range(1, history_days + 1):
                    day = today - dt.timedelta(days=offset)
                    analytics.append(metrics_row(ad_id, ad_group_id, campaign_id, day, ad_number, offset))
    config = {
        "hubspot_token": "pat-na1-test",
        "pinterest_ads_token": f"pina_test_{uuid.uuid4().hex}",  # a new token per world: refreshed ones don't leak
        "pinterest_conversions_token": "pina_test_conversions_token",
        "ad_account_id": ACCOUNT_ID,
        "currency": CURRENCY,
        "timezone": TIMEZONE,
        "today": today.isoformat(),
        "properties": {},
    }
    return Dataset(
        config=config,
        campaigns=campaigns,
        ad_groups=ad_groups,
        ads=ads,
        analytics=analytics + (extra_rows or []),
    )


def metrics_row(ad_id: str, ad_group_id: str, campaign_id: str, day: dt.date, ad_number: int, offset: int) -> dict:
    return {
        "DATE": day.isoformat(),
        "AD_ID": ad_id,
        "AD_GROUP_ID": ad_group_id,
        "CAMPAIGN_ID": campaign_id,
        "SPEND_IN_MICRO_DOLLAR": ad_number * 1_000_000 + offset * 12_345,
        "PAID_IMPRESSION": 1000 + ad_number * 10 + offset,
        "TOTAL_CLICKTHROUGH": 20 + ad_number + offset,
        "TOTAL_CHECKOUT": ad_number % 3,
        "TOTAL_CLICK_CHECKOUT": ad_number % 2,
        "TOTAL_VIEW_CHECKOUT": (ad_number % 3) - (ad_number % 2) if ad_number % 3 >= ad_number % 2 else 0,
    }


def _entity(entity_id: str, name: str, status: str, created: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "ad_account_id": ACCOUNT_ID,
        "name": name,
        "status": status,
        "created_time": created,
        "updated_time": created + 3600,
        **fields,
    }


def spend_by_campaign_day(dataset: Dataset, days: set[dt.date] | None = None) -> dict[tuple[str, dt.date], int]:
    """Expected SPEND_IN_MICRO_DOLLAR per (campaign, day), straight from the dataset's rows: the last row of an
    ad-day wins (as the sandbox reads them); a missing or negative spend counts for nothing."""
    effective = {(row["AD_ID"], row["DATE"]): row for row in dataset.analytics}
    sums: dict[tuple[str, dt.date], int] = defaultdict(int)
    for row in effective.values():
        day = dt.date.fromisoformat(row["DATE"])
        if days is None or day in days:
            sums[(row["CAMPAIGN_ID"], day)] += max(row.get("SPEND_IN_MICRO_DOLLAR", 0), 0)
    return dict(sums)
