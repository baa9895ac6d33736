"""Richer matching (issue 22 §2): each contact's city, state, ZIP code and country (and gender and date of birth when
their roles are mapped) normalised as Pinterest's docs define them, SHA-256 hashed, a value that cannot be used left
out of its own field only; ``partner_name`` on every event."""

from __future__ import annotations

import datetime as dt
import hashlib

import httpx
import pytest

from pin2deal.capi.payload import CapiSettings, decide, validate_event
from tests.capi import test_capi_funnel
from tests.capi.capi_worlds import (
    assert_events_conform,
    contact,
    ledger,
    official_spec_or_skip,
    outbox_row,
    received,
    received_counts,
)
from tests.capi.test_capi_pipeline import paid
from tests.hubspot import deal_worlds
from tests.reconcile.conftest import HUBSPOT_CONF, MIDNIGHT

funnel_of = test_capi_funnel.funnel_of  # the funnel tests' fixture: a world extracted and reconciled by the DAGs

NOW = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
WON = NOW - dt.timedelta(days=2)
DEFAULTS = CapiSettings()
LOCATION = ("ct", "st", "zp", "country")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def matching(settings: CapiSettings = DEFAULTS, **changes) -> dict:
    """The user_data of a checkout whose one contact has ``changes`` (no address unless given)."""
    person = contact(1, **{"country": None, **changes})
    return decide(outbox_row(1, WON, contacts=[person]), settings, NOW).event["user_data"]


def test_a_messy_address_is_sent_as_pinterest_normalises_it() -> None:
    data = matching(city="São Paulo ", state="ca", zip="94105-1234", country="United States")
    assert {name: data[name] for name in LOCATION} == {
        "ct": [sha("sãopaulo")], "st": [sha("ca")], "zp": [sha("94105")], "country": [sha("us")],
    }  # fmt: skip


@pytest.mark.pinterest_spec
def test_pinterests_own_examples() -> None:
    """The developer guide's examples (city "menlopark", state "ca", date of birth 19971226 for December 26, 1997)
    and the OpenAPI description's example ``zp`` digest (of the ZIP code 99999)."""
    spec = official_spec_or_skip()
    example = spec.resolve(spec.schema("ConversionEventsUserDataProperties"))["properties"]["zp"]["example"]
    data = matching(city="Menlo Park", state="CA", zip="99999", country="US", birth_date="1997-12-26")
    assert data["ct"] == [sha("menlopark")] and data["st"] == [sha("ca")] and data["db"] == [sha("19971226")]
    assert data["zp"] == example


@pytest.mark.parametrize(
    ("city", "normalised"),
    [("San Francisco", "sanfrancisco"), ("  ST. LOUIS ", "stlouis"), ("Saint-Étienne", "saintétienne"),
     ("Winston–Salem", "winstonsalem"), ("Köln", "köln"), ("---", None)],
)  # fmt: skip
def test_a_city_is_lower_case_without_spaces_or_punctuation(city: str, normalised: str | None) -> None:
    assert matching(city=city).get("ct") == ([sha(normalised)] if normalised else None)


@pytest.mark.parametrize(
    ("state", "country", "normalised"),
    [("CA", "US", "ca"), (" n.y. ", "US", "ny"), ("California", "USA", "ca"), ("new york", None, "ny"),
     ("BY", "DE", "by"), ("Bavaria", "DE", None), ("Calif", "US", None)],
)  # fmt: skip
def test_a_state_is_its_two_letter_code_in_lower_case(state: str, country: str | None, normalised: str | None):
    """A US state's name is read as its code (a contact without a country is in the default region, the US)."""
    assert matching(state=state, country=country).get("st") == ([sha(normalised)] if normalised else None)


@pytest.mark.parametrize(
    ("zip_code", "country", "settings", "normalised"),
    [("94105", "US", DEFAULTS, "94105"), ("94105-1234", "US", DEFAULTS, "94105"), (" 10001 2345", None, DEFAULTS,
     "10001"), ("9410", "US", DEFAULTS, None), ("941O5", "US", DEFAULTS, None), ("SW1A 1AA", "GB", DEFAULTS,
     "sw1a1aa"), ("75008", "France", DEFAULTS, "75008"), ("10117", None, CapiSettings(default_region="DE"),
     "10117"), ("M1 1AE", None, CapiSettings(default_region="GB"), "m11ae")],
)  # fmt: skip
def test_a_zip_code_is_five_digits_in_the_us_and_the_postcode_elsewhere(zip_code, country, settings, normalised):
    assert matching(settings, zip=zip_code, country=country).get("zp") == ([sha(normalised)] if normalised else None)


@pytest.mark.parametrize(
    ("country", "normalised"),
    [("US", "us"), ("United States", "us"), ("USA", "us"), ("Deutschland", "de"), ("united kingdom", "gb"),
     (" fr ", "fr"), ("Narnia", None), ("", None)],
)  # fmt: skip
def test_a_country_is_its_two_letter_iso_code_in_lower_case(country: str, normalised: str | None) -> None:
    assert matching(country=country).get("country") == ([sha(normalised)] if normalised else None)


@pytest.mark.parametrize(
    ("gender", "normalised"),
    [("f", "f"), ("Female", "f"), ("M", "m"), ("male", "m"), ("non-binary", "n"), ("N", "n"),
     ("prefer not to say", None)],
)  # fmt: skip
def test_a_gender_is_f_m_or_n(gender: str, normalised: str | None) -> None:
    assert matching(gender=gender).get("ge") == ([sha(normalised)] if normalised else None)


@pytest.mark.parametrize(
    ("birth_date", "normalised"),
    [("1997-12-26", "19971226"), ("19971226", "19971226"), ("1997/12/26", "19971226"),
     ("883094400000", "19971226"), ("1997-12-26T00:00:00.000Z", "19971226"), ("12/26/1997", None),
     ("26.12.1997", None), ("1997-02-30", None), ("2999-01-01", None), ("1850-05-01", None), ("soon", None)],
)  # fmt: skip
def test_a_date_of_birth_is_yyyymmdd(birth_date: str, normalised: str | None) -> None:
    """HubSpot's date properties arrive as epoch milliseconds at midnight UTC; a day-first or month-first date is
    ambiguous and left out."""
    assert matching(birth_date=birth_date).get("db") == ([sha(normalised)] if normalised else None)


def test_an_unusable_value_leaves_out_its_own_field_only_and_never_stops_the_event() -> None:
    person = contact(1, city="Lyon", zip="69002", country="Narnia", gender="other", birth_date="not a date")
    decision = decide(outbox_row(1, WON, contacts=[person]), DEFAULTS, NOW)

    assert decision.reason is None and decision.warning is None
    data = decision.event["user_data"]
    assert set(data) == {"em", "ph", "fn", "ln", "ct", "zp", "external_id", "click_id"}
    assert data["ct"] == [sha("lyon")] and data["zp"] == [sha("69002")], "Narnia: the default region's rules (US)"


def test_roles_not_mapped_send_nothing_and_several_contacts_send_each_value_once() -> None:
    both = [contact(1, city="Paris"), contact(2, city=" paris"), contact(3, city="Lyon", gender="f")]
    data = decide(outbox_row(1, WON, contacts=both), DEFAULTS, NOW).event["user_data"]
    assert data["ct"] == [sha("paris"), sha("lyon")] and data["country"] == [sha("fr")]
    assert data["ge"] == [sha("f")] and "db" not in data
    assert not {"ge", "db", "ct", "st", "zp"} & set(matching()), "nothing known, nothing sent"


@pytest.mark.pinterest_spec
def test_every_event_names_the_partner_and_conforms_with_every_matching_field() -> None:
    spec = official_spec_or_skip()
    person = contact(1, city="São Paulo ", state="CA", zip="94105-1234", country="USA", gender="Female",
                     birth_date="1997-12-26")  # fmt: skip
    checkout = decide(outbox_row(1, WON, contacts=[person]), DEFAULTS, NOW).event
    lead = decide(outbox_row(2, None, event_id="lead_hubspot:2", event_kind="lead", event_at=WON, amount=None,
                             contacts=[person]), DEFAULTS, NOW).event  # fmt: skip

    for event in (checkout, lead):
        assert event["partner_name"] == "ss-pin2deal"
        assert set(event["user_data"]) >= {"ct", "st", "zp", "country", "ge", "db"}
        assert validate_event(event) == []
    assert_events_conform(spec, [checkout, lead])


WON_DEAL = 2401


@pytest.mark.pinterest_spec
def test_a_won_pinterest_deals_checkout_carries_the_hashed_address_and_the_partner_name(funnel_of, warehouse, run_dag):
    """Through hubspot_deals -> attribution_reconcile -> pinterest_capi and the sandbox: the contact's messy address
    reaches Pinterest normalised and hashed, with ``partner_name``; its gender and date of birth (the roles are not
    mapped) send nothing. A CRM migration and an address edit afterwards send nothing again."""
    spec = official_spec_or_skip()
    buyer = deal_worlds.contact(6101, city="São Paulo ", state="ca", zip="94105-1234", country="United States",
                                gender="female", date_of_birth="1990-04-12")  # fmt: skip
    pipeline = funnel_of([paid(WON_DEAL, "2025-06-01", won="2025-06-28", contacts=(6101,))], [buyer])

    summary = pipeline.capi()

    assert summary["sent"] == 1
    checkout = {event["event_id"]: event["event"] for event in received(pipeline.server)}[f"won_hubspot:{WON_DEAL}"]
    assert_events_conform(spec, [checkout])
    assert checkout["partner_name"] == "ss-pin2deal"
    data = checkout["user_data"]
    assert {name: data.get(name) for name in LOCATION} == {
        "ct": [sha("sãopaulo")], "st": [sha("ca")], "zp": [sha("94105")], "country": [sha("us")],
    }  # fmt: skip
    assert "ge" not in data and "db" not in data, "gender and date of birth are sent only when their roles are mapped"
    entry = ledger(warehouse)[f"won_hubspot:{WON_DEAL}"]
    assert (entry["state"], entry["warning_message"]) == ("sent", None), "the sandbox found every digest hashed"
    stored = warehouse.execute(
        "SELECT properties ? 'gender', city_normalized, gender_code, birth_date FROM raw.hubspot_contacts"
    ).fetchall()
    assert stored == [(False, "sãopaulo", None, None)], "an unmapped role is not even requested"

    httpx.post(f"{pipeline.server.url}/_sandbox/hubspot/contacts/6101/update",
               json={"properties": {"city": "Lyon", "country": "France"}}, timeout=30).raise_for_status()
    httpx.post(f"{pipeline.server.url}/_sandbox/hubspot/deals/re-id", json={"firstId": 900_000},
               timeout=30).raise_for_status()  # fmt: skip
    run_dag("hubspot_deals", MIDNIGHT + dt.timedelta(hours=1), conf=HUBSPOT_CONF)
    pipeline.reconcile()
    again = pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))

    assert again["sent"] == 0
    assert received_counts(pipeline.server)[f"won_hubspot:{WON_DEAL}"] == 1, "one sale, one checkout"
