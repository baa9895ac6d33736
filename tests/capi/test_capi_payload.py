"""The pure CAPI rules: one checkout per won deal, hashed once, skipped with a reason, and conforming to the spec."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from pin2deal.capi import payload as capi
from pin2deal.capi.payload import CapiSettings, decide, validate_event
from tests.capi.capi_worlds import contact, official_spec_or_skip, outbox_row

NOW = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
WON = NOW - dt.timedelta(days=2)
DEFAULTS = CapiSettings()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_won_paid_deal_becomes_one_checkout_with_hashed_user_data_and_the_raw_click_id() -> None:
    row = outbox_row(
        42,
        WON,
        contacts=[contact(1, email="  Buyer1@Example.COM ", first_name=" Jeanne ", last_name="Martin  Dupont")],
        ip_address="203.0.113.9",
        user_agent="Mozilla/5.0",
        amount="1200.50",
    )

    decision = decide(row, DEFAULTS, NOW)

    assert decision.reason is None
    assert decision.event == {
        "event_name": "checkout",
        "action_source": "offline",
        "event_time": int(WON.timestamp()),
        "event_id": "won_hubspot:42",
        "user_data": {
            "em": [sha("buyer1@example.com")],
            "ph": [sha("33612345678")],
            "fn": [sha("jeanne")],
            "ln": [sha("martin dupont")],
            "country": [sha("fr")],
            "external_id": [sha("hubspot_contact:70001")],
            "click_id": "dj0yJnU942",
            "client_ip_address": "203.0.113.9",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {"currency": "EUR", "value": "1200.50", "order_id": "hubspot:42"},
        "partner_name": "ss-pin2deal",
    }
    assert validate_event(decision.event) == []


def test_phones_without_e164_are_read_in_the_contacts_country_then_the_default_region() -> None:
    french = contact(1, phone_e164=None, phone="06 12 34 56 78", country="France")
    unknown_country = contact(2, phone_e164=None, phone="(415) 555-2671", country="Atlantis")
    german_default = contact(3, phone_e164=None, phone="030 901820", country=None)
    unusable = contact(4, phone_e164=None, phone="n/a")
    row = outbox_row(1, WON, contacts=[french, unknown_country, german_default, unusable])

    in_us = decide(row, DEFAULTS, NOW).event["user_data"]["ph"]
    in_germany = decide(row, CapiSettings(default_region="DE"), NOW).event["user_data"]["ph"]

    assert in_us == [sha("33612345678"), sha("14155552671")]  # a German national number is no US number
    assert in_germany == [sha("33612345678"), sha("494155552671"), sha("4930901820")]


def test_several_contacts_give_several_distinct_hashes_and_no_contact_needs_ip_and_user_agent() -> None:
    row = outbox_row(1, WON, contacts=[contact(1), contact(2, email="BUYER1@example.com"), contact(3)])
    assert decide(row, DEFAULTS, NOW).event["user_data"]["em"] == [sha("buyer1@example.com"), sha("buyer3@example.com")]

    nobody = outbox_row(2, WON, contacts=[], ip_address="203.0.113.9", user_agent="Mozilla/5.0")
    assert decide(nobody, DEFAULTS, NOW).event["user_data"] == {
        "click_id": "dj0yJnU92",
        "client_ip_address": "203.0.113.9",
        "client_user_agent": "Mozilla/5.0",
    }
    assert decide(outbox_row(3, WON, contacts=[], ip_address="203.0.113.9"), DEFAULTS, NOW).reason == (
        capi.NO_IDENTIFIER
    )
    no_email = outbox_row(4, WON, contacts=[contact(4, email=None)])
    assert decide(no_email, DEFAULTS, NOW).reason == capi.NO_IDENTIFIER


@pytest.mark.parametrize(
    ("changes", "settings", "reason"),
    [
        ({"channel": "pinterest_organic"}, DEFAULTS, capi.CHANNEL_NOT_CONFIGURED),
        ({"channel": "unknown"}, DEFAULTS, capi.CHANNEL_NOT_CONFIGURED),
        ({"channel": "other"}, DEFAULTS, capi.CHANNEL_NOT_CONFIGURED),
        ({"won_at": NOW - dt.timedelta(days=7, seconds=1)}, DEFAULTS, capi.TOO_OLD),
        ({"won_at": NOW - dt.timedelta(days=3)}, CapiSettings(max_event_age_days=2), capi.TOO_OLD),
        ({"won_at": None}, DEFAULTS, capi.NO_WON_TIME),
        ({"reported_event_id": "won_hubspot:6", "reported_deal_id": 6, "reported_state": "sent"}, DEFAULTS,
         capi.LINEAGE_ALREADY_REPORTED),
        ({"reported_event_id": "won_hubspot:6", "channel": "other"}, DEFAULTS, capi.LINEAGE_ALREADY_REPORTED),
        ({"amount": None}, DEFAULTS, None),  # sent without value (below)
        ({"currency": "XYZ"}, DEFAULTS, None),
        ({"deal_consent": False}, DEFAULTS, capi.CONSENT_DENIED),
        ({"contacts": [contact(1), contact(2, consent=False)]}, DEFAULTS, capi.CONSENT_DENIED),
        ({"contacts": [contact(1, consent=False)]}, CapiSettings(consent_source="contact"), capi.CONSENT_DENIED),
        ({"channel": "pinterest_organic"}, CapiSettings(channels=("pinterest_paid", "pinterest_organic")), None),
        ({"deal_consent": False}, CapiSettings(consent_source="contact"), None),
        ({"deal_consent": None, "contacts": [contact(1, consent=None)]}, DEFAULTS, None),  # not captured
        ({"won_at": NOW - dt.timedelta(days=6, hours=23)}, DEFAULTS, None),
    ],
)
def test_skip_reasons(changes: dict, settings: CapiSettings, reason: str | None) -> None:
    decision = decide(outbox_row(7, **{"won_at": WON, **changes}), settings, NOW)
    assert decision.reason == reason, decision.detail
    assert (decision.event is None) == (reason is not None)
    if reason:
        assert decision.detail


def test_denied_consent_is_sent_with_opt_out_when_configured() -> None:
    event = decide(outbox_row(1, WON, deal_consent=False), CapiSettings(consent_denied="opt_out"), NOW).event
    assert event["opt_out"] is True
    assert "opt_out" not in decide(outbox_row(1, WON), CapiSettings(consent_denied="opt_out"), NOW).event


@pytest.mark.parametrize(
    ("changes", "custom", "warning"),
    [
        ({}, {"value": "1200.50", "currency": "EUR"}, None),
        ({"currency": "usd", "currency_raw": "usd"}, {"value": "1200.50", "currency": "USD"}, None),
        ({"currency": None, "currency_raw": " eur "}, {"value": "1200.50", "currency": "EUR"}, None),
        ({"amount": None, "amount_raw": None}, {}, "no amount"),
        ({"amount": None, "amount_raw": "1,200.50"}, {}, "amount '1,200.50' is not a number"),
        ({"amount": None, "amount_raw": " $300 "}, {}, "amount '$300' is not a number"),
        ({"amount": "-50", "amount_raw": "-50"}, {}, "amount '-50' is negative"),
        ({"currency": None, "currency_raw": None}, {}, "no currency"),
        ({"currency": None, "currency_raw": "XYZ"}, {}, "currency 'XYZ' is not an ISO 4217 code"),
    ],
)
def test_an_unusable_amount_or_currency_leaves_out_value_and_currency_with_a_warning(
    changes: dict, custom: dict, warning: str | None
) -> None:
    decision = decide(outbox_row(1, WON, **changes), DEFAULTS, NOW)
    assert decision.event["custom_data"] == {**custom, "order_id": "hubspot:1"}
    assert decision.warning == (f"{warning}: sent without value and currency" if warning else None)
    assert validate_event(decision.event) == []


def test_amounts_are_plain_decimal_strings() -> None:
    for amount, text in (("1E+3", "1000"), ("0.10", "0.10"), ("99", "99"), ("1234567.891", "1234567.891")):
        assert decide(outbox_row(1, WON, amount=amount), DEFAULTS, NOW).event["custom_data"]["value"] == text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channels", ("pinterest",)),
        ("channels", ()),
        ("action_source", "phone"),
        ("consent_source", "crm"),
        ("consent_denied", "drop"),
        ("max_event_age_days", 0),
        ("batch_size", 1001),
    ],
)
def test_settings_refuse_values_pinterest_or_the_rules_do_not_know(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        CapiSettings(**{field: value})


BROKEN_EVENTS = [
    ("missing event_id", lambda e: e.pop("event_id")),
    ("string event_time", lambda e: e.update(event_time=str(e["event_time"]))),
    ("unknown field", lambda e: e.update(purchase_value=1)),
    ("unknown custom field", lambda e: e["custom_data"].update(amount="1")),
    ("em not a list", lambda e: e["user_data"].update(em=e["user_data"]["em"][0])),
    ("numeric value", lambda e: e["custom_data"].update(value=12.5)),
    ("no identifier", lambda e: e["user_data"].pop("em")),
    ("opt_out not boolean", lambda e: e.update(opt_out="yes")),
]


@pytest.mark.pinterest_spec
@pytest.mark.parametrize(("name", "break_it"), BROKEN_EVENTS, ids=[name for name, _ in BROKEN_EVENTS])
def test_the_validator_refuses_what_the_official_spec_refuses(name: str, break_it) -> None:
    from sandbox.pinterest.spec import InvalidRequest

    spec = official_spec_or_skip()
    event = decide(outbox_row(1, WON), DEFAULTS, NOW).event
    break_it(event)

    assert validate_event(event), f"{name}: our validator let it through"
    with pytest.raises(InvalidRequest):
        spec.operation("events/create").validate_body({"data": [event]})


@pytest.mark.pinterest_spec
def test_every_kind_of_event_we_build_validates_against_the_official_spec() -> None:
    spec = official_spec_or_skip()
    rows = [
        outbox_row(1, WON),
        outbox_row(2, WON, contacts=[], ip_address="203.0.113.9", user_agent="UA"),
        outbox_row(3, WON, contacts=[contact(3), contact(4)], epik=None, deal_consent=False),
        outbox_row(4, WON, contacts=[contact(5, phone_e164=None, phone=None, first_name=None, last_name=None)]),
        outbox_row(5, WON, amount=None, amount_raw="call me"),  # sent without value and currency
        outbox_row(6, WON, currency="usd"),
    ]
    settings = CapiSettings(consent_denied="opt_out", action_source="web")
    events = [decide(row, settings, NOW).event for row in rows]
    assert all(events)
    spec.operation("events/create").validate_body({"data": events})
    assert capi.validate_body({"data": events}) == []
    assert capi.validate_body({"data": events * 251}) == ["data: 1 to 1000 events are required"]


LEAD_AGE_2 = CapiSettings(kinds={"lead": capi.KindSettings(max_event_age_days=2)})
LEAD_ORGANIC = CapiSettings(kinds={"lead": capi.KindSettings(channels=("pinterest_organic",))})


def lead_row(number: int, created: dt.datetime | None, **changes) -> dict:
    lead = {"event_id": f"lead_hubspot:{number}", "event_kind": "lead", "event_at": created, "amount": None,
            "amount_raw": None, "currency": None, "currency_raw": None}  # fmt: skip
    return outbox_row(number, None, **{**lead, **changes})


def test_a_lead_is_the_lineages_lead_moment_without_order_or_value_and_keeps_the_matching() -> None:
    decision = decide(lead_row(42, WON), DEFAULTS, NOW)

    assert decision.reason is None and decision.warning is None
    assert decision.event == {
        "event_name": "lead", "action_source": "offline", "event_time": int(WON.timestamp()),
        "event_id": "lead_hubspot:42", "user_data": decide(outbox_row(42, WON), DEFAULTS, NOW).event["user_data"],
        "partner_name": "ss-pin2deal",
    }  # fmt: skip
    assert validate_event(decision.event) == []


@pytest.mark.parametrize(
    ("changes", "settings", "reason"),
    [
        ({"event_at": None}, DEFAULTS, capi.NO_LEAD_TIME),
        ({"event_at": NOW - dt.timedelta(days=7, seconds=1)}, DEFAULTS, capi.TOO_OLD),
        ({"event_at": NOW - dt.timedelta(days=3)}, LEAD_AGE_2, capi.TOO_OLD),
        ({"channel": "pinterest_organic"}, LEAD_ORGANIC, None),
        ({}, LEAD_ORGANIC, capi.CHANNEL_NOT_CONFIGURED),
        ({"reported_event_id": "form-7", "reported_deal_id": 6, "reported_state": "sent"}, DEFAULTS,
         capi.LINEAGE_ALREADY_REPORTED),
    ],
)  # fmt: skip
def test_each_kind_has_its_own_channels_and_age_limit(changes: dict, settings: CapiSettings, reason: str | None):
    decision = decide(lead_row(7, WON, **changes), settings, NOW)
    assert decision.reason == reason, decision.detail
    if reason == capi.LINEAGE_ALREADY_REPORTED:
        assert "one lineage, one lead" in decision.detail
    # the checkout of the same deal follows the run-wide settings
    assert decide(outbox_row(7, WON), settings, NOW).reason is None


def test_kind_settings_refuse_unknown_kinds_and_values() -> None:
    with pytest.raises(ValueError, match="kinds"):
        CapiSettings(kinds={"purchase": capi.KindSettings()})
    with pytest.raises(ValueError, match="kinds.lead.channels"):
        CapiSettings(kinds={"lead": capi.KindSettings(channels=("pinterest",))})
    with pytest.raises(ValueError, match="kinds.lead.max_event_age_days"):
        CapiSettings(kinds={"lead": capi.KindSettings(max_event_age_days=0)})
    assert CapiSettings().enabled_kinds == ["lead", "checkout"], "documented defaults: lead and checkout"
