"""The Pinterest ad account of the generated world, and the paid clicks its HubSpot deals come from.

Pinterest: ``clamp(deals // DEALS_PER_CAMPAIGN, MIN_CAMPAIGNS, MAX_CAMPAIGNS)`` campaigns of 2-4 ad groups of 2-4
ads. Two always-on campaigns deliver over the whole history, one campaign is ARCHIVED after a past flight (it
spent), the rest are seasonal: ACTIVE (RUNNING, COMPLETED or NOT_STARTED with no spend), PAUSED mid-flight or
ARCHIVED. ``analytics.jsonl`` has one row per ad per day of delivery within the last ``HISTORY_DAYS`` days up to
today-1 (account timezone), ``DAILY_AD_SPEND_RANGE`` ($5-$300) per ad per day; the mean is aimed at a paid CAC of
``TARGET_PAID_CAC`` within ``MEAN_DAILY_AD_SPEND_RANGE`` (small worlds overshoot it, which is fine).
Each ad has a tracking template (``AD_TRACKING_WEIGHTS``) that decides what its deals carry: ``macros`` (the
campaign/ad group/ad id properties, ``utm_campaign`` = exact name, ``utm_content`` = ad id), ``utm_id``
(``utm_campaign`` = campaign id), ``utm_name`` (``utm_campaign`` = the name with other case/space/-/_; resolvable
by DESIGN's rule; ``utm_content`` = ad group name on half of them), ``utm_typo`` (misspelt or stale name:
unresolvable) and ``none`` (no UTMs at all: the epik is the only Pinterest trace).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sandbox.generate.clock import _Clock
from sandbox.generate.config import SITE
from sandbox.generate.knobs import (
    AD_TRACKING_WEIGHTS,
    DAILY_AD_SPEND_RANGE,
    DEALS_PER_CAMPAIGN,
    HISTORY_DAYS,
    MAX_CAMPAIGNS,
    MEAN_DAILY_AD_SPEND_RANGE,
    MIN_CAMPAIGNS,
    PINTEREST_PAID_SHARE,
    TARGET_PAID_CAC,
    WON_SHARE,
)
from sandbox.generate.weighted import _Weighted

CAMPAIGN_THEMES = (
    "Prospecting",
    "Retargeting",
    "Catalog Sales",
    "Conversions",
    "Video Awareness",
    "Gift Guide",
    "New Arrivals",
    "Actalike 1%",
    "Consideration",
    "Clearance",
    "Outdoor Living",
    "Small Spaces",
)
AUDIENCES = (
    "Interests - Home Decor",
    "Keywords - Living Room",
    "Broad",
    "Actalike 1%",
    "Site Visitors 30d",
    "Catalog - Sofas",
    "Cart Abandoners 7d",
    "Women 25-44",
    "Video Viewers 50%",
)
CREATIVES = (
    ("Living room lifestyle", "REGULAR"),
    ("Sofa 360 video", "VIDEO"),
    ("Dining set carousel", "CAROUSEL"),
    ("Bedroom makeover", "REGULAR"),
    ("Outdoor lounge video", "VIDEO"),
    ("Shop the look", "COLLECTION"),
)
STALE_CAMPAIGN_NAMES = ("pinterest_sale", "pin-promo-old", "spring_sale_2023", "retargeting_v1", "Q3 promo")


def _normalised(name: str) -> str:
    """DESIGN's campaign-name match key: case-folded, runs of spaces, - and _ collapsed."""
    return " ".join(name.casefold().replace("-", " ").replace("_", " ").split())


@dataclass
class _Flight:
    """Days (window indexes) an entity may deliver: [start, stop); stop None = open-ended."""

    start: int
    stop: int | None

    def within(self, other: _Flight) -> _Flight:
        stops = [s for s in (self.stop, other.stop) if s is not None]
        return _Flight(max(self.start, other.start), min(stops) if stops else None)


@dataclass
class _Ad:
    record: dict[str, Any]
    campaign: dict[str, Any]
    ad_group: dict[str, Any]
    tracking: str
    utm_campaign: str | None = None
    utm_content: str | None = None


class _PinterestWorld:
    """Campaigns, ad groups, ads, daily analytics and a spend-weighted sampler of (day, ad) clicks."""

    def __init__(self, rng: random.Random, clock: _Clock, deals: int) -> None:
        self.rng, self.clock, self.deals = rng, clock, deals
        self.campaigns: list[dict[str, Any]] = []
        self.ad_groups: list[dict[str, Any]] = []
        self.ads: list[dict[str, Any]] = []
        self.analytics: list[dict[str, Any]] = []
        self.ad_plans: list[_Ad] = []
        self._tracking = _Weighted(AD_TRACKING_WEIGHTS)
        self.account_id = str(rng.randrange(549_755_000_000, 549_756_000_000))
        self._campaign_ids = itertools.count(rng.randrange(626_735_000_000, 626_736_000_000), 17)
        self._ad_group_ids = itertools.count(rng.randrange(2_680_059_000_000, 2_680_060_000_000), 23)
        self._ad_ids = itertools.count(rng.randrange(687_195_000_000, 687_196_000_000), 13)
        self._names: set[str] = set()
        flights: list[_Flight] = []
        count = min(MAX_CAMPAIGNS, max(MIN_CAMPAIGNS, self.deals // DEALS_PER_CAMPAIGN))
        for index in range(count):
            flights.extend(self._campaign(index))
        self._analytics(flights)

    # structure
    def _campaign(self, index: int) -> list[_Flight]:
        rng, last = self.rng, HISTORY_DAYS  # day index HISTORY_DAYS is today
        objective = "WEB_CONVERSION"
        if index < 2:
            name = ("Always-on - Prospecting", "Always-on | Retargeting")[index]
            start, stop, status, paused = -rng.randint(30, 200), None, "ACTIVE", None
        elif index == 2:
            start = last - rng.randint(230, 260)
            stop, status, paused = start + rng.randint(40, 70), "ARCHIVED", None
            name = self._campaign_name(start)
        else:
            start = last + 10 - int(rng.triangular(0, HISTORY_DAYS + 30, 0))  # more flights lately
            stop = start + rng.randint(20, 100)
            objective = rng.choice(("WEB_CONVERSION", "CONSIDERATION", "CATALOG_SALES", "AWARENESS"))
            name = self._campaign_name(start)
            paused = None
            roll = rng.random()
            if stop <= last:
                status = "ARCHIVED" if roll < 0.6 else "PAUSED" if roll < 0.75 else "ACTIVE"
            else:
                status = "PAUSED" if roll < 0.2 and start < last else "ACTIVE"
            if status == "PAUSED":
                paused = rng.randint(start + 1, min(stop, last))
        own = _Flight(start, paused if paused is not None else stop)
        summary = self._summary(status, start, stop)
        created = self.clock.local_ms(start) // 1000 - rng.randint(3600, 10 * 86400)
        changed = paused if paused is not None else stop if status == "ARCHIVED" else None
        campaign = {
            "id": str(next(self._campaign_ids)),
            "ad_account_id": self.account_id,
            "name": name,
            "status": status,
            "lifetime_spend_cap": None,
            "daily_spend_cap": None,
            "order_line_id": None,
            "tracking_urls": None,
            "start_time": self.clock.local_ms(start) // 1000,
            "end_time": self.clock.local_ms(stop) // 1000 if stop is not None else None,
            "summary_status": summary,
            "is_campaign_budget_optimization": False,
            "is_flexible_daily_budgets": False,
            "objective_type": objective,
            "created_time": created,
            "updated_time": self._updated(created, changed),
            "type": "campaign",
            "is_automated_campaign": False,
            "is_performance_plus": False,
        }
        self.campaigns.append(campaign)
        flights = []
        for audience in rng.sample(AUDIENCES, rng.randint(2, 4)):
            flights.extend(self._ad_group(campaign, own, f"{name} - {audience}"))
        return flights

    def _campaign_name(self, start: int) -> str:
        rng, date = self.rng, self.clock.date(start)
        season = {12: "Holiday", 11: "BFCM", 1: "Winter", 2: "Winter", 9: "Fall", 10: "Fall"}.get(date.month)
        season = season or ("Spring" if date.month <= 5 else "Summer")
        for attempt in itertools.count(1):
            theme = rng.choice(CAMPAIGN_THEMES)
            style = rng.random()
            if style < 0.7:
                name = f"{season} {date.year} - {theme}"
            elif style < 0.85:
                name = f"{season}_{date.year}_{theme.replace(' ', '_')}"
            else:
                name = f"{season} {date.year} {theme}"
            if attempt > 3:
                name = f"{name} {attempt}"
            key = _normalised(name).replace(" ", "")
            if key not in self._names:
                self._names.add(key)
                return name
        raise AssertionError("unreachable")

    def _ad_group(self, campaign: dict[str, Any], parent: _Flight, name: str) -> list[_Flight]:
        rng = self.rng
        start = parent.start + (rng.randint(10, 30) if rng.random() < 0.2 else rng.randint(0, 5))
        status, paused = self._child_status(campaign, start)
        own = _Flight(start, paused).within(parent)
        objective = campaign["objective_type"]
        created = self.clock.local_ms(start) // 1000 - rng.randint(600, 86400)
        ad_group = {
            "id": str(next(self._ad_group_ids)),
            "name": name,
            "campaign_id": campaign["id"],
            "ad_account_id": self.account_id,
            "status": status,
            "budget_in_micro_currency": None,  # set once its ads' spend is known
            "bid_in_micro_currency": None if objective == "WEB_CONVERSION" else rng.choice((800_000, 1_500_000)),
            "bid_strategy_type": "AUTOMATIC_BID" if objective == "WEB_CONVERSION" else "MAX_BID",
            "budget_type": "DAILY",
            "start_time": self.clock.local_ms(start) // 1000,
            "end_time": campaign["end_time"],
            "targeting_spec": {
                "AGE_BUCKET": sorted(rng.sample(["25-34", "35-44", "45-49", "50-54", "55-64"], 3)),
                "APPTYPE": ["android_mobile", "ipad", "iphone", "web", "web_mobile"],
                "GENDER": rng.choice((["female"], ["female", "male", "unknown"])),
                "GEO": ["US"] if rng.random() < 0.7 else ["US", "FR", "DE"],
                "LOCALE": ["en"] if rng.random() < 0.7 else ["en", "fr", "de"],
                "TARGETING_STRATEGY": ["CHOOSE_YOUR_OWN"],
            },
            "lifetime_frequency_cap": -1,
            "tracking_urls": None,
            "auto_targeting_enabled": True,
            "placement_group": "ALL",
            "pacing_delivery_type": "STANDARD",
            "conversion_learning_mode_type": "NOT_ACTIVE" if objective == "WEB_CONVERSION" else None,
            "summary_status": self._summary(status, start, parent.stop),
            "feed_profile_id": "0",
            "billable_event": "IMPRESSION" if objective in ("WEB_CONVERSION", "AWARENESS") else "CLICKTHROUGH",
            "optimization_goal_metadata": self._goal(objective),
            "is_creative_optimization": False,
            "promotion_id": None,
            "promotion_application_level": None,
            "targeting_template_ids": None,
            "bid_multiplier": None,
            "created_time": created,
            "updated_time": self._updated(created, paused),
            "type": "adgroup",
        }
        self.ad_groups.append(ad_group)
        flights = []
        for number in rng.sample(range(1, 10), rng.randint(2, 4)):
            flights.append(self._ad(campaign, ad_group, own, number))
        return flights

    def _ad(self, campaign: dict[str, Any], ad_group: dict[str, Any], parent: _Flight, number: int) -> _Flight:
        rng = self.rng
        start = parent.start + rng.randint(0, 10)
        status, paused = self._child_status(ad_group, start)
        rejected = status != "ARCHIVED" and rng.random() < 0.02
        own = _Flight(start, paused).within(parent)
        if rejected:
            own = _Flight(start, start)
        creative, creative_type = rng.choice(CREATIVES)
        ad_id = str(next(self._ad_ids))
        plan = _Ad({}, campaign, ad_group, self._tracking(rng))
        created = self.clock.local_ms(start) // 1000 - rng.randint(600, 86400)
        summary = "REJECTED" if rejected else "APPROVED" if status == "ACTIVE" else status  # ads' own enum
        plan.record = {
            "id": ad_id,
            "ad_group_id": ad_group["id"],
            "campaign_id": campaign["id"],
            "ad_account_id": self.account_id,
            "pin_id": str(rng.randrange(10**17, 10**18)),
            "name": f"Pin {number} - {creative}",
            "status": status,
            "creative_type": creative_type,
            "destination_url": self._destination(plan, ad_id),
            "click_tracking_url": None,
            "view_tracking_url": None,
            "android_deep_link": None,
            "ios_deep_link": None,
            "carousel_android_deep_links": None,
            "carousel_destination_urls": None,
            "carousel_ios_deep_links": None,
            "tracking_urls": None,
            "is_pin_deleted": False,
            "is_removable": False,
            "lead_form_id": None,
            "grid_click_type": "DIRECT_TO_DESTINATION",
            "customizable_cta_type": "SHOP_NOW" if creative_type != "VIDEO" else "LEARN_MORE",
            "disclosure_type": None,
            "collection_items_destination_url_template": None,
            "quiz_pin_data": None,
            "review_status": "REJECTED" if rejected else "APPROVED",
            "rejected_reasons": ["LANDING_PAGE_QUALITY"] if rejected else [],
            "rejection_labels": ["Landing page quality"] if rejected else [],
            "summary_status": summary,
            "type": "pinpromotion",
            "created_time": created,
            "updated_time": self._updated(created, paused),
        }
        self.ads.append(plan.record)
        self.ad_plans.append(plan)
        return own

    def _destination(self, plan: _Ad, ad_id: str) -> str:
        """The ad's landing URL; also fixes the UTMs every deal from this ad will carry."""
        rng, name = self.rng, plan.campaign["name"]
        path = f"{SITE}/{rng.choice(('sofas', 'dining', 'bedroom', 'outdoor', 'new'))}"
        if plan.tracking == "macros":
            plan.utm_campaign, plan.utm_content = name, ad_id
            return (
                f"{path}?utm_source=pinterest&utm_medium=paid&utm_campaign={{campaign_name}}&utm_content={{adid}}"
                "&pin_campaign_id={campaignid}&pin_ad_group_id={adgroupid}&pin_ad_id={adid}"
            )
        if plan.tracking == "utm_id":
            plan.utm_campaign, plan.utm_content = plan.campaign["id"], ad_id
            return f"{path}?utm_source=pinterest&utm_medium=cpc&utm_campaign={{campaignid}}&utm_content={{adid}}"
        if plan.tracking == "utm_name":
            plan.utm_campaign = _name_variant(rng, name)
            plan.utm_content = plan.ad_group["name"] if rng.random() < 0.5 else None
        elif plan.tracking == "utm_typo":
            plan.utm_campaign = _typo(rng, name)
        else:
            return path
        query = {"utm_source": "pinterest", "utm_medium": "paid_social", "utm_campaign": plan.utm_campaign}
        if plan.utm_content:
            query["utm_content"] = plan.utm_content
        return f"{path}?{urlencode(query, quote_via=quote)}"

    def _child_status(self, parent: dict[str, Any], start: int) -> tuple[str, int | None]:
        if parent["status"] == "ARCHIVED":
            return "ARCHIVED", None
        if self.rng.random() < 0.1 and start < HISTORY_DAYS - 1:
            return "PAUSED", self.rng.randint(start + 1, HISTORY_DAYS)
        return "ACTIVE", None

    @staticmethod
    def _summary(status: str, start: int, stop: int | None) -> str:
        if status != "ACTIVE":
            return status
        if start >= HISTORY_DAYS:
            return "NOT_STARTED"
        return "COMPLETED" if stop is not None and stop <= HISTORY_DAYS else "RUNNING"

    def _updated(self, created: int, changed_day: int | None) -> int:
        """Last update: the status change when there is one, else an edit some time after creation."""
        now = self.clock.now_ms // 1000
        if changed_day is not None:
            return min(max(created + 60, self.clock.local_ms(changed_day) // 1000 + 3600), now - 1)
        return min(created + self.rng.randint(60, 30 * 86400), now - 1)

    @staticmethod
    def _goal(objective: str) -> dict[str, Any] | None:
        if objective != "WEB_CONVERSION":
            return None
        return {
            "conversion_tag_v3_goal_metadata": {
                "attribution_windows": {"click_window_days": 30, "engagement_window_days": 30, "view_window_days": 1},
                "conversion_event": "CHECKOUT",
                "conversion_tag_id": "2614016393412",
                "cpa_goal_value_in_micro_currency": "25000000",
                "is_roas_optimized": False,
                "learning_mode_type": None,
            },
        }

    # delivery
    def _analytics(self, flights: list[_Flight]) -> None:
        """Daily rows for every ad and day it delivered (3% of flight days have no delivery), in DATE, AD_ID order."""
        rng, last = self.rng, HISTORY_DAYS - 1
        delivery: list[list[int]] = []
        for flight in flights:
            stop = last + 1 if flight.stop is None else min(flight.stop, last + 1)
            delivery.append([d for d in range(max(flight.start, 0), stop) if rng.random() >= 0.03])
        ad_days = sum(len(days) for days in delivery) or 1
        expected_paid_won = self.deals * PINTEREST_PAID_SHARE * 0.85 * WON_SHARE  # ~85% of cycles have ended
        low, high = DAILY_AD_SPEND_RANGE
        mean_low, mean_high = MEAN_DAILY_AD_SPEND_RANGE
        mean_daily = min(max(TARGET_PAID_CAC * expected_paid_won / ad_days, mean_low), mean_high)
        weekday_factor = (1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.2)
        month_factor = {11: 1.3, 12: 1.4, 1: 0.85}
        self._day_ads: list[list[int]] = [[] for _ in range(HISTORY_DAYS)]
        self._day_cum: list[list[int]] = [[] for _ in range(HISTORY_DAYS)]
        for index, (plan, days) in enumerate(zip(self.ad_plans, delivery, strict=True)):
            base = mean_daily * rng.lognormvariate(0, 0.6) / math.exp(0.18)
            cpm, ctr, cvr = rng.uniform(2.0, 8.0), rng.uniform(0.004, 0.015), rng.uniform(0.01, 0.03)
            peak = 0
            for day in days:
                date = self.clock.date(day)
                spend = base * weekday_factor[date.weekday()] * month_factor.get(date.month, 1.0)
                spend = min(max(spend * rng.uniform(0.7, 1.3), low), high)
                micros = int(spend * 1_000_000) + rng.randrange(1000)
                peak = max(peak, micros)
                self.analytics.append(self._row(rng, date, plan.record, micros, cpm, ctr, cvr))
                cum = self._day_cum[day]
                self._day_ads[day].append(index)
                cum.append((cum[-1] if cum else 0) + micros)
            budget = plan.ad_group["budget_in_micro_currency"] or 0
            plan.ad_group["budget_in_micro_currency"] = budget + (peak // 10_000_000 + 2) * 10_000_000
        self.analytics.sort(key=lambda row: (row["DATE"], row["AD_ID"]))
        self._days = [d for d in range(HISTORY_DAYS) if self._day_cum[d]]
        self._days_cum = list(itertools.accumulate(self._day_cum[d][-1] for d in self._days))

    @staticmethod
    def _row(
        rng: random.Random, date: dt.date, ad: dict[str, Any], micros: int, cpm: float, ctr: float, cvr: float
    ) -> dict[str, Any]:
        paid = int(micros / cpm / 1000)
        clicks = int(paid * ctr * rng.uniform(0.8, 1.2))
        click_checkout = int(clicks * cvr * rng.uniform(0.5, 1.5) + rng.random())
        view_checkout = int(paid * 0.00005 * rng.uniform(0, 2) + rng.random() * 0.5)
        engagement_checkout = int(rng.random() < 0.1)
        checkout = click_checkout + view_checkout + engagement_checkout
        return {
            "DATE": date.isoformat(),
            "AD_ID": ad["id"],
            "AD_GROUP_ID": ad["ad_group_id"],
            "CAMPAIGN_ID": ad["campaign_id"],
            "SPEND_IN_MICRO_DOLLAR": micros,
            "PAID_IMPRESSION": paid,
            "TOTAL_IMPRESSION": paid + int(paid * rng.uniform(0.02, 0.15)),
            "TOTAL_CLICKTHROUGH": clicks,
            "TOTAL_ENGAGEMENT": clicks + int(paid * rng.uniform(0.005, 0.02)),
            "TOTAL_CHECKOUT": checkout,
            "TOTAL_CLICK_CHECKOUT": click_checkout,
            "TOTAL_VIEW_CHECKOUT": view_checkout,
            "TOTAL_ENGAGEMENT_CHECKOUT": engagement_checkout,
            "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": checkout * rng.randrange(60_000_000, 400_000_000, 10_000),
        }

    def click(self, rng: random.Random) -> tuple[int, _Ad] | None:
        """A (day, ad) where a paid click happened, drawn by spend; None when nothing ever delivered."""
        if not self._days:
            return None
        day = self._days[bisect.bisect_right(self._days_cum, rng.randrange(self._days_cum[-1]))]
        cum = self._day_cum[day]
        ad = self._day_ads[day][bisect.bisect_right(cum, rng.randrange(cum[-1]))]
        return day, self.ad_plans[ad]


def _name_variant(rng: random.Random, name: str) -> str:
    """The campaign name retyped with other case and separators; same key under DESIGN's matching rule."""
    words = name.replace("-", " ").replace("_", " ").split()
    case = rng.choice((str.lower, str.upper, str.title, str))
    text = rng.choice((" ", "_", "-", " - ", "__", "  ")).join(case(word) for word in words)
    return text if text != name else "_".join(words).lower()


def _typo(rng: random.Random, name: str) -> str:
    """A misspelt or stale campaign name that matches no campaign."""
    if rng.random() < 0.3:
        return rng.choice(STALE_CAMPAIGN_NAMES)
    letters = [i for i, char in enumerate(name) if char.isalpha()]
    i = rng.choice(letters)
    return name[:i] + name[i + 1 :]  # a dropped letter: "Sprng 2025 - Prospecting"
