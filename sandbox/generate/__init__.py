"""Seeded synthetic world for the sandbox: a HubSpot portal and a Pinterest ad account that tell one story.

``generate(out_dir, deals=N, seed=S, today=D)`` writes the dataset directory of docs/design.md and returns it. The same
arguments always give byte-identical files (one ``random.Random`` stream per part, no set iteration, no clock).

The world is "Northwind Home", a furniture seller in USD with EU customers paying in EUR. Its parts: ``pinterest``
(campaigns, ad groups, ads, daily analytics), ``crm`` (HubSpot deals and contacts), ``bad_records`` (the deliberate
ones), ``portal`` (HubSpot pipelines and property definitions) and ``config``; ``knobs`` holds what they draw from.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from sandbox.dataset import Dataset
from sandbox.generate.bad_records import _inject_bad_records, bad_record_count
from sandbox.generate.clock import _Clock
from sandbox.generate.config import _config
from sandbox.generate.crm import _Crm
from sandbox.generate.knobs import (
    AD_TRACKING_WEIGHTS,
    ADDITIONAL_EMAIL_SHARE,
    ARCHIVED_DEAL_SHARE,
    BAD_RECORD_EVERY,
    BAD_RECORD_KINDS,
    CHANNEL_SPEND_FILE,
    CLICK_TO_LEAD_MAX_DAYS,
    CONSENT_WEIGHTS,
    COUNTRY_WEIGHTS,
    CYCLE_DAYS,
    DAILY_AD_SPEND_RANGE,
    DEAL_CONTACT_WEIGHTS,
    DEALS_PER_CAMPAIGN,
    EMAIL_MESSY_SHARE,
    EMAIL_MISSING_SHARE,
    EPOCH_MS_SHARE,
    EUR_TO_USD,
    HISTORY_DAYS,
    IP_UA_OTHER_SHARE,
    IP_UA_SHARE,
    LOST_SHARE,
    MAX_CAMPAIGNS,
    MEAN_DAILY_AD_SPEND_RANGE,
    MERGED_DEAL_SHARE,
    MIGRATED_BEFORE_DAYS,
    MIN_CAMPAIGNS,
    MOBILE_SHARE,
    OPEN_CLOSEDATE_SHARE,
    OTHER_CHANNEL_SPEND,
    OTHER_CHANNEL_WEIGHTS,
    PHONE_MISSING_SHARE,
    PINTEREST_ORGANIC_SHARE,
    PINTEREST_PAID_SHARE,
    REP_SET_CLOSEDATE_SHARE,
    TARGET_PAID_CAC,
    WHOLESALE_SHARE,
    WON_SHARE,
)
from sandbox.generate.pinterest import _PinterestWorld
from sandbox.generate.portal import _pipelines, _properties

__all__ = [
    "AD_TRACKING_WEIGHTS",
    "ADDITIONAL_EMAIL_SHARE",
    "ARCHIVED_DEAL_SHARE",
    "BAD_RECORD_EVERY",
    "BAD_RECORD_KINDS",
    "CHANNEL_SPEND_FILE",
    "CLICK_TO_LEAD_MAX_DAYS",
    "CONSENT_WEIGHTS",
    "COUNTRY_WEIGHTS",
    "CYCLE_DAYS",
    "DAILY_AD_SPEND_RANGE",
    "DEAL_CONTACT_WEIGHTS",
    "DEALS_PER_CAMPAIGN",
    "EMAIL_MESSY_SHARE",
    "EMAIL_MISSING_SHARE",
    "EPOCH_MS_SHARE",
    "EUR_TO_USD",
    "HISTORY_DAYS",
    "IP_UA_OTHER_SHARE",
    "IP_UA_SHARE",
    "LOST_SHARE",
    "MAX_CAMPAIGNS",
    "MEAN_DAILY_AD_SPEND_RANGE",
    "MERGED_DEAL_SHARE",
    "MIGRATED_BEFORE_DAYS",
    "MIN_CAMPAIGNS",
    "MOBILE_SHARE",
    "OPEN_CLOSEDATE_SHARE",
    "OTHER_CHANNEL_SPEND",
    "OTHER_CHANNEL_WEIGHTS",
    "PHONE_MISSING_SHARE",
    "PINTEREST_ORGANIC_SHARE",
    "PINTEREST_PAID_SHARE",
    "REP_SET_CLOSEDATE_SHARE",
    "TARGET_PAID_CAC",
    "WHOLESALE_SHARE",
    "WON_SHARE",
    "bad_record_count",
    "generate",
]


def generate(out_dir: Path, *, deals: int, seed: int, today: dt.date) -> Dataset:
    """Build the seeded world, save it to ``out_dir`` and return it."""
    if deals < 0:
        raise ValueError(f"deals must be >= 0, got {deals}")
    clock = _Clock(today)
    pinterest = _PinterestWorld(random.Random(f"{seed}/pinterest"), clock, deals)
    crm = _Crm(random.Random(f"{seed}/hubspot"), clock, pinterest)
    crm.build(deals)
    _inject_bad_records(random.Random(f"{seed}/bad"), crm, deals)
    dataset = Dataset(
        config=_config(random.Random(f"{seed}/config"), today, pinterest.account_id),
        deals=crm.deals,
        contacts=crm.contacts,
        pipelines=_pipelines(),
        properties=_properties(),
        campaigns=pinterest.campaigns,
        ad_groups=pinterest.ad_groups,
        ads=pinterest.ads,
        analytics=pinterest.analytics,
    )
    dataset.save(Path(out_dir))
    _write_channel_spend(Path(out_dir) / CHANNEL_SPEND_FILE, random.Random(f"{seed}/channel_spend"), clock)
    return dataset


def _write_channel_spend(path: Path, rng: random.Random, clock: _Clock) -> None:
    """Other channels' daily spend (USD) as the reconcile's CSV drop reads it, so the demo compares Pinterest's CAC
    with Google's and Meta's. Not part of the API world: the sandbox never serves it."""
    lines = ["channel,campaign,day,spend,currency"]
    for day in range(HISTORY_DAYS):
        for channel, campaign, low, high in OTHER_CHANNEL_SPEND:
            lines.append(f"{channel},{campaign},{clock.date(day).isoformat()},{rng.uniform(low, high):.2f},USD")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
