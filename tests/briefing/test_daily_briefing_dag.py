"""The whole chain on hand-computed sandbox worlds, every DAG run for real: hubspot_deals -> pinterest_spend ->
attribution_reconcile -> daily_briefing; whole briefings are compared with golden files (read by eye).

The worlds' last full day is Mon 30 Jun 2025 (the sandbox's clock is 1 Jul), in America/New_York. The numbers each
golden file must show are worked out in the world's docstring.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from pin2deal.briefing.rules import markdown_to_slack
from sandbox.llm import REWRITES
from tests.briefing.briefing_worlds import Ad, Deal, World, channel_spend_csv
from tests.briefing.golden_files import assert_golden

TODAY = dt.date(2025, 7, 1)
MORNING = dt.datetime(2025, 7, 1, 7, 0, tzinfo=dt.UTC)  # the scheduled run that briefs 30 Jun
SPRING_1 = Ad("687195100001", "Spring pin 1", "626735560001", "Spring 2025", "20")
SPRING_2 = Ad("687195100002", "Spring pin 2", "626735560001", "Spring 2025", "10")
SOFA = Ad("687195100003", "Sofa pin", "626735560002", "Sofas - retargeting", "6")
AUTUMN = Ad("687195100004", "Autumn pin", "626735560003", "Autumn test", "15")
SUMMER = Ad("687195100005", "Patio pin", "626735560004", "Summer Patio", "10")


def quiet_world() -> World:
    """Spring 2025 spends $30/day (pins $20 + $10), Sofas $6/day, for 61 days: account $36/day; the sandbox still
    reports the last 2 days as provisional, at 80% ($28.80 on each): the week's spend is 5 x $36 + 2 x $28.80 =
    $237.60, Spring's $198, Sofas' $39.60; over 28 days $993.60, $828 and $165.60.

    Spring wins a deal (created 10 days earlier) on days 1, 3, 5 back (pins 1, 2, 1) and on every odd day 7..29
    back (alternately pin 1 and pin 2): week 3 won, CAC $198 / 3 = $66.00; 28 days 3 + 11 = 14 won, CAC $828 / 14
    = $59.14; the 4 weeks before 12 won, CAC $840 / 12 = $70.00: -6%, no move. Open Spring leads on days 0, 2, 4, 6
    back. Sofas wins on days 2 and 16 back: week 1 won, CAC $39.60; 28 days 2 won, CAC $82.80. The account: week
    4 won, CAC $59.40 (the 4 weeks before: 13 won, $1,008, $77.54: -23%, below the 25% threshold).
    Pins over 28 days: pin 1 won on days 1, 5, 7, 11, ..., 27 = 8 won, CAC $552 / 8 = $69.00; pin 2 on 3, 9, ..., 25
    = 6 won, CAC $276 / 6 = $46.00 (best); Sofa pin 2 won, CAC $82.80 (worst). Every won deal has an epik (16 of
    16), none of the 16 Pinterest-paid leads of the 28 days is unresolved, no other channel has deals or spend.
    Three days later (3 Jul) nothing new has arrived: spend stops at 30 Jun, the last deal change is 30 Jun 13:00.
    """
    spring_wins = [(1, SPRING_1), (3, SPRING_2), (5, SPRING_1)] + [
        (back, SPRING_1 if n % 2 == 0 else SPRING_2) for n, back in enumerate(range(7, 30, 2))
    ]
    deals = [Deal(1000 + n, won + 10, won, ad) for n, (won, ad) in enumerate(spring_wins)]
    deals += [Deal(2000 + back, back, None, SPRING_1) for back in (0, 2, 4, 6)]
    deals += [Deal(3000 + back, back + 10, back, SOFA) for back in (2, 16)]
    deals += [Deal(3100, 0, None, SOFA)]
    return World(TODAY, [SPRING_1, SPRING_2, SOFA], deals)


def busy_world(csv_dir: Path) -> World:
    """An EUR ad account with a USD CRM (deals of EUR 1,000 = $1,100 home), other channels, an idle campaign.

    Spring €30/day wins on days 0, 1, 2, 4 back (week: 4 won; spend 5 x €30 + 2 x €24 provisional = €198, CAC
    €49.50) and on days 8, 14, 20, 26 back (the 4 weeks before: 4 won, CAC €840 / 4 = €210.00): CAC fell 76%.
    Autumn test spends €15/day with no deal at all (week €99). Pinterest (the account) spends €45/day: week €297,
    4 won, CAC €74.25 (the 4 weeks before €1,260 / 4 = €315: fell 76% too). google: 3 won in the week (days 1, 2, 3
    back), spend €100/day from the CSV (week €700, CAC €233.33): Pinterest 68% lower, with more won deals.
    facebook: 2 won, no spend file (unknown). bing: 1 won, $80/day in USD (not compared). ROAS is not computed
    (EUR spend, USD revenue: 4 x $1,100 = $4,400).
    """
    wins = [(0, SPRING_1), (1, SPRING_2), (2, SPRING_1), (4, SPRING_2), (8, SPRING_1), (14, SPRING_2)]
    wins += [(20, SPRING_1), (26, SPRING_2)]
    eur = {"currency": "EUR", "home_amount": "1100"}
    deals = [Deal(1000 + n, won + 5, won, ad, **eur) for n, (won, ad) in enumerate(wins)]
    deals += [Deal(4000 + back, back + 3, back, utm_source="google", **eur) for back in (1, 2, 3)]
    deals += [Deal(5000 + back, back + 3, back, utm_source="facebook", **eur) for back in (2, 5)]
    deals += [Deal(6000, 4, 1, utm_source="bing", **eur)]
    world = World(TODAY, [SPRING_1, SPRING_2, AUTUMN], deals, currency="EUR")
    google = [("google", "search", world.day(back), "100", "EUR") for back in range(0, 56)]
    bing = [("bing", "brand", world.day(back), "80", "USD") for back in range(0, 7)]
    channel_spend_csv(csv_dir / "channels.csv", google + bing)
    return world


def no_pinterest_deals_world() -> World:
    """Spring spends $30/day (week $198 with the 2 provisional days); its deals were won 10, 15, 20 and 25 days back:
    none this week, so no CAC and "no Pinterest-won deals". A google deal created on the briefing day (no spend
    file: unknown) keeps the deal data fresh. All 4 deals came through pin 1: 28-day CAC $828 / 4 = $207 for the
    campaign, $552 / 4 = $138 for the pin, the only one with 2 won deals."""
    deals = [Deal(1000 + back, back + 10, back, SPRING_1) for back in (10, 15, 20, 25)]
    deals += [Deal(4000, 0, None, utm_source="google")]
    return World(TODAY, [SPRING_1, SPRING_2], deals)


def touch_world() -> World:
    """Both touch models (docs/attribution.md): Spring 2025 spends $30/day (pins $20 + $10), Summer Patio $10/day.
    Won in the 28 days: one deal clicked only on Summer Patio (won 2 days back), three that opened with a Summer
    Patio click and closed on Spring pin 1 (won 3, 5 and 8 days back), two clicked only on Spring pin 1 (won 1 and 10
    days back). By last touch, Spring has 5 won and Summer Patio 1; by first touch, Summer Patio 4 and Spring 2:
    each differs by 3 won, at least half of the larger count (5 and 4), so both are named: Spring closes journeys,
    Summer Patio opens them. The rest of the briefing is by last touch: the week (24-30 Jun) has Spring's wins 1, 3
    and 5 days back, Summer Patio's 2 days back."""
    deals = [Deal(7001, 12, 2, SUMMER)]
    deals += [Deal(7002 + n, back + 10, back, SPRING_1, first_ad=SUMMER) for n, back in enumerate((3, 5, 8))]
    deals += [Deal(7005 + n, back + 10, back, SPRING_1) for n, back in enumerate((1, 10))]
    return World(TODAY, [SPRING_1, SPRING_2, SUMMER], deals)


@pytest.fixture(autouse=True)
def clean_warehouse(warehouse: psycopg.Connection) -> Iterator[None]:
    """Each world starts from an empty warehouse (every raw, mart and ops table but the migrations)."""
    tables = warehouse.execute(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
        "WHERE schemaname IN ('raw', 'mart', 'ops') AND tablename <> 'schema_migrations'"
    ).fetchall()
    warehouse.execute(f"TRUNCATE {', '.join(name for (name,) in tables)}")
    yield


@pytest.fixture
def pipeline(
    sandbox_server: Callable[..., Any], run_dag: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Any]:
    """``pipeline(world)``: serve the world and run the extraction and reconcile DAGs as the scheduler would."""
    monkeypatch.setenv("PIN2DEAL_BRIEFING_DIR", str(tmp_path / "briefings"))

    def run(world: World, csv_dir: Path | None = None):
        root = tmp_path / "world"
        world.dataset().save(root)
        server = sandbox_server(root, rate_limits=False)
        midnight = dt.datetime.combine(world.today, dt.time(), dt.UTC)
        run_dag("hubspot_deals", midnight - dt.timedelta(hours=1), conf={"full_refresh": True})
        run_dag("pinterest_spend", midnight, conf={"lookback_days": 60})
        # always named: a conf given to one dag.test() run of a DAG leaks into its later runs without one
        csv_dir = csv_dir or tmp_path / "no_channel_spend"
        csv_dir.mkdir(exist_ok=True)
        run_dag("attribution_reconcile", midnight, conf={"full_rebuild": True, "channel_spend_dir": str(csv_dir)})
        return server

    return run


def brief(run_dag: Callable[..., Any], logical_date: dt.datetime, **conf: Any):
    return run_dag("daily_briefing", logical_date, conf={"slack_conn_id": "", "llm_conn_id": "", **conf})


def stored(warehouse: psycopg.Connection, day: dt.date) -> dict[str, Any]:
    row = warehouse.execute(
        "SELECT markdown, stale, chart_png, chart_svg, markdown_path, chart_png_path, chart_svg_path, delivered_to, "
        "run_id "
        "FROM ops.briefings WHERE briefing_date = %s",
        (day,),
    ).fetchone()
    assert row is not None, f"no briefing stored for {day}"
    keys = ("markdown", "stale", "png", "svg", "markdown_path", "png_path", "svg_path", "delivered_to", "run_id")
    return dict(zip(keys, row, strict=True))


def test_quiet_day_then_stale_days_and_a_run_without_logical_date(
    pipeline, run_dag, warehouse: psycopg.Connection, dagbag, monkeypatch: pytest.MonkeyPatch
):
    world = quiet_world()
    server = pipeline(world)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_BRIEFING",
        json.dumps({"conn_type": "http", "host": f"{server.url}/_sandbox/slack", "password": "/services/T1/B2/s3cr3t"}),
    )
    brief(run_dag, MORNING, slack_conn_id="slack_briefing")
    quiet = stored(warehouse, world.last_day)
    assert not quiet["stale"]
    assert_golden("e2e_quiet_day", quiet["markdown"])
    # files beside each other, the same bytes as the row
    assert Path(quiet["markdown_path"]).read_text() == quiet["markdown"]
    assert Path(quiet["png_path"]).read_bytes() == bytes(quiet["png"])
    assert Path(quiet["svg_path"]).read_text() == quiet["svg"] and "Spring 2025" in quiet["svg"]
    # delivered to the Slack stand-in, in mrkdwn
    messages = requests.get(f"{server.url}/_sandbox/slack/messages", timeout=10).json()["messages"]
    assert [m["path"] for m in messages] == ["/services/T1/B2/s3cr3t"]
    assert messages[0]["text"] == markdown_to_slack(quiet["markdown"])
    assert quiet["delivered_to"] == "slack:slack_briefing"

    # A manual run without a logical date: the day is yesterday in New York at the moment the run was created.
    dag = dagbag.get_dag("daily_briefing")
    run = dag.test(logical_date=None, run_after=MORNING, run_conf=dag.params.dump())  # run_dag restored defaults
    assert run.state == "success" and run.logical_date is None
    again = stored(warehouse, world.last_day)
    assert again["run_id"] == run.run_id
    assert again["markdown"] == quiet["markdown"] and bytes(again["png"]) == bytes(quiet["png"])  # same data, text
    assert warehouse.execute("SELECT count(*) FROM ops.briefings").fetchone()[0] == 1  # replaced, not added

    # The optional rewrite through the sandbox's fake model: kept when it reorders and rewords, refused when a number
    # changes or moves to another campaign, line or measure: Sofas' "1 won" as "30 won" (the day of the month) or
    # "4 won" (the account's week), Spring's "CAC $66.00" as "CAC $28.80" (the day's spend).
    def rewrite(model: str, logical_date: dt.datetime, day: dt.date) -> tuple[str, str, str]:
        connection = {"conn_type": "http", "host": f"{server.url}/_sandbox/llm", "extra": {"model": model}}
        monkeypatch.setenv("AIRFLOW_CONN_LLM_BRIEFING", json.dumps(connection))
        brief(run_dag, logical_date, llm_conn_id="llm_briefing")
        return warehouse.execute(
            "SELECT markdown, template_markdown, rewrite_note FROM ops.briefings WHERE briefing_date = %s", (day,)
        ).fetchone()

    accepted = "every figure of the rewrite is backed by a line of the template, every warning is kept"
    for model in ("faithful", "reworded"):
        expected = (REWRITES[model](quiet["markdown"]), quiet["markdown"], accepted)
        assert rewrite(model, MORNING, world.last_day) == expected
    for model, reason in [
        ("changed-number", "states $33.80 (spend): no line of the template naming no campaign, pin or channel"),
        ("date-as-count", "states 30 (won): no line of the template naming 'Sofas - retargeting' states it"),
        ("count-from-another-line", "states 4 (won): no line of the template naming 'Sofas - retargeting' states it"),
        ("spend-as-cac", "states $28.80 (CAC): no line of the template naming 'Spring 2025' states it"),
    ]:
        markdown, template, note = rewrite(model, MORNING, world.last_day)
        assert markdown == template == quiet["markdown"] and reason in note, (model, note)

    # Three days later nothing new arrived: the briefing of 3 Jul says so first, and a rewrite must keep it so.
    later, stale_day = MORNING + dt.timedelta(days=3), world.last_day + dt.timedelta(days=3)
    markdown, template, note = rewrite("reworded", later, stale_day)
    assert note == accepted and markdown == REWRITES["reworded"](template) != template
    for model, reason in [
        ("dropped-warning", "the rewrite drops or rewords a warning: Pinterest spend is loaded only through Mon 30"),
        ("buried-warning", "the rewrite states figures before the stale-data warning: Pinterest spend is loaded"),
    ]:
        markdown, template, note = rewrite(model, later, stale_day)
        assert markdown == template and note.startswith(reason), (model, note)
    brief(run_dag, later)
    stale = stored(warehouse, stale_day)
    assert stale["stale"]
    assert stale["markdown"].split("\n## ")[1].startswith("Stale data")
    assert_golden("e2e_stale_data", stale["markdown"])
    assert len(messages) == 1  # delivery off for that run


def test_two_currencies_other_channels_and_a_campaign_with_spend_and_no_deals(
    pipeline, run_dag, warehouse: psycopg.Connection, tmp_path: Path
):
    csv_dir = tmp_path / "channel_spend"
    world = busy_world(csv_dir)
    pipeline(world, csv_dir)
    brief(run_dag, MORNING)
    assert_golden("e2e_two_currencies_other_channels", stored(warehouse, world.last_day)["markdown"])


def test_a_week_with_no_pinterest_deals(pipeline, run_dag, warehouse: psycopg.Connection):
    world = no_pinterest_deals_world()
    pipeline(world)
    brief(run_dag, MORNING)
    assert_golden("e2e_no_pinterest_deals", stored(warehouse, world.last_day)["markdown"])


def test_the_briefing_names_its_touch_model_and_the_campaigns_the_two_models_disagree_on(
    pipeline, run_dag, warehouse: psycopg.Connection
):
    world = touch_world()
    pipeline(world)
    brief(run_dag, MORNING)
    markdown = stored(warehouse, world.last_day)["markdown"]
    assert (
        "- Over 28 days, 'Spring 2025' closes journeys (2 won by first touch vs 5 won by last touch); 'Summer Patio' "
        "opens journeys (4 won by first touch vs 1 won by last touch)."
    ) in markdown.splitlines()
    assert_golden("e2e_touch_models", markdown)
