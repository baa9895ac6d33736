"""The briefing's forecast line for campaigns still in their cycle: "on track" or "behind" by the forecast CAC against
the account's 28-day CAC, always said to be a forecast; and the rewrite guard, which passes the line and refuses a
rewrite that presents the forecast as an actual CAC or flips its judgement (by hand and through the sandbox's fake
model)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from pin2deal.briefing.pipeline import rewrite_or_keep
from pin2deal.briefing.rewrite import judge
from pin2deal.briefing.rules import CampaignForecast, forecast_lines, render
from sandbox.llm import REWRITES, faithful, reworded
from tests.briefing.test_briefing_rewrite import llm_endpoint, rewriter  # noqa: F401 (the fixture)
from tests.briefing.test_briefing_rules import SETTINGS, quiet_facts

ACCOUNT = "549755885175"
# The account's 28-day CAC is $290 (3,480 / 12); 10 % above it is $319.
RUGS = CampaignForecast("1004", "Rugs Test", ACCOUNT, dt.date(2025, 6, 20), Decimal(900), "USD", won=0, open_deals=4,
                        expected_wins=Decimal("1.5"), forecast_cac=Decimal(600))  # fmt: skip
PATIO = CampaignForecast("1003", "Patio Launch", ACCOUNT, dt.date(2025, 6, 12), Decimal(500), "USD", won=2,
                         open_deals=3, expected_wins=Decimal("1.2"), forecast_cac=Decimal("156.25"))  # fmt: skip
LAMPS = CampaignForecast("1005", "Lamps", ACCOUNT, dt.date(2025, 6, 25), Decimal(200), "USD", open_deals=2,
                         expected_wins=Decimal("0.2"), open_without_probability=1)  # fmt: skip
FORECAST_FACTS = quiet_facts(typical_days_to_close=41.4, forecasts=(PATIO, LAMPS, RUGS))
TEMPLATE = render(FORECAST_FACTS, SETTINGS, chart_name="2025-06-30.png")
YOUNG = "spending since {} (younger than the median time to close, 41 days)"
RUGS_LINE = (
    f"Campaign 'Rugs Test', {YOUNG.format('20 Jun')}: behind, forecast CAC $600 (0 won to date, 1.50 expected wins "
    "from 4 open deals, spend $900) against the account's 28-day CAC $290. A forecast, not an actual CAC."
)
PATIO_LINE = (
    f"Campaign 'Patio Launch', {YOUNG.format('12 Jun')}: on track, forecast CAC $156 (2 won to date, 1.20 expected "
    "wins from 3 open deals, spend $500) against the account's 28-day CAC $290. A forecast, not an actual CAC."
)
LAMPS_LINE = (
    f"Campaign 'Lamps', {YOUNG.format('25 Jun')}: no forecast CAC, 1 open deal sits in a stage without a probability "
    "in HubSpot."
)


def test_young_campaigns_are_on_track_or_behind_by_their_forecast_never_an_actual_cac():
    # By spend: Rugs ($600 > $319: behind), Patio ($156.25: on track), Lamps (a deal without a probability: none).
    assert forecast_lines(FORECAST_FACTS, SETTINGS) == [RUGS_LINE, PATIO_LINE, LAMPS_LINE]
    campaigns = dict(TEMPLATE.sections)["Pinterest campaigns, week 24-30 Jun 2025"]
    assert campaigns[-3:] == (RUGS_LINE, PATIO_LINE, LAMPS_LINE)
    assert {"Rugs Test", "Patio Launch", "Lamps"} <= set(TEMPLATE.names)


def test_the_judgement_at_the_margin_and_without_a_reference():
    at_margin = dataclasses.replace(RUGS, forecast_cac=Decimal(319))
    above = dataclasses.replace(RUGS, forecast_cac=Decimal("319.01"))
    [on_track, behind] = forecast_lines(quiet_facts(typical_days_to_close=41.4, forecasts=(at_margin, above)), SETTINGS)
    assert ": on track, forecast CAC $319 (" in on_track and ": behind, forecast CAC $319 (" in behind
    # No typical time to close (no paid deal won in 90 days): nothing is young, no line.
    assert forecast_lines(quiet_facts(forecasts=(PATIO,)), SETTINGS) == []
    # The account won nothing in 28 days: the forecast is given, not judged.
    account = dataclasses.replace(quiet_facts().accounts[0], days28=dataclasses.replace(
        quiet_facts().accounts[0].days28, won=0))  # fmt: skip
    [unjudged] = forecast_lines(
        quiet_facts(accounts=(account,), typical_days_to_close=41.4, forecasts=(PATIO,)), SETTINGS
    )
    assert unjudged.endswith(
        ": forecast CAC $156 (2 won to date, 1.20 expected wins from 3 open deals, spend $500); no 28-day CAC of "
        "the account to judge it by. A forecast, not an actual CAC."
    )
    assert "on track" not in unjudged and "behind" not in unjudged
    # Spend but nothing won or open (no lead yet): no forecast.
    [empty] = forecast_lines(
        quiet_facts(typical_days_to_close=41.4, forecasts=(dataclasses.replace(PATIO, won=0, open_deals=0,
                    expected_wins=Decimal(0), forecast_cac=None),)), SETTINGS)  # fmt: skip
    assert empty.endswith(": no forecast CAC yet, no won or open deal.")


def test_the_guard_passes_the_forecast_lines_and_refuses_a_forecast_presented_as_an_actual_cac():
    assert judge(TEMPLATE, TEMPLATE.markdown).accepted
    assert judge(TEMPLATE, faithful(TEMPLATE.markdown)).accepted
    assert judge(TEMPLATE, reworded(TEMPLATE.markdown)).accepted, judge(TEMPLATE, reworded(TEMPLATE.markdown)).reason
    as_cac = REWRITES["forecast-as-cac"](TEMPLATE.markdown)
    assert "behind, CAC $600 (0 won to date" in as_cac
    assert "states $600 (CAC): no line of the template naming 'Rugs Test' states it" in judge(TEMPLATE, as_cac).reason
    flipped = REWRITES["flipped-forecast"](TEMPLATE.markdown)
    assert "'Rugs Test', spending since 20 Jun (younger than the median time to close, 41 days): on track," in flipped
    assert "says 'on track': no line of the template naming 'Rugs Test' says it" in judge(TEMPLATE, flipped).reason
    # by hand: the forecast's figures keep their measure, and a judgement needs a template line saying it
    heading = "## Campaigns, week 24-30 Jun 2025\n\n"
    assert "$156 (CAC)" in judge(TEMPLATE, heading + "- 'Patio Launch': CAC $156.").reason
    assert "1.20 (won)" in judge(TEMPLATE, heading + "- 'Patio Launch': 1.20 won.").reason
    assert judge(TEMPLATE, heading + "- 'Patio Launch' (since 12 Jun): on track, forecast CAC $156.").accepted
    assert not judge(TEMPLATE, heading + "- 'Patio Launch' (since 12 Jun): behind, forecast CAC $156.").accepted
    assert not judge(TEMPLATE, heading + "- 'Lamps' is behind (since 25 Jun).").accepted


@pytest.mark.parametrize("model", ["forecast-as-cac", "flipped-forecast"])
def test_over_http_a_rewrite_turning_the_forecast_into_a_cac_is_refused(llm_endpoint, model):  # noqa: F811
    llm_endpoint("reworded")
    markdown, verdict = rewrite_or_keep(TEMPLATE, rewriter())
    assert verdict.accepted and markdown == reworded(TEMPLATE.markdown) and "forecast CAC $156" in markdown
    llm_endpoint(model)
    markdown, verdict = rewrite_or_keep(TEMPLATE, rewriter())
    assert markdown == TEMPLATE.markdown and not verdict.accepted, verdict
