"""The pin2deal page in a real headless browser (Debian's chromium, driven by Playwright) inside a real Airflow
api-server, on a demo world run through the DAGs: Airflow's login, the page in its menu, numbers equal to the
warehouse's, a sortable table, a screenshot in test-artifacts/, and no page without a login."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import ROOT, isolated_dag_test

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
# Flags for a headless browser that talks to nothing but the loopback deployment.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser test: install Debian's chromium (apt-get install -y chromium)")
    pytest.skip(
        "the pin2deal page's browser test needs Debian's chromium (apt-get install -y chromium); skipped",
        allow_module_level=True,
    )


def _demo_steps(today: dt.date):
    """The demo's own pipeline steps (scripts/demo.py), so the page is tested on what `make demo` produces."""
    spec = importlib.util.spec_from_file_location("pin2deal_demo", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.demo_steps(today)


@pytest.fixture(scope="module")
def demo_world(dagbag, warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """A smaller demo world (same generator and clock as `make demo`) run through every DAG that exists."""
    from sandbox.__main__ import DEFAULT_TODAY
    from sandbox.connections import airflow_connections
    from sandbox.generate import generate
    from sandbox.server import SandboxServer
    from sandbox.settings import SandboxSettings

    data = tmp_path_factory.mktemp("ui-world")
    generate(data, deals=300, seed=7, today=DEFAULT_TODAY)
    server = SandboxServer(SandboxSettings(data_dir=data, rate_limits=False)).start()
    ran = []
    with pytest.MonkeyPatch.context() as patch:
        for name, value in airflow_connections(server.url, server.app.state.sandbox.dataset.config).items():
            patch.setenv(name, value)
        try:
            for dag_id, logical_date, params in _demo_steps(DEFAULT_TODAY):
                dag = dagbag.get_dag(dag_id)
                if dag is None:
                    continue
                run = isolated_dag_test(dag, logical_date, params)
                assert run.state == "success", f"{dag_id} ended {run.state}"
                ran.append(dag_id)
            yield ran
        finally:
            server.stop()


@pytest.fixture(scope="module")
def api_server(warehouse_url: str, demo_world, tmp_path_factory: pytest.TempPathFactory):
    """The real api-server (Airflow's UI, its login and our plugin) on its own metadata database."""
    from scripts.airflow_local import AirflowDeployment, airflow_env, clone_metadata_database, drop_database, free_port

    home = tmp_path_factory.mktemp("airflow-ui")
    database = f"airflow_ui_{uuid.uuid4().hex[:8]}"
    metadata_url = clone_metadata_database(warehouse_url, database)
    deployment = AirflowDeployment(home, airflow_env(home, metadata_url, warehouse_url, {}, free_port()), metadata_url)
    deployment.start(("api-server",))
    try:
        deployment.wait_until_serving()
        yield deployment
    finally:
        deployment.stop()
        drop_database(warehouse_url, database)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _cells(frame, selector: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in frame.locator(f"{selector} tbody tr").all()]


def _tables(warehouse) -> set[str]:
    names = ("mart.performance", "ops.briefings", "ops.capi_ledger", "mart.truth_vs_platform", "mart.funnel")
    return {name for name in names if warehouse.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0]}


@pytest.mark.slow
def test_the_page_in_airflows_ui_shows_the_warehouse_numbers(api_server, browser, warehouse, demo_world) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    # Airflow's own login, then the menu entry the plugin adds.
    page.goto(f"{api_server.url}/plugin/pin2deal")
    page.wait_for_url("**/auth/login**")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", api_server.password())
    page.click("button[type=submit]")
    page.wait_for_url("**/plugin/pin2deal")
    frame = page.frame_locator("iframe").first
    frame.locator("#health").wait_for()
    present = _tables(warehouse)

    # Freshness and record issues come from the extraction DAGs, which always run.
    newest_day, deals = warehouse.execute(
        "SELECT (SELECT max(date) FROM raw.pinterest_ad_daily), (SELECT count(*) FROM raw.hubspot_deals)"
    ).fetchone()
    assert frame.locator("#newest-spend-day").inner_text() == newest_day.isoformat()
    assert frame.locator("#deals-loaded").inner_text() == f"{deals:,} deals loaded"
    issues = warehouse.execute(
        "SELECT source, field, reason, count(*) FROM ops.record_issues GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3"
    ).fetchall()
    assert issues, "the demo world carries bad input"
    shown = [(source, field, reason, int(count)) for source, field, reason, count, _ in _cells(frame, "#issues-table")]
    assert shown == [(s, f, r, c) for s, f, r, c in issues]
    owner = frame.locator("#issues-table a").first
    assert owner.get_attribute("href") == "/dags/hubspot_deals/tasks/extract_hubspot_deals"
    assert owner.get_attribute("target") == "_top"

    cac = frame.locator("#cac")
    if "mart.performance" in present:
        last = warehouse.execute(
            "SELECT max(period_start) FROM mart.performance WHERE model = 'last_touch' AND grain = 'account' "
            "AND period = 'day' AND spend > 0"
        ).fetchone()[0]
        sums = warehouse.execute(
            "SELECT grain_id, sum(spend), sum(won), sum(leads_won_to_date), sum(leads_open), "
            "sum(leads_expected_wins), sum(leads_open_without_probability) FROM mart.performance "
            "WHERE model = 'last_touch' AND grain = 'campaign' AND period = 'day' "
            "AND period_start BETWEEN %s AND %s GROUP BY grain_id "
            "HAVING sum(spend) > 0 OR sum(leads) > 0 OR sum(won) > 0",
            (last - dt.timedelta(days=27), last),
        ).fetchall()
        expected = {
            # the reconcile's rule (mart.cac): 4 decimals, NULL without a won deal or without spend
            grain_id: (spend, won, (spend / won).quantize(Decimal("0.0001"), ROUND_HALF_UP) if won and spend else None)
            for grain_id, spend, won, *_ in sums
        }
        # the forecast's (mart.forecast_cac): spend / (won by now + expected wins), NULL when a stage has no
        # probability; the generated world's stages all have one
        forecasts = {
            grain_id: (open_deals, (spend / (won + wins)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
                       if spend and won + wins and not unknown else None)
            for grain_id, spend, _, won, open_deals, wins, unknown in sums
        }  # fmt: skip
        assert any(value is not None for _, value in forecasts.values())
        rows = frame.locator("#cac-table tbody tr")
        shown, shown_forecasts = {}, {}
        for row in rows.all():
            cells = row.locator("td[data-col]").all()
            value = {cell.get_attribute("data-col"): cell.get_attribute("data-value") for cell in cells}
            shown[row.get_attribute("data-id")] = (
                Decimal(value["spend"]), int(value["won"]), Decimal(value["cac"]) if value["cac"] else None
            )
            shown_forecasts[row.get_attribute("data-id")] = (
                int(value["open_deals"]), Decimal(value["forecast_cac"]) if value["forecast_cac"] else None
            )
        assert shown_forecasts == forecasts
        assert shown.keys() == expected.keys()
        for grain_id, (spend, won, cac_value) in expected.items():
            assert shown[grain_id][:2] == (spend, won), grain_id
            assert (shown[grain_id][2] is None) == (cac_value is None), grain_id
            if cac_value is not None:
                assert abs(shown[grain_id][2] - cac_value) < Decimal("0.000001"), grain_id
        # Sortable: CAC ascending, rows without a CAC last.
        frame.locator("#cac-table th", has_text="CAC").click()
        values = [cell.get_attribute("data-value") for cell in frame.locator("#cac-table td[data-col=cac]").all()]
        numbers = [Decimal(value) for value in values if value]
        assert numbers == sorted(numbers) and values[len(numbers):] == [""] * (len(values) - len(numbers))
    else:
        assert "Not available yet: mart.performance does not exist" in cac.inner_text()

    if "mart.funnel" in present:
        first, last = (frame.locator(f"#funnel input[name={end}]").get_attribute("value") for end in ("first", "last"))
        campaigns = [
            campaign
            for (campaign,) in warehouse.execute(
                "SELECT grain_id FROM mart.funnel WHERE grain = 'campaign' AND period = 'month' "
                "AND period_start <= %s AND period_end > %s GROUP BY grain_id ORDER BY sum(entered) DESC, grain_id",
                (last, first),
            ).fetchall()
        ]
        assert len(campaigns) >= 2, "the demo world's deals enter the pipelines' stages"

        def funnel_rows(campaign: str) -> list[tuple]:
            return [
                (month.isoformat(), pipeline, stage, f"{entered:,}", "-" if advanced is None else f"{advanced:,}",
                 "-" if rate is None else f"{float(rate):.0%}", "-" if days is None else f"{days:.1f}", f"{lost:,}")
                for month, pipeline, stage, entered, advanced, rate, days, lost in warehouse.execute(
                    "SELECT period_start, pipeline, stage, entered, advanced, conversion_rate, "
                    "median_days_to_advance, lost FROM mart.funnel WHERE grain = 'campaign' AND grain_id = %s "
                    "AND period = 'month' AND period_start <= %s AND period_end > %s "
                    "ORDER BY period_start, pipeline, stage_order, stage",
                    (campaign, last, first),
                ).fetchall()
            ]  # fmt: skip

        def shown_funnel() -> list[tuple]:
            return [
                (row.get_attribute("data-month"), row.get_attribute("data-pipeline"), row.get_attribute("data-stage"),
                 *(row.locator(f"td[data-col={column}]").inner_text() for column in
                   ("entered", "advanced", "conversion_rate", "median_days_to_advance", "lost")))
                for row in frame.locator("#funnel-table tbody tr").all()
            ]  # fmt: skip

        # The campaign with the most stage entries first; then another one, chosen on the page.
        assert frame.locator("#funnel-campaign").inner_text() == campaigns[0]
        assert shown_funnel() == funnel_rows(campaigns[0])
        frame.locator("#funnel select[name=campaign]").select_option(campaigns[1])
        frame.locator("#show-funnel").click()
        frame.locator("#funnel-campaign", has_text=campaigns[1]).wait_for()
        assert shown_funnel() == funnel_rows(campaigns[1])
    else:
        assert "Not available yet: mart.funnel does not exist" in frame.locator("#funnel").inner_text()

    if "ops.briefings" in present:
        day = warehouse.execute("SELECT max(briefing_date) FROM ops.briefings").fetchone()[0]
        assert frame.locator("#briefing-date").inner_text() == day.isoformat()
        chart = frame.locator("#briefing-chart")
        chart.wait_for()
        assert chart.evaluate("image => image.complete && image.naturalWidth > 0")
        images = frame.locator("#briefing img")
        assert images.count() == 1  # the stored chart; the Markdown's link to its file is not a broken image
    else:
        assert "Not available yet: ops.briefings does not exist" in frame.locator("#briefing").inner_text()

    if "ops.capi_ledger" in present:
        states = warehouse.execute(
            "SELECT state, coalesce(reason, ''), count(*) FROM ops.capi_ledger GROUP BY 1, 2"
        ).fetchall()
        rows = _cells(frame, "#conversions-table")
        shown = {(state, "" if reason == "-" else reason, int(count)) for state, reason, count in rows}
        assert shown == set(states)
    else:
        assert "ops.capi_ledger does not exist" in frame.locator("#conversions").inner_text()
    # Pinterest's Event Quality Score as pinterest_capi last read it (a demo world dated in the past sends no event
    # Pinterest still takes, and the sandbox then rates none).
    rated = warehouse.execute(
        "SELECT source_platform, overall_status FROM raw.pinterest_event_quality WHERE ingestion_source = "
        "'CONVERSIONS_API' AND read_day = (SELECT max(read_day) FROM raw.pinterest_event_quality)"
    ).fetchall()
    shown = {(row[0], row[1]) for row in _cells(frame, "#event-quality-table")}
    assert shown == set(rated)
    if not rated:
        assert "Pinterest rates none of our Conversions API events" in frame.locator("#conversions").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pin2deal-page.png"), full_page=True)
    context.close()


@pytest.mark.slow
def test_the_page_refuses_a_request_without_a_login(api_server, browser) -> None:
    context = browser.new_context()  # no cookie
    for path in ("/pin2deal/", "/pin2deal/briefing/2025-06-29/chart.png"):
        response = context.request.get(f"{api_server.url}{path}")
        assert response.status == 401, (path, response.status)
        assert "Not authenticated" in response.text()
    forged = context.request.get(f"{api_server.url}/pin2deal/", headers={"Authorization": "Bearer forged.jwt.token"})
    assert forged.status in (401, 403)
    context.close()
