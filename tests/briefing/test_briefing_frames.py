"""Summing the marts' daily rows into the briefing's windows (pure: DataFrames in, facts out), and the briefing day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd

from pin2deal.briefing.pipeline import Frames, briefing_day, facts_from_frames
from pin2deal.briefing.rules import Window

DAY = dt.date(2025, 6, 30)
NY = ZoneInfo("America/New_York")
PERF_COLUMNS = [
    "grain", "grain_id", "ad_account_id", "campaign_id", "ad_id", "name", "day", "spend", "spend_currency", "leads",
    "won", "revenue", "revenue_currency",
]  # fmt: skip
CHANNEL_COLUMNS = ["channel_name", "day", "spend", "spend_currency", "leads", "won", "revenue", "revenue_currency"]
DEAL_COLUMNS = ["channel", "campaign_id", "campaign_resolved_by", "has_epik", "is_won", "lead_day", "won_day"]


def ago(days: int) -> dt.date:
    return DAY - dt.timedelta(days=days)


def perf(grain, grain_id, days_ago, spend, leads=0, won=0, revenue="0", name=None, campaign_id=None):
    return (
        grain, grain_id, "acc", campaign_id, grain_id if grain == "ad" else None, name, ago(days_ago),
        Decimal(spend), "EUR", leads, won, Decimal(revenue), "USD",
    )  # fmt: skip


def frames(performance=(), channels=(), deals=(), freshness=None, conversions=None, time_to_close=None) -> Frames:
    return Frames(
        accounts=pd.DataFrame([("acc", "Acme", "EUR", "America/New_York")], columns=[
            "ad_account_id", "name", "currency", "timezone"
        ]),
        performance=pd.DataFrame(list(performance), columns=PERF_COLUMNS),
        channels=pd.DataFrame(list(channels), columns=CHANNEL_COLUMNS),
        deals=pd.DataFrame(list(deals), columns=DEAL_COLUMNS),
        freshness=freshness or {"newest_spend_day": DAY, "provisional_days": [], "newest_deal_change": None,
                                "deals_loaded": 0},
        conversions=conversions,
        time_to_close=time_to_close or {},
    )  # fmt: skip


def test_windows_are_sums_of_daily_rows():
    rows = [
        perf("campaign", "c1", 0, "10", leads=1, name="Old name"),
        perf("campaign", "c1", 6, "20", won=1, revenue="100", name="Spring"),  # week's first day
        perf("campaign", "c1", 7, "40", won=1, name="Spring"),  # the 4 weeks before
        perf("campaign", "c1", 34, "80", leads=2, name="Spring"),  # first day of the 4 weeks before
        perf("campaign", "c1", 35, "160", name="Spring"),  # 8 weeks only (chart)
    ]
    facts = facts_from_frames(frames(rows), DAY, NY)
    (c1,) = facts.campaigns
    assert c1.name == "Old name"  # the newest day's name
    assert c1.day == Window(Decimal(10), "EUR", 1, 0, Decimal(0), "USD")
    assert c1.week == Window(Decimal(30), "EUR", 1, 1, Decimal(100), "USD")
    assert c1.days28 == Window(Decimal(70), "EUR", 1, 2, Decimal(100), "USD")
    assert c1.prior4w == Window(Decimal(120), "EUR", 2, 1, Decimal(0), "USD")
    weeks = facts.campaign_weeks["Old name"]
    assert [w.spend for w in weeks] == [Decimal(0)] * 2 + [Decimal(160), Decimal(80), Decimal(0), Decimal(0)] + [
        Decimal(40),
        Decimal(30),
    ]
    # the account exists with zero windows although it has no rows
    assert facts.accounts[0].week == Window(Decimal(0), "EUR", 0, 0, None, None)


def test_other_channel_spend_is_unknown_when_one_day_is_unknown_or_has_no_row():
    channels = [
        ("google", ago(1), Decimal(100), "EUR", 2, 1, Decimal(0), "USD"),
        ("google", ago(2), None, None, 1, 0, Decimal(0), "USD"),  # a deal, no CSV line
        # bing has a CSV line on one day of the week only: the six days without a row are unknown, not zero
        ("bing", ago(1), Decimal(50), "EUR", 0, 1, Decimal(0), "USD"),
        *(("meta", ago(back), Decimal(10), "EUR", 0, int(back == 3), Decimal(0), "USD") for back in range(7)),
        ("pinterest", ago(3), Decimal(70), "EUR", 1, 1, Decimal(0), "USD"),
    ]
    facts = facts_from_frames(frames(channels=channels), DAY, NY)
    by_name = {c.channel: c.week for c in facts.channels}
    assert by_name["google"].spend is None and by_name["google"].leads == 3
    assert by_name["bing"].spend is None and by_name["bing"].cac is None and by_name["bing"].won == 1
    assert by_name["meta"].spend == Decimal(70) and by_name["meta"].cac == Decimal(70)  # every day has a line
    assert by_name["pinterest"].spend == Decimal(70)  # Pinterest: a day without a row spent nothing


def test_health_counts_from_deals():
    deals = [
        ("pinterest_paid", "c1", "macro_id", True, True, ago(20), ago(2)),
        ("pinterest_paid", "c1", "utm_name", True, True, ago(10), ago(3)),
        ("pinterest_paid", None, "unresolved", True, True, ago(10), ago(1)),
        ("pinterest_organic", None, None, False, True, ago(40), ago(5)),
        ("pinterest_paid", None, "unresolved", True, False, ago(4), None),
        ("pinterest_paid", "c1", "macro_id", True, False, ago(30), None),  # lead before the 28 days
    ]
    rows = [perf("campaign", "c1", 2, "30", won=1, name="Spring")]
    facts = facts_from_frames(frames(rows, deals=deals, time_to_close={"c1": 12.5}), DAY, NY)
    h = facts.health
    assert (h.won_pinterest_28d, h.won_with_epik_28d) == (4, 3)
    assert (h.paid_leads_28d, h.unresolved_leads_28d, h.unresolved_won_week) == (4, 2, 1)
    assert facts.campaigns[0].median_days_to_close == 12.5  # as read from the time-to-close rule


def test_briefing_day_is_the_last_account_day_ended_at_the_moment():
    seven_utc = dt.datetime(2025, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert briefing_day(seven_utc, seven_utc, NY) == DAY  # 03:00 in New York: 30 Jun has ended
    assert briefing_day(None, seven_utc, ZoneInfo("Asia/Tokyo")) == DAY
    assert briefing_day(seven_utc, seven_utc, ZoneInfo("Pacific/Honolulu")) == ago(1)  # 21:00 on 30 Jun there
    # no logical date: the moment the run was created
    assert briefing_day(None, dt.datetime(2025, 7, 1, 3, 59, tzinfo=dt.UTC), NY) == ago(1)
