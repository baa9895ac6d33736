"""What goes wrong talking to HubSpot, against the sandbox over HTTP: a wrong token, a missing custom property,
429s, 5xx and dropped connections (retried), and the budgets that keep us from being rate limited at all."""

from __future__ import annotations

import datetime as dt

import pytest
from deal_worlds import CUSTOM, HOUR, HOUR_MS, TOKEN, contact, deal

from pin2deal.hooks.hubspot_api import HubSpotAuthError, HubSpotHook, HubSpotPropertyMissing
from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator
from sandbox.settings import FaultRates, HubSpotLimits

NEXT_HOUR = HOUR + dt.timedelta(hours=1)


def _extract(**kwargs) -> dict:
    """The extraction task itself (its result is the XCom: counts and API statistics)."""
    operator = HubSpotDealsToWarehouseOperator(
        task_id="extract_hubspot_deals", data_interval_start=HOUR, data_interval_end=NEXT_HOUR, full_refresh=False,
        since=None, run_type="backfill", run_after=None, **kwargs,
    )  # fmt: skip
    return operator.execute({"run_id": "test"})


def test_a_wrong_token_fails_clearly_without_showing_it(hubspot_world, run_dag) -> None:
    hubspot_world([deal(1, HOUR_MS)], token="pat-na1-revoked-token")

    with pytest.raises(HubSpotAuthError, match="401.*expired, revoked or wrong") as raised:
        HubSpotHook().deal_stages()
    assert "pat-na1-revoked-token" not in str(raised.value) and TOKEN not in str(raised.value)

    run_dag("hubspot_deals", NEXT_HOUR, expect="failed")  # a fail-fast error: no retries hammering the API


def test_a_missing_custom_property_fails_naming_it(hubspot_world, run_dag, warehouse) -> None:
    hubspot_world([deal(1, HOUR_MS)], drop_deal_property=CUSTOM["epik"])

    with pytest.raises(HubSpotPropertyMissing, match=r"'pinterest_epik' \(role epik\)"):
        HubSpotHook().check_custom_properties()

    run_dag("hubspot_deals", NEXT_HOUR, expect="failed")
    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone() == (0,)


def test_a_mapped_first_touch_property_missing_fails_naming_it_and_its_role(hubspot_world) -> None:
    """The first-touch roles are optional; one that is mapped is checked as the last-touch roles are."""
    hubspot_world([deal(1, HOUR_MS)], drop_deal_property=CUSTOM["first_touch_utm_campaign"])

    with pytest.raises(HubSpotPropertyMissing, match=r"'first_utm_campaign' \(role first_touch_utm_campaign\)"):
        HubSpotHook().check_custom_properties()


def test_a_mapped_contact_role_missing_on_contacts_fails_naming_it(hubspot_world) -> None:
    """Gender is read only when mapped; mapped to a property contacts do not have (here a deal's), it fails."""
    hubspot_world([deal(1, HOUR_MS)], extra={"properties": {**CUSTOM, "gender": CUSTOM["epik"]}})

    with pytest.raises(HubSpotPropertyMissing, match=r"'pinterest_epik' \(role gender\)"):
        HubSpotHook().check_custom_properties()


def test_429s_5xx_and_dropped_connections_are_retried_until_everything_is_loaded(hubspot_world, warehouse) -> None:
    deals = [deal(10_000 + n, HOUR_MS + n * 100, contacts=[500 + n % 300]) for n in range(1000)]
    faults = FaultRates(server_error=0.12, rate_limit_burst=0.08, burst_length=2, retry_after_seconds=1,
                        drop_connection=0.08)  # fmt: skip
    hubspot_world(deals, [contact(500 + n) for n in range(300)], rate_limits=True, seed=11, faults=faults,
                  extra={"rate_limit_per_10s": 1000, "search_per_second": 50, "retry_initial_wait": 0.05})

    result = _extract()

    assert result["deals"] == 1000
    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone() == (1000,)
    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_contacts").fetchone() == (300,)
    stats = result["api"]
    assert stats["rate_limited"] > 0, "the seeded faults include 429 bursts (Retry-After: 1 honoured)"
    assert stats["server_errors"] > 0 and stats["transport_errors"] > 0


def test_the_budgets_keep_extraction_under_the_sandbox_limits(hubspot_world, warehouse) -> None:
    """More 10-second-budget calls than the budget allows, and search pages at its per-second limit: no 429."""
    deals = [deal(20_000 + n, HOUR_MS + n * 100, contacts=[3000 + n]) for n in range(1000)]
    limits = HubSpotLimits(per_ten_seconds=20, search_per_second=3)
    hubspot_world(deals, [contact(3000 + n) for n in range(1000)], rate_limits=True, hubspot=limits,
                  extra={"rate_limit_per_10s": 20, "search_per_second": 3})

    result = _extract()

    assert result["deals"] == 1000
    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_contacts").fetchone() == (1000,)
    stats = result["api"]
    ten_secondly = sum(n for kind, n in stats.items() if kind.startswith("requests.") and kind != "requests.search")
    assert ten_secondly > 20, "the run needed more calls than one 10-second window holds"
    assert stats.get("rate_limited", 0) == 0
