"""The briefing's chart: CAC per campaign over the trailing 8 weeks, and Pinterest vs the other channels.

``chart_series`` picks what is drawn (pure, tested); ``render_chart`` draws it with matplotlib's object API on the
Agg canvas (no display, no pyplot global state) and returns PNG and SVG bytes. Both files are reproducible: no
timestamps in their metadata and a fixed SVG id salt.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from pin2deal.briefing.rules import BriefingFacts, Window, short_day

MAX_CAMPAIGN_LINES = 8


@dataclass(frozen=True)
class ChartSeries:
    week_ends: tuple[dt.date, ...]  # oldest first
    currency: str | None
    campaigns: dict[str, tuple[float | None, ...]]  # label -> weekly CAC (None: no won deal that week)
    channels: dict[str, tuple[float | None, ...]]
    left_out: int  # campaigns with spend in the 8 weeks not drawn (beyond MAX_CAMPAIGN_LINES)


def chart_series(facts: BriefingFacts) -> ChartSeries:
    """The campaigns with the most spend over the 8 weeks (up to ``MAX_CAMPAIGN_LINES``) and every channel whose
    spend is known in the account's currency, as weekly CAC points."""
    week_ends = tuple(facts.day - dt.timedelta(days=7 * k) for k in range(7, -1, -1))
    currency = facts.accounts[0].week.spend_currency if facts.accounts else None

    def points(weeks: tuple[Window, ...]) -> tuple[float | None, ...]:
        return tuple(None if w.cac is None else float(w.cac) for w in weeks)

    def spend(weeks: tuple[Window, ...]) -> Decimal:
        return sum((w.spend or Decimal(0) for w in weeks), Decimal(0))

    spending = [
        (label, weeks)
        for label, weeks in facts.campaign_weeks.items()
        if spend(weeks) > 0 and all(w.spend_currency in (None, currency) for w in weeks)
    ]
    spending.sort(key=lambda item: (-spend(item[1]), item[0]))
    campaigns = {label: points(weeks) for label, weeks in spending[:MAX_CAMPAIGN_LINES]}
    channels = {
        name: points(weeks)
        for name, weeks in sorted(facts.channel_weeks.items(), key=lambda item: (item[0] != "pinterest", item[0]))
        if any(w.spend is not None for w in weeks) and all(w.spend_currency in (None, currency) for w in weeks)
    }
    return ChartSeries(week_ends, currency, campaigns, channels, max(0, len(spending) - MAX_CAMPAIGN_LINES))


def render_chart(facts: BriefingFacts) -> tuple[bytes, bytes]:
    """PNG and SVG bytes of the two panels."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = chart_series(facts)
    labels = [f"w/e {short_day(day)}" for day in series.week_ends]
    unit = f"CAC ({series.currency})" if series.currency else "CAC"
    with matplotlib.rc_context({"svg.hashsalt": "pin2deal-briefing", "font.size": 9}):
        figure = Figure(figsize=(10, 7.5), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        top, bottom = figure.subplots(2, 1)
        title = "Pinterest CAC per campaign, 7-day weeks (no point: no won deal that week)"
        if series.left_out:
            title += f"; top {MAX_CAMPAIGN_LINES} by spend, {series.left_out} more not drawn"
        _panel(
            top, labels, series.campaigns, title, unit, "No campaign has a won deal in these 8 weeks: no CAC to draw."
        )
        _panel(
            bottom,
            labels,
            series.channels,
            "CAC by channel (spend known), 7-day weeks",
            unit,
            "No channel with known spend has a won deal in these 8 weeks: no CAC to draw.",
        )
        figure.suptitle(f"8 weeks to {short_day(facts.day)} {facts.day.year} (account days, {facts.timezone})")
        png, svg = io.BytesIO(), io.BytesIO()
        figure.savefig(png, format="png", metadata={"Software": None})
        figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def _panel(axes, labels: list[str], lines: dict[str, tuple[float | None, ...]], title: str, unit: str, empty: str):
    axes.set_title(title, loc="left")
    axes.set_ylabel(unit)
    x = list(range(len(labels)))
    axes.set_xticks(x, labels)
    axes.set_xlim(-0.5, len(labels) - 0.5)  # every week shown, also those without a point
    axes.grid(axis="y", alpha=0.3)
    drawn = False
    for label, values in lines.items():
        y = [float("nan") if v is None else v for v in values]
        if all(v is None for v in values):
            continue
        axes.plot(x, y, marker="o", label=label)
        drawn = True
    if drawn:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        axes.set_ylim(bottom=0)
    else:
        axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)
