"""The language-model rewrite guard: a rewrite is kept only when each figure it states is backed by a line of the
template about the same subject, with the same measure and period, and every warning survives word for word.

Tested on templates of hand-built briefings (the issue's counter-examples are the quiet day's: "1 won" -> "30 won",
"1 won" -> "4 won", "CAC $280" -> "CAC $52.50"), and over real HTTP against the sandbox's fake chat endpoint, whose
models make each kind of rewrite.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import requests

from pin2deal.briefing.pipeline import rewrite_or_keep
from pin2deal.briefing.rewrite import Figure, chat_answer, chat_request, judge, read_lines
from pin2deal.briefing.rules import render
from pin2deal.hooks.llm import ChatCompletionsHook
from sandbox.llm import REWRITES, changed_number, faithful, reworded
from tests.briefing.briefing_worlds import World
from tests.briefing.test_briefing_rules import SETTINGS, TOUCHES, fresh_health, quiet_facts

QUIET = render(quiet_facts(), SETTINGS, chart_name="2025-06-30.png")
# Stale spend (through 27 Jun), low epik coverage (3 of 10) and a high unresolved share (20 of 40): three warnings.
WARNED = render(
    quiet_facts(
        health=fresh_health(newest_spend_day=dt.date(2025, 6, 27), won_with_epik_28d=3, unresolved_leads_28d=20)
    ),
    SETTINGS,
    chart_name="2025-06-30.png",
)
# Only the coverage warnings: nothing is stale.
COVERAGE_WARNED = render(quiet_facts(health=fresh_health(won_with_epik_28d=3)), SETTINGS)
# The touch models disagree on Spring 2025 (5 won by first touch, 10 by last) and Summer Patio (4 and 0).
TOUCHED = render(quiet_facts(touches=TOUCHES), SETTINGS, chart_name="2025-06-30.png")


def figures(line: str, names: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    [read] = read_lines(line, names)
    return [(f.text, f.unit, f.measure) for f in read.figures]


def test_a_figure_is_a_number_with_its_unit_and_what_it_counts_or_a_date():
    line = "Pinterest campaign 'Spring 2025' - 12 leads, 3 won, CAC $280 (28-day: $1,310.50), ROAS 2.86, 38% lower"
    assert figures(line, ("Spring 2025",)) == [
        ("12", "", "leads"),
        ("3", "", "won"),
        ("$280", "$", "CAC"),
        ("$1,310.50", "$", "28-day CAC"),
        ("2.86", "", "ROAS"),
        ("38%", "%", "lower"),
    ]  # the 2025 of the name is no figure
    assert figures("Mon 30 Jun 2025: €45.00 spent, CHF 1,200 in spend, 2 won deals, 17:42 EDT") == [
        ("Mon 30 Jun 2025", "date", ""),
        ("17:42", "time", ""),
        ("€45.00", "€", "spend"),
        ("CHF 1,200", "CHF", "spend"),
        ("2", "", "won"),
    ]
    [span] = read_lines("28 May - 3 Jun 2025")[0].figures
    assert span.value == ((28, 5, 2025), (3, 6, 2025))
    assert Figure("date", ((30, 6, 2025),)).backs(Figure("date", ((30, 6, None),)))  # the year may be left out
    assert not Figure("date", ((30, 6, 2025),)).backs(Figure("date", ((30, 6, 2024),)))
    # a threshold is not the count it is a threshold of; an unknown measure keeps its neighbours
    assert figures("Best pin (at least 2 won deals in 28 days): CAC $150 (2 won deals)") == [
        ("2", "", "least won"),
        ("28", "", "days"),
        ("$150", "$", "CAC"),
        ("2", "", "won"),
    ]
    [(_, _, neighbours)] = figures("epik coverage: 9 of")
    assert neighbours == "~coverage|of"
    [line] = read_lines("- 'SPRING 2025' and Sofas - retargeting: 1 won", ("Spring 2025", "Sofas - retargeting"))
    assert line.subjects == {"spring 2025", "sofas - retargeting"}  # quoted or not, any case


@pytest.mark.parametrize(
    "template", [QUIET, WARNED, COVERAGE_WARNED, TOUCHED], ids=["quiet", "warned", "coverage-warned", "touched"]
)
def test_a_rewrite_that_reorders_and_rewords_without_changing_a_fact_is_kept(template):
    assert judge(template, template.markdown).accepted
    assert judge(template, faithful(template.markdown)).accepted
    rewrite = reworded(template.markdown)
    assert rewrite != faithful(template.markdown) and "$935 spent, 4 won, 15 leads" in rewrite
    assert judge(template, rewrite).accepted, judge(template, rewrite).reason


def test_shorter_and_hand_reworded_lines_are_kept():
    assert judge(QUIET, "## Campaigns, week 24-30 Jun 2025\n\n- Spring 2025: CAC $280, 3 deals won.").accepted
    assert judge(QUIET, "Week 24-30 Jun 2025: $935 spent for 4 won.\n\nBest: **Pin 1** (CAC $150).").accepted
    assert judge(QUIET, "Nothing moved this week.").accepted  # no figure, nothing to back


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("date-as-count", "states 30 (won): no line of the template naming 'Sofas - retargeting' states it"),
        ("count-from-another-line", "states 4 (won): no line of the template naming 'Sofas - retargeting' states it"),
        ("spend-as-cac", "states $52.50 (CAC): no line of the template naming 'Spring 2025' states it"),
        ("changed-number", "states $57.50 (spend): no line of the template naming no campaign, pin or channel"),
    ],
)
def test_a_number_cannot_take_another_measure_line_or_campaign(model, reason):
    rewrite = REWRITES[model](QUIET.markdown)
    assert rewrite != faithful(QUIET.markdown)
    verdict = judge(QUIET, rewrite)
    assert not verdict.accepted and reason in verdict.reason


def test_a_touch_model_count_keeps_its_model_and_campaign():
    """The counts of the touch-model line are bound to the model they are by and the campaign they are of."""
    [line] = read_lines(next(line for line in TOUCHED.sections[1][1] if "touch" in line), TOUCHED.names)
    assert [(f.text, f.measure) for f in line.figures] == [
        ("28", "days"),
        ("5", "won by first touch of @spring 2025"),
        ("10", "won by last touch of @spring 2025"),
        ("4", "won by first touch of @summer patio"),
        ("0", "won by last touch of @summer patio"),
    ]
    for model, reason in [
        ("swapped-touch-models", "states 10 (won by first touch of @spring 2025), 5 (won by last touch of @spring"),
        ("changed-touch-count", "states 6 (won by first touch of @spring 2025): no line of the template"),
        ("touch-counts-of-another-campaign", "states 4 (won by first touch of @spring 2025), 0 (won by last touch"),
    ]:
        rewrite = REWRITES[model](TOUCHED.markdown)
        assert rewrite != faithful(TOUCHED.markdown), model
        verdict = judge(TOUCHED, rewrite)
        assert not verdict.accepted and reason in verdict.reason, (model, verdict.reason)
    # the models' words swapped instead of their counts; a count without its model
    swapped = TOUCHED.markdown.replace("won by first touch", "won by FIRST").replace("won by last touch", "won by "
                                       "first touch").replace("won by FIRST", "won by last touch")  # fmt: skip
    assert not judge(TOUCHED, swapped).accepted
    assert not judge(TOUCHED, TOUCHED.markdown.replace("4 won by first touch vs", "4 won vs")).accepted


def test_each_number_keeps_its_subject_measure_and_period():
    def refused(rewrite: str) -> str:
        verdict = judge(QUIET, rewrite)
        assert not verdict.accepted, rewrite
        return verdict.reason

    week = "## Campaigns, week 24-30 Jun 2025\n\n"
    assert "states 3 (leads), 12 (won)" in refused(week + "- 'Spring 2025': 3 leads, 12 won.")  # swapped
    assert "$95.25 (CAC)" in refused(week + "- 'Spring 2025': CAC $95.25.")  # Sofas' CAC
    assert "$280 (CAC)" in refused("- CAC $280 for the week 24-30 Jun 2025.")  # Spring's CAC as the account's
    assert "$280 (CAC)" in refused(week + "- 'Spring 2025' and 'Pin 1': CAC $280.")  # Pin 1 is on no such line
    assert "$310 (CAC)" in refused(week + "- 'Spring 2025': CAC $310.")  # the 28-day CAC as the week's
    assert "$150 (spend)" in refused("Week 24-30 Jun 2025: spend $150.")
    # the week's 4 won as the day's: no date, or the day's
    assert refused("- 4 won today.") == "line 1 of the rewrite drops the period of its figures (24-30 Jun 2025)"
    assert "4 (won)" in refused("- Mon 30 Jun 2025: 4 won.")
    assert "30 Jun 2024" in refused("- Conversions API on 30 Jun 2024: 2 sent.")
    assert "€280 (CAC)" in refused(QUIET.markdown.replace("CAC $280", "CAC €280"))  # same value, other currency
    assert "12%" in refused(QUIET.markdown.replace("12 leads", "12 leads (12%)"))  # same value, new unit


def test_warnings_survive_word_for_word_and_stale_data_comes_first():
    stale, coverage, unresolved = WARNED.warnings
    assert stale.startswith("Pinterest spend is loaded only through Fri 27 Jun 2025")
    assert coverage.endswith("(30%) - low: conversions sent to Pinterest will match poorly.")
    assert unresolved.endswith("(50%) - high: check the campaign id URL macro and utm_campaign.")
    assert COVERAGE_WARNED.warnings == (coverage,)

    dropped = judge(WARNED, REWRITES["dropped-warning"](WARNED.markdown))
    assert dropped.reason == f"the rewrite drops or rewords a warning: {stale}"
    assert judge(COVERAGE_WARNED, REWRITES["dropped-warning"](COVERAGE_WARNED.markdown)).reason == (
        f"the rewrite drops or rewords a warning: {coverage}"
    )
    buried = judge(WARNED, REWRITES["buried-warning"](WARNED.markdown))
    assert buried.reason == f"the rewrite states figures before the stale-data warning: {stale}"
    shortened = WARNED.markdown.replace(", 3 days before this briefing's day", "")
    assert not judge(WARNED, shortened).accepted
    # Markdown emphasis, quotes and case aside
    bold = WARNED.markdown.replace(f"- {stale}", f"- **{stale.upper()}**")
    assert judge(WARNED, bold).accepted, judge(WARNED, bold).reason
    # only the title and the periods' line (as in the template) may come before the stale-data notes
    day_first = "- Mon 30 Jun 2025: spend $52.50, 3 leads, 0 won.\n" + WARNED.markdown
    assert not judge(WARNED, day_first).accepted


def test_numbers_in_words_and_empty_rewrites_are_refused():
    assert judge(QUIET, faithful(QUIET.markdown) + "\nTwelve campaigns.").reason == (
        "the rewrite writes numbers in words (twelve)"
    )
    assert not judge(QUIET, "  ").accepted and not judge(QUIET, None).accepted
    assert changed_number("spend $935, 4 won") == "Your Pinterest morning, in short.\n\nspend $940, 4 won"


@pytest.fixture
def llm_endpoint(sandbox_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The sandbox's fake chat endpoint behind connection ``llm_test``; returns a function selecting the model."""
    root = tmp_path / "world"
    World(dt.date(2025, 7, 1), [], []).dataset().save(root)
    server = sandbox_server(root, rate_limits=False)

    def use(model: str) -> str:
        connection = {
            "conn_type": "http",
            "host": f"{server.url}/_sandbox/llm",
            "password": "sk-test-secret",
            "extra": {"model": model},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LLM_TEST", json.dumps(connection))
        return server.url

    return use


def rewriter():
    hook = ChatCompletionsHook("llm_test")
    return lambda markdown: chat_answer(hook.complete(chat_request(markdown)))


def test_rewrite_over_http_is_kept_only_when_every_fact_and_warning_survives(llm_endpoint):
    url = llm_endpoint("faithful")
    markdown, verdict = rewrite_or_keep(QUIET, rewriter())
    assert verdict.accepted and markdown == faithful(QUIET.markdown)
    sent = requests.get(f"{url}/_sandbox/llm/requests", timeout=10).json()["requests"][-1]
    assert sent["model"] == "faithful" and sent["messages"][-1]["content"] == QUIET.markdown
    assert sent["temperature"] == 0 and "word for word" in sent["messages"][0]["content"]

    for template in (QUIET, WARNED):
        llm_endpoint("reworded")
        markdown, verdict = rewrite_or_keep(template, rewriter())
        assert verdict.accepted and markdown == reworded(template.markdown)

    llm_endpoint("faithful")
    markdown, verdict = rewrite_or_keep(TOUCHED, rewriter())
    assert verdict.accepted and markdown == faithful(TOUCHED.markdown)

    for template, model in [(QUIET, "date-as-count"), (QUIET, "count-from-another-line"), (QUIET, "spend-as-cac"),
                            (QUIET, "changed-number"), (WARNED, "dropped-warning"), (WARNED, "buried-warning"),
                            (COVERAGE_WARNED, "dropped-warning"), (TOUCHED, "swapped-touch-models"),
                            (TOUCHED, "changed-touch-count"),
                            (TOUCHED, "touch-counts-of-another-campaign")]:  # fmt: skip
        llm_endpoint(model)
        markdown, verdict = rewrite_or_keep(template, rewriter())
        assert markdown == template.markdown and not verdict.accepted, (model, verdict)

    llm_endpoint("no-such-model")
    markdown, verdict = rewrite_or_keep(QUIET, rewriter())
    assert markdown == QUIET.markdown and verdict.reason.startswith("the rewrite failed: AirflowFailException")
    assert "400" in verdict.reason and "sk-test-secret" not in verdict.reason
