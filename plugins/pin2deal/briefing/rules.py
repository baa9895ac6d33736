"""The daily briefing as pure rules: facts (numbers already read from the marts) -> Markdown text.

No I/O and no clock: the same facts always give the same text (``pin2deal.briefing.pipeline`` reads the facts,
``pin2deal.briefing.chart`` draws them). Every judgement in the text comes from one of the rules below, each driven by
a ``BriefingSettings`` threshold, so a sentence is only written when the numbers support it:

- stale data (spend not loaded through the briefing day, no deal change for ``stale_deal_hours``) is said first;
- a CAC move is reported when the week's CAC differs from the 4 weeks before by at least ``cac_move_threshold`` and
  both windows have at least ``cac_move_min_won`` won deals;
- Pinterest is called more (less) efficient than the other channels only when both sides have at least
  ``channel_min_won`` won deals in the week and the CACs differ by at least ``channel_margin``;
- the best and worst pin by CAC are chosen among pins with at least ``ad_min_won`` won deals in 28 days;
- campaigns that spent in the week without a single lead are listed;
- a match key (click id, email, phone) carried by fewer than ``min_key_coverage`` of the Conversions API events sent
  in the week gets one sentence of advice (``pin2deal.capi.quality.low_coverage``);
- a campaign younger than the account's typical time to close is "on track" or "behind" by its forecast CAC (open
  deals weighted by their stage's probability) against the account's 28-day CAC, within ``forecast_margin``; always
  named a forecast, never an actual CAC;
- every count is by last touch; one line names the campaigns whose 28-day won deals the two touch models credit
  materially differently (``touch_models_disagree``: by at least ``touch_min_won_difference`` won deals and by at
  least ``touch_margin`` of the larger count): one that opens journeys (more won by first touch) or closes them.

Money is never added or compared across currencies: spend is in the ad account's currency, revenue in the CRM's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pin2deal.capi.quality import SHOWN_KEYS, low_coverage

# Symbols written before the amount; any other currency is written as its ISO code ("CHF 12.00").
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class BriefingSettings:
    """The thresholds of the judgement rules (docs/briefing.md); DAG params override them per run."""

    cac_move_threshold: float = 0.25  # |week CAC / prior 4 weeks' CAC - 1| that counts as a move
    cac_move_min_won: int = 3  # won deals each window needs before its CAC is compared
    channel_min_won: int = 3  # won deals Pinterest and the other channels each need in the week to be judged
    channel_margin: float = 0.15  # relative CAC difference below which they are "about as efficient"
    ad_min_won: int = 2  # won deals (28 days) a pin needs to be ranked best or worst by CAC
    stale_spend_days: int = 0  # days the newest spend day may lag the briefing day before the data is stale
    stale_deal_hours: int = 48  # hours without any deal change (to the end of the briefing day) before stale
    min_epik_coverage: float = 0.5  # share of Pinterest-won deals carrying an epik below which health warns
    max_unresolved_share: float = 0.1  # share of Pinterest-paid leads without a campaign above which health warns
    min_key_coverage: float = 0.5  # share of the week's sent events carrying a shown match key below which it advises
    max_campaigns: int = 12  # campaign lines written (by the week's spend); the rest are counted
    forecast_margin: float = 0.1  # a young campaign's forecast CAC this much above the account's 28-day CAC: behind
    touch_min_won_difference: int = 2  # won deals (28 days) by which the touch models must differ on a campaign
    touch_margin: float = 0.5  # ... and that difference's least share of the larger of the two counts

    @classmethod
    def from_mapping(cls, values: dict | None) -> BriefingSettings:
        """Settings from a mapping (e.g. DAG params), ignoring keys that are not settings; values are coerced."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        chosen = {}
        for key, value in (values or {}).items():
            if key in fields and value is not None:
                default = getattr(cls, key)
                chosen[key] = type(default)(value)
        return cls(**chosen)


@dataclass(frozen=True)
class Window:
    """Spend and CRM outcomes of one entity over one window of account days."""

    spend: Decimal | None = None  # None: unknown (never loaded), not zero
    spend_currency: str | None = None
    leads: int = 0
    won: int = 0
    revenue: Decimal | None = None
    revenue_currency: str | None = None

    @property
    def cac(self) -> Decimal | None:
        """Spend / won; None without a won deal, and without spend: a deal won in a window that spent nothing was
        bought by earlier spend, and "CAC 0" would rank it best."""
        if not self.spend or not self.won:
            return None
        return self.spend / self.won

    @property
    def roas(self) -> Decimal | None:
        if not self.spend or not self.revenue or self.revenue_currency != self.spend_currency:
            return None  # no ROAS of a week without revenue: "0 won" says it already
        return self.revenue / self.spend

    @property
    def active(self) -> bool:
        return bool(self.spend) or self.leads > 0 or self.won > 0

    def __add__(self, other: Window) -> Window:
        """Sum of two windows of one currency (``None`` spend stays unknown only when both are)."""
        return Window(
            spend=_add(self.spend, other.spend),
            spend_currency=self.spend_currency or other.spend_currency,
            leads=self.leads + other.leads,
            won=self.won + other.won,
            revenue=_add(self.revenue, other.revenue),
            revenue_currency=self.revenue_currency or other.revenue_currency,
        )


@dataclass(frozen=True)
class EntityFacts:
    """A Pinterest account, campaign or ad (pin) over the briefing's windows."""

    entity_id: str
    name: str | None
    day: Window = Window()  # the briefing day
    week: Window = Window()  # the 7 days ending on the briefing day
    days28: Window = Window()  # the 28 days ending on the briefing day
    prior4w: Window = Window()  # the 28 days before the week
    median_days_to_close: float | None = None  # of the week's won deals
    parent_name: str | None = None  # an ad's campaign

    @property
    def label(self) -> str:
        return self.name or self.entity_id


@dataclass(frozen=True)
class CampaignForecast:
    """A campaign still in its cycle (spending for fewer days than the typical time to close), over its days so far:
    its leads won by now and its open leads weighted by their stage's probability (``mart.forecast_cac``)."""

    campaign_id: str
    name: str | None
    ad_account_id: str | None
    first_spend_day: dt.date
    spend: Decimal
    spend_currency: str | None
    won: int = 0  # of its leads, won by now
    open_deals: int = 0
    expected_wins: Decimal = Decimal(0)
    open_without_probability: int = 0  # open deals in a stage without a probability: no forecast
    forecast_cac: Decimal | None = None

    @property
    def label(self) -> str:
        return self.name or self.campaign_id


@dataclass(frozen=True)
class CampaignTouches:
    """A campaign's won deals in the 28 days under each touch model (mart.performance's ``model``)."""

    campaign_id: str
    name: str | None
    first_touch_won: int
    last_touch_won: int

    @property
    def label(self) -> str:
        return self.name or self.campaign_id


@dataclass(frozen=True)
class ChannelFacts:
    """One channel (``pinterest`` or another ``channel_name``) over the week; spend None when unknown."""

    channel: str
    week: Window


@dataclass(frozen=True)
class EventQuality:
    """Pinterest's Event Quality Score of our Conversions API events of one source platform, as last read."""

    source_platform: str  # OFFLINE, WEB, ...
    overall_status: str  # NEEDS_IMPROVEMENT, FAIR, GOOD
    lookback_period: str  # 1d, 14d
    read_day: dt.date


@dataclass(frozen=True)
class MatchKeys:
    """The match keys of the Conversions API events sent in the week (all event kinds), from the ledger."""

    events: int  # sent with their keys recorded
    unrecorded: int  # sent, recorded before the ledger kept match keys (migration 076): left out of the shares
    carrying: tuple[tuple[str, int], ...] = ()  # (user_data field of SHOWN_KEYS, events of ``events`` carrying it)


@dataclass(frozen=True)
class Health:
    won_pinterest_28d: int = 0  # won Pinterest deals (paid and organic) in the 28 days
    won_with_epik_28d: int = 0
    paid_leads_28d: int = 0  # Pinterest-paid leads in the 28 days
    unresolved_leads_28d: int = 0  # of them, not tied to any campaign
    unresolved_won_week: int = 0  # Pinterest-paid won deals of the week not tied to a campaign
    conversions: dict[str, int] | None = None  # ledger status -> events of the briefing day; None: no ledger
    event_quality: tuple[EventQuality, ...] = ()  # nothing read yet (or Pinterest rates none of our events): ()
    capi_warnings: tuple[tuple[str, int], ...] = ()  # Pinterest's warning message -> events of the week, most first
    match_keys: MatchKeys | None = None  # None: no ledger
    newest_spend_day: dt.date | None = None
    provisional_days: tuple[dt.date, ...] = ()  # spend days in the week Pinterest had not finalised
    newest_deal_change: dt.datetime | None = None  # in the account's time zone
    deals_loaded: int = 0


@dataclass(frozen=True)
class BriefingFacts:
    """Everything the briefing says, read for one briefing day (account days in ``timezone``)."""

    day: dt.date
    timezone: str
    accounts: tuple[EntityFacts, ...] = ()
    campaigns: tuple[EntityFacts, ...] = ()
    ads: tuple[EntityFacts, ...] = ()
    channels: tuple[ChannelFacts, ...] = ()
    health: Health = Health()
    typical_days_to_close: float | None = None  # median of the account's paid deals won in the 90 days
    forecasts: tuple[CampaignForecast, ...] = ()  # the campaigns younger than that
    touches: tuple[CampaignTouches, ...] = ()  # campaigns with won deals in the 28 days under either touch model
    # 8 weekly points (oldest first) per series, for the chart: week end day -> Window
    campaign_weeks: dict[str, tuple[Window, ...]] = field(default_factory=dict)
    channel_weeks: dict[str, tuple[Window, ...]] = field(default_factory=dict)

    @property
    def week_start(self) -> dt.date:
        return self.day - dt.timedelta(days=6)

    @property
    def days28_start(self) -> dt.date:
        return self.day - dt.timedelta(days=27)


@dataclass(frozen=True)
class Briefing:
    day: dt.date
    markdown: str
    stale: bool
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    warnings: tuple[str, ...] = ()  # lines a rewrite must keep word for word: the stale-data notes first
    names: tuple[str, ...] = ()  # the accounts, campaigns, pins and other channels the text may speak about


# ---------------------------------------------------------------------------------------------------------- formats
def money(amount: Decimal | None, currency: str | None) -> str:
    """``$280``, ``€45.50``, ``CHF 1,200``: whole units from 100 up, cents below, rounded half up."""
    if amount is None:
        return "unknown"
    value = Decimal(amount)
    places = Decimal(1) if abs(value) >= 100 else Decimal("0.01")
    text = f"{value.quantize(places, rounding=ROUND_HALF_UP):,}"
    symbol = CURRENCY_SYMBOLS.get(currency or "")
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{currency} {text}" if currency else text


def percent(ratio: float | Decimal) -> str:
    return f"{_round(Decimal(str(ratio)) * 100)}%"


def ratio2(value: Decimal) -> str:
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def day_name(day: dt.date) -> str:
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def span(first: dt.date, last: dt.date) -> str:
    """``24-30 Jun 2025``, ``28 May - 3 Jun 2025``, ``29 Dec 2025 - 4 Jan 2026``."""
    if first.year != last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} {first.year} - {last.day} {_MONTHS[last.month - 1]} {last.year}"
    if first.month != last.month:
        return f"{first.day} {_MONTHS[first.month - 1]} - {last.day} {_MONTHS[last.month - 1]} {last.year}"
    return f"{first.day}-{last.day} {_MONTHS[last.month - 1]} {last.year}"


def short_day(day: dt.date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def days_to_close(days: float) -> str:
    if days < 1:
        return "under a day"
    whole = _round(Decimal(str(days)))
    return "1 day" if whole == 1 else f"{whole} days"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def quoted(name: str) -> str:
    return "'" + name.replace("'", "\u2019") + "'"


# ------------------------------------------------------------------------------------------------------------ rules
def stale_notes(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    """Why the numbers cannot be trusted today, if they cannot; said before anything else."""
    notes = []
    health = facts.health
    if not facts.accounts:
        notes.append("No Pinterest ad account is loaded yet: run `pinterest_spend` before reading this briefing.")
    if health.newest_spend_day is None:
        notes.append("No Pinterest spend is loaded: every spend, CAC and ROAS below is missing.")
    else:
        lag = (facts.day - health.newest_spend_day).days
        if lag > settings.stale_spend_days:
            notes.append(
                f"Pinterest spend is loaded only through {day_name(health.newest_spend_day)}, "
                f"{plural(lag, 'day')} before this briefing's day: spend and CAC of the missing days are understated."
            )
    if health.newest_deal_change is None:
        notes.append("No HubSpot deals are loaded: leads, won deals and CAC below are missing.")
    else:
        day_end = dt.datetime.combine(facts.day + dt.timedelta(days=1), dt.time(), health.newest_deal_change.tzinfo)
        # Elapsed time, not wall-clock time: a day with a daylight saving change has 23 or 25 hours (and Python
        # subtracts two datetimes of one time zone by their wall clocks).
        hours = int((day_end.timestamp() - health.newest_deal_change.timestamp()) // 3600)
        if hours >= settings.stale_deal_hours:
            notes.append(
                f"The newest HubSpot deal change is from {_moment(health.newest_deal_change)}, {hours} hours before "
                f"the end of {short_day(facts.day)}: deal extraction may be behind, so leads and won deals may be "
                "missing."
            )
    return notes


def cac_moves(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    """CAC of the week vs the 4 weeks before, for the account and each campaign, beyond the threshold."""
    moves: list[tuple[tuple[Decimal, bool, str], str]] = []
    for kind, entity in [("Pinterest overall", a) for a in facts.accounts] + [("campaign", c) for c in facts.campaigns]:
        week, prior = entity.week, entity.prior4w
        if week.won < settings.cac_move_min_won or prior.won < settings.cac_move_min_won:
            continue
        if week.cac is None or prior.cac is None or not prior.cac or week.spend_currency != prior.spend_currency:
            continue
        change = week.cac / prior.cac - 1
        if abs(change) < Decimal(str(settings.cac_move_threshold)):
            continue
        who = "Pinterest overall" if kind != "campaign" else f"campaign {quoted(entity.label)}"
        direction = "rose" if change > 0 else "fell"
        moves.append(
            (
                (-abs(change), kind == "campaign", entity.label),
                f"CAC of {who} {direction} {percent(abs(change))} to {money(week.cac, week.spend_currency)} this week "
                f"({plural(week.won, 'won deal')}; the 4 weeks before: {money(prior.cac, prior.spend_currency)}, "
                f"{plural(prior.won, 'won deal')}).",
            )
        )
    return [line for _, line in sorted(moves)]


def idle_spenders(facts: BriefingFacts) -> list[str]:
    """Campaigns that spent in the week without a single lead."""
    idle = [c for c in facts.campaigns if c.week.spend and c.week.leads == 0]
    idle.sort(key=lambda c: (-c.week.spend, c.label))
    lines = []
    for c in idle:
        before = f"28 days: {plural(c.days28.leads, 'lead')}" if c.days28.leads else "no lead in 28 days either"
        lines.append(
            f"Campaign {quoted(c.label)} spent {money(c.week.spend, c.week.spend_currency)} this week with no leads "
            f"({before})."
        )
    return lines


def forecast_lines(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    """Campaigns younger than the typical time to close, judged by their forecast CAC against their account's 28-day
    CAC: "on track" within ``forecast_margin`` above it, else "behind"; each line says it is a forecast."""
    if facts.typical_days_to_close is None:
        return []
    typical = days_to_close(facts.typical_days_to_close)
    accounts = {a.entity_id: a for a in facts.accounts}
    lines = []
    for f in sorted(facts.forecasts, key=lambda f: (-f.spend, f.label)):
        young = (
            f"Campaign {quoted(f.label)}, spending since {short_day(f.first_spend_day)} (younger than the median "
            f"time to close, {typical})"
        )
        if f.open_without_probability:
            lines.append(
                f"{young}: no forecast CAC, {plural(f.open_without_probability, 'open deal')} "
                f"{'sits' if f.open_without_probability == 1 else 'sit'} in a stage without a probability in HubSpot."
            )
            continue
        if f.forecast_cac is None:
            lines.append(f"{young}: no forecast CAC yet, no won or open deal.")
            continue
        basis = (
            f"{f.won} won to date, {ratio2(f.expected_wins)} expected wins from "
            f"{plural(f.open_deals, 'open deal')}, spend {money(f.spend, f.spend_currency)}"
        )
        forecast = f"forecast CAC {money(f.forecast_cac, f.spend_currency)} ({basis})"
        account = accounts.get(f.ad_account_id or "") or (facts.accounts[0] if len(facts.accounts) == 1 else None)
        reference = account.days28 if account else Window()
        if reference.cac is None or reference.spend_currency != f.spend_currency:
            lines.append(
                f"{young}: {forecast}; no 28-day CAC of the account to judge it by. A forecast, not an actual CAC."
            )
            continue
        limit = reference.cac * (1 + Decimal(str(settings.forecast_margin)))
        verdict = "on track" if f.forecast_cac <= limit else "behind"
        lines.append(
            f"{young}: {verdict}, {forecast} against the account's 28-day CAC "
            f"{money(reference.cac, reference.spend_currency)}. A forecast, not an actual CAC."
        )
    return lines


def touch_models_disagree(touches: CampaignTouches, settings: BriefingSettings) -> bool:
    """The rule of "materially": the two models' 28-day won deals of the campaign differ by at least
    ``touch_min_won_difference`` deals and by at least ``touch_margin`` of the larger count."""
    difference = abs(touches.first_touch_won - touches.last_touch_won)
    larger = max(touches.first_touch_won, touches.last_touch_won)
    return (
        difference >= settings.touch_min_won_difference
        and Decimal(difference) >= Decimal(str(settings.touch_margin)) * larger
    )


def touch_model_line(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    """One line naming the campaigns the touch models disagree on (``touch_models_disagree``), the largest
    difference first: one whose journeys start with it (more won by first touch) opens journeys, one whose journeys
    end with it closes them. Nothing when none does."""
    disagree = [t for t in facts.touches if touch_models_disagree(t, settings)]
    if not disagree:
        return []
    disagree.sort(key=lambda t: (-abs(t.first_touch_won - t.last_touch_won), t.label))
    clauses = [
        f"{quoted(t.label)} {'opens' if t.first_touch_won > t.last_touch_won else 'closes'} journeys "
        f"({t.first_touch_won} won by first touch vs {t.last_touch_won} won by last touch)"
        for t in disagree
    ]
    return [f"Over 28 days, {'; '.join(clauses)}."]


def ranked_ads(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    """Best and worst pin by 28-day CAC among pins with enough won deals, per spend currency."""
    qualified = [a for a in facts.ads if a.days28.won >= settings.ad_min_won and a.days28.cac is not None]
    rule = f"at least {plural(settings.ad_min_won, 'won deal')} in 28 days"
    if not qualified:
        return [f"No pin with spend has {rule}: too few to name a best or worst pin by CAC."]
    lines = []
    for currency in sorted({a.days28.spend_currency or "" for a in qualified}):
        ads = sorted(
            (a for a in qualified if (a.days28.spend_currency or "") == currency),
            key=lambda a: (a.days28.cac, -a.days28.won, a.entity_id),
        )

        def describe(ad: EntityFacts, currency: str | None = currency or None) -> str:
            where = f" in {quoted(ad.parent_name)}" if ad.parent_name else ""
            return (
                f"{quoted(ad.label)}{where} - CAC {money(ad.days28.cac, currency)} "
                f"({plural(ad.days28.won, 'won deal')}, spend {money(ad.days28.spend, currency)})"
            )

        if len(ads) == 1:
            lines.append(f"Only one pin with spend has {rule}: {describe(ads[0])}.")
        else:
            lines.append(f"Best pin by CAC ({rule}): {describe(ads[0])}.")
            lines.append(f"Worst pin by CAC ({rule}): {describe(ads[-1])}.")
    return lines


def channel_judgement(pinterest: Window, others: Window, others_label: str, settings: BriefingSettings) -> str:
    """One sentence on Pinterest's CAC against the other channels', only as strong as the numbers allow."""
    need = settings.channel_min_won
    if pinterest.won < need or others.won < need or pinterest.cac is None or others.cac is None:
        return (
            f"Too few won deals this week to judge (Pinterest {pinterest.won}, {others_label} {others.won}; the rule "
            f"needs {need} each)."
        )
    p, o = pinterest.cac, others.cac
    pair = f"CAC {money(p, pinterest.spend_currency)} vs {money(o, others.spend_currency)}"
    margin = Decimal(str(settings.channel_margin))
    if p <= o * (1 - margin):
        volume = f", despite lower volume ({pinterest.won} vs {others.won} won)" if pinterest.won < others.won else ""
        return f"Pinterest is more efficient than {others_label} this week: {pair}, {percent(1 - p / o)} lower{volume}."
    if p >= o * (1 + margin):
        volume = f", despite higher volume ({pinterest.won} vs {others.won} won)" if pinterest.won > others.won else ""
        higher = percent(p / o - 1)
        return f"Pinterest is less efficient than {others_label} this week: {pair}, {higher} higher{volume}."
    return (
        f"Pinterest and {others_label} are about as efficient this week: {pair} "
        f"(within {percent(settings.channel_margin)})."
    )


# ---------------------------------------------------------------------------------------------------------- sections
def _summary(facts: BriefingFacts) -> list[str]:
    lines = []
    for account in facts.accounts:
        prefix = f"{quoted(account.label)}: " if len(facts.accounts) > 1 else ""
        d, w, m = account.day, account.week, account.days28
        lines.append(
            f"{prefix}{day_name(facts.day)}: spend {money(d.spend, d.spend_currency)}, {plural(d.leads, 'lead')}, "
            f"{d.won} won."
        )
        week = f"{prefix}Week {span(facts.week_start, facts.day)}: spend {money(w.spend, w.spend_currency)}, " + (
            f"{plural(w.leads, 'lead')}, {w.won} won"
        )
        if w.cac is not None:
            week += f", CAC {money(w.cac, w.spend_currency)}"
        else:
            week += ", no CAC"
        week += f" (28-day: {_cac_or_none(m)})"
        if w.roas is not None:
            week += f", ROAS {ratio2(w.roas)}"
        lines.append(week + ".")
        if w.revenue and w.revenue_currency and w.spend_currency and w.revenue_currency != w.spend_currency:
            lines.append(
                f"{prefix}ROAS is not computed: spend is in {w.spend_currency} and revenue in {w.revenue_currency} "
                f"(revenue {money(w.revenue, w.revenue_currency)} this week); the two are never converted."
            )
    return lines


def _campaign_lines(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    active = [c for c in facts.campaigns if c.week.active]
    active.sort(key=lambda c: (-(c.week.spend or 0), -c.week.won, -c.week.leads, c.label))
    if not active:
        return [
            "No Pinterest campaign spent or brought a lead this week.",
            *forecast_lines(facts, settings),
            *touch_model_line(facts, settings),
        ]
    lines = []
    for c in active[: settings.max_campaigns]:
        w = c.week
        line = f"Pinterest campaign {quoted(c.label)} - {plural(w.leads, 'lead')}, {w.won} won"
        if w.cac is not None:
            line += f", CAC {money(w.cac, w.spend_currency)}"
        elif w.won and w.spend is not None and not w.spend:
            line += ", no spend this week (won from earlier spend), no CAC"
        else:
            line += f", spend {money(w.spend, w.spend_currency)}, no CAC"
        line += f" (28-day: {_cac_or_none(c.days28)})"
        if w.roas is not None:
            line += f", ROAS {ratio2(w.roas)}"
        if c.median_days_to_close is not None:
            line += f", median time to close {days_to_close(c.median_days_to_close)}"
        lines.append(line + ".")
    if len(active) > settings.max_campaigns:
        rest = active[settings.max_campaigns :]
        lines.append(
            f"{plural(len(rest), 'more campaign')} with activity "
            f"({plural(sum(c.week.leads for c in rest), 'lead')}, {sum(c.week.won for c in rest)} won) not listed."
        )
    lines += forecast_lines(facts, settings)
    lines += touch_model_line(facts, settings)
    if not any(c.week.won for c in facts.campaigns) and not facts.health.unresolved_won_week:
        lines.append("No Pinterest-won deals this week.")
    if facts.health.unresolved_won_week:
        lines.append(
            f"{plural(facts.health.unresolved_won_week, 'Pinterest-paid won deal')} this week could not be tied to a "
            "campaign (counted in the totals, not in any line above)."
        )
    return lines


def _channel_lines(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    pinterest = next((c for c in facts.channels if c.channel == "pinterest"), None)
    others = sorted((c for c in facts.channels if c.channel != "pinterest" and c.week.active), key=lambda c: c.channel)
    if not others:
        return ["No other channel has deals or known spend this week: nothing to compare Pinterest with."]
    p = pinterest.week if pinterest else Window()
    lines = [f"Pinterest: spend {money(p.spend, p.spend_currency)}, {p.won} won, {_cac_phrase(p)}."]
    compared: list[ChannelFacts] = []
    unknown, other_currency = [], []
    for c in others:
        if c.week.spend is None:
            unknown.append(c)
        elif p.spend_currency and c.week.spend_currency != p.spend_currency:
            other_currency.append(c)
        else:
            compared.append(c)
            lines.append(
                f"{c.channel}: spend {money(c.week.spend, c.week.spend_currency)}, {c.week.won} won, "
                f"{_cac_phrase(c.week)}."
            )
    if unknown:
        lines.append(
            "Not compared, spend unknown: "
            + ", ".join(f"{c.channel} ({plural(c.week.leads, 'lead')}, {c.week.won} won)" for c in unknown)
            + "."
        )
    if other_currency:
        lines.append(
            f"Not compared, spend not in {p.spend_currency}: "
            + ", ".join(f"{c.channel} ({money(c.week.spend, c.week.spend_currency)})" for c in other_currency)
            + "."
        )
    if not compared:
        lines.append("No other channel's spend is known in Pinterest's currency this week: CAC not compared.")
        return lines
    combined = compared[0].week
    for c in compared[1:]:
        combined = combined + c.week
    names = ", ".join(c.channel for c in compared)
    label = compared[0].channel if len(compared) == 1 else f"the other channels ({names})"
    lines.append(channel_judgement(p, combined, label, settings))
    return lines


def _changes(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    lines = cac_moves(facts, settings) + idle_spenders(facts)
    if not lines:
        lines.append(
            f"No CAC moved by {percent(settings.cac_move_threshold)} or more against the 4 weeks before "
            f"(with at least {plural(settings.cac_move_min_won, 'won deal')} in each), and every campaign that spent "
            "brought leads."
        )
    return lines + ranked_ads(facts, settings)


def _coverage(facts: BriefingFacts, settings: BriefingSettings) -> list[tuple[str, bool]]:
    """The epik coverage and unresolved-campaign lines of Health, each with whether it warns."""
    h = facts.health
    lines = []
    if h.won_pinterest_28d:
        share = Decimal(h.won_with_epik_28d) / h.won_pinterest_28d
        low = share < Decimal(str(settings.min_epik_coverage))
        warn = " - low: conversions sent to Pinterest will match poorly" if low else ""
        lines.append(
            (
                f"epik coverage: {h.won_with_epik_28d} of {plural(h.won_pinterest_28d, 'Pinterest-won deal')} in 28 "
                f"days carry a Pinterest click id ({percent(share)}){warn}.",
                low,
            )
        )
    else:
        lines.append(("epik coverage: no Pinterest-won deals in 28 days to measure it on.", False))
    if h.paid_leads_28d:
        share = Decimal(h.unresolved_leads_28d) / h.paid_leads_28d
        high = share > Decimal(str(settings.max_unresolved_share))
        warn = " - high: check the campaign id URL macro and utm_campaign" if high else ""
        lines.append(
            (
                f"Unresolved campaign: {h.unresolved_leads_28d} of "
                f"{plural(h.paid_leads_28d, 'Pinterest-paid lead')} in 28 days ({percent(share)}){warn}.",
                high,
            )
        )
    else:
        lines.append(("Unresolved campaign: no Pinterest-paid leads in 28 days.", False))
    return lines


STATUS_WORDS = {"GOOD": "good", "FAIR": "fair", "NEEDS_IMPROVEMENT": "needs improvement"}
MAX_WARNING_MESSAGES = 3  # Pinterest's warning messages written (most frequent first); the rest are counted


def _match_quality(facts: BriefingFacts, settings: BriefingSettings) -> list[tuple[str, bool]]:
    """Pinterest's Event Quality Score lines (its rating only), the week's sent events' match keys (our own count: the
    one coverage figure the briefing gives), the advice for each low key (True: advice, kept by a rewrite), and the
    week's warnings by message. Nothing when nothing was read, sent or warned about."""
    h = facts.health
    lines: list[tuple[str, bool]] = [
        (
            f"Pinterest's Event Quality Score of our {quality.source_platform.lower()} Conversions API events "
            f"({'1 day' if quality.lookback_period == '1d' else '14 days'} to {short_day(quality.read_day)}): "
            f"{STATUS_WORDS.get(quality.overall_status, quality.overall_status)}.",
            False,
        )
        for quality in h.event_quality
    ]
    keys = h.match_keys
    if keys and (keys.events or keys.unrecorded):
        week = span(facts.week_start, facts.day)
        carrying = dict(keys.carrying)
        shares = {key: Decimal(carrying.get(key, 0)) / keys.events for key in SHOWN_KEYS} if keys.events else {}
        left_out = (
            f"{'; ' if keys.events else ''}{keys.unrecorded} sent before match keys were recorded, left out"
            if keys.unrecorded
            else ""
        )
        lines.append(
            (
                f"Match keys of the Conversions API events sent {week}: "
                + (f"{keys.events} sent; " if keys.events else "")
                + ", ".join(f"{SHOWN_KEYS[key].label} on {percent(share)}" for key, share in shares.items())
                + f"{left_out}.",
                False,
            )
        )
        for key, share in shares.items():
            advice = low_coverage(key, share, settings.min_key_coverage)
            if advice:
                lines.append(
                    (f"{SHOWN_KEYS[key].label} on {percent(share)} of the events sent {week} - low: {advice}.", True)
                )
    if h.capi_warnings:
        shown = h.capi_warnings[:MAX_WARNING_MESSAGES]
        more = len(h.capi_warnings) - len(shown)
        lines.append(
            (
                "Pinterest's warnings on the week's events: "
                + "; ".join(f'{plural(count, "event")}: "{message}"' for message, count in shown)
                + (f"; and {plural(more, 'more message')}." if more else "."),
                False,
            )
        )
    return lines


def _health(facts: BriefingFacts, settings: BriefingSettings) -> list[str]:
    h = facts.health
    lines = [line for line, _ in _coverage(facts, settings)]
    if h.conversions is None:
        lines.append("Conversions API: no conversions ledger yet (`pinterest_capi` has not run).")
    else:
        c = h.conversions
        other = {k: v for k, v in sorted(c.items()) if k not in ("sent", "failed", "skipped") and v}
        extra = "".join(f", {v} {k}" for k, v in other.items())
        lines.append(
            f"Conversions API on {short_day(facts.day)}: {c.get('sent', 0)} sent, {c.get('failed', 0)} failed, "
            f"{c.get('skipped', 0)} skipped{extra}."
        )
    lines += [line for line, _ in _match_quality(facts, settings)]
    spend = f"spend loaded through {day_name(h.newest_spend_day)}" if h.newest_spend_day else "no spend loaded"
    if h.provisional_days:
        days = ", ".join(short_day(d) for d in sorted(h.provisional_days))
        them = "it" if len(h.provisional_days) == 1 else "them"
        spend += f" ({days} provisional: Pinterest may still restate {them})"
    deals = f"newest deal change {_moment(h.newest_deal_change)}" if h.newest_deal_change else "no deals loaded"
    lines.append(f"Freshness: {spend}; {deals}.")
    return lines


def render(facts: BriefingFacts, settings: BriefingSettings | None = None, chart_name: str | None = None) -> Briefing:
    """The briefing's Markdown: stale-data warnings first, then the day and week, campaigns, channels, changes,
    health. No section is ever empty: each says so in words when it has nothing to list."""
    settings = settings or BriefingSettings()
    stale = stale_notes(facts, settings)
    sections: list[tuple[str, list[str]]] = []
    if stale:
        sections.append(("Stale data: read with care", stale))
    sections.append(("The day and the week", _summary(facts) or ["No Pinterest ad account loaded."]))
    week = span(facts.week_start, facts.day)
    sections.append((f"Pinterest campaigns, week {week}", _campaign_lines(facts, settings)))
    sections.append((f"Pinterest vs other channels, week {week}", _channel_lines(facts, settings)))
    sections.append(("What changed", _changes(facts, settings)))
    sections.append(("Health", _health(facts, settings)))
    header = [
        f"# Pinterest briefing for {day_name(facts.day)}",
        "",
        f"Account days in {facts.timezone}. Week: {span(facts.week_start, facts.day)}; 28 days: "
        f"{span(facts.days28_start, facts.day)}. Deals count by last touch (their latest click or UTMs). "
        "CAC = spend / deals won in the period, in the spend's currency.",
    ]
    body = list(header)
    for title, lines in sections:
        body += ["", f"## {title}", ""] + [f"- {line}" for line in lines]
    if chart_name:
        body += ["", f"![CAC per campaign and per channel, 8 weeks to {short_day(facts.day)}]({chart_name})"]
    return Briefing(
        day=facts.day,
        markdown="\n".join(body) + "\n",
        stale=bool(stale),
        sections=tuple((title, tuple(lines)) for title, lines in sections),
        warnings=tuple(
            stale
            + [line for line, warns in _coverage(facts, settings) if warns]
            + [line for line, advises in _match_quality(facts, settings) if advises]
        ),
        names=_names(facts),
    )


def markdown_to_slack(markdown: str) -> str:
    """The briefing's Markdown in Slack's mrkdwn: headings in bold, bullets as dots, the chart's image line dropped
    (an incoming webhook cannot upload files; the chart stays in ``ops.briefings`` and the briefing folder)."""
    out = []
    for line in markdown.splitlines():
        if line.startswith("#"):
            out.append(f"*{line.lstrip('#').strip()}*")
        elif line.startswith("- "):
            out.append(f"\u2022 {line[2:]}")
        elif line.startswith("!["):
            continue
        else:
            out.append(line)
    return "\n".join(out).strip() + "\n"


# ------------------------------------------------------------------------------------------------------------- utils
def _names(facts: BriefingFacts) -> tuple[str, ...]:
    """What the text names: accounts, campaigns, pins and channels but Pinterest (named on most lines, and the
    subject of the lines naming nobody)."""
    entities = (*facts.accounts, *facts.campaigns, *facts.ads)
    names = {e.label for e in entities} | {e.parent_name for e in facts.ads if e.parent_name}
    names |= {f.label for f in facts.forecasts}
    names |= {t.label for t in facts.touches}
    names |= {c.channel for c in facts.channels if c.channel.lower() != "pinterest"}
    return tuple(sorted(names))


def _add(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _cac_phrase(window: Window) -> str:
    return f"CAC {money(window.cac, window.spend_currency)}" if window.cac is not None else "no CAC"


def _cac_or_none(window: Window) -> str:
    if window.cac is not None:
        return money(window.cac, window.spend_currency)
    if window.spend is None:
        return "spend unknown"
    return "no won deals" if not window.won else "no spend"


def _moment(moment: dt.datetime) -> str:
    return f"{day_name(moment.date())} {moment:%H:%M %Z}".rstrip()
