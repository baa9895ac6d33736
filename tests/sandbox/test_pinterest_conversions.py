"""Conversions API: per-event answers in request order, 200 vs 422, the 1,000-event limit, test mode, dedup,
which tokens are accepted and what is recorded for ``GET /_sandbox/events``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.settings import PinterestLimits
from tests.sandbox.test_pinterest_world import ACCOUNT_ID, ADS_TOKEN, CONVERSIONS_TOKEN, PinterestClient, serve

EVENTS = f"/v5/ad_accounts/{ACCOUNT_ID}/events"
DAY = 86_400
EMAIL_HASH = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"


def event(now: int, number: int, **changes: Any) -> dict[str, Any]:
    """A valid offline checkout (``won_<number>``), an hour old, with ``changes`` applied."""
    return {
        "event_name": "checkout",
        "action_source": "offline",
        "event_time": now - 3600,
        "event_id": f"won_{number}",
        "user_data": {"em": [EMAIL_HASH], "click_id": f"epik.{number}"},
        "custom_data": {"currency": "EUR", "value": "99.90", "order_id": str(number)},
        **changes,
    }


def sandbox_now(server: Any) -> int:
    return int(server.app.state.sandbox.now().timestamp())


def received(server: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{server.url}/_sandbox/events").json()["events"]


def conversions_client() -> PinterestClient:
    return PinterestClient("pinterest_conversions_default")


def test_all_processed_is_200_and_the_events_are_recorded(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    batch = [event(now, 1), event(now, 2, event_time=now - 7 * DAY + 60)]  # just inside the 7 days

    response = conversions_client().post(EVENTS, {"data": batch})

    assert response.status_code == 200
    assert response.json() == {
        "num_events_received": 2,
        "num_events_processed": 2,
        "events": [{"status": "processed", "error_message": None, "warning_message": None}] * 2,
    }
    recorded = received(server)
    assert [(e["ad_account_id"], e["event_id"], e["deduplicated"], e["event"]) for e in recorded] == [
        (ACCOUNT_ID, "won_1", False, batch[0]),
        (ACCOUNT_ID, "won_2", False, batch[1]),
    ]


def test_failed_events_get_their_reason_in_request_order_and_the_batch_is_422(
    sandbox_server: Any, tmp_path: Path
) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    batch = [
        event(now, 1),
        event(now, 2, event_time=now - 7 * DAY - 60),
        event(now, 3, event_name="purchase"),
        event(now, 4, event_time=(now - 60) * 1000),
        event(now, 5, user_data={"em": ["jane@example.com"]}),
        event(now, 6, action_source="phone"),
        event(now, 7, custom_data={"value": "1,5", "currency": "EUR"}),
        event(now, 8, custom_data={"value": "1.5", "currency": "euro"}),
    ]

    response = conversions_client().post(EVENTS, {"data": batch})

    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["message"]) == (422, "Not all events were successfully processed.")
    answers = body["details"]["events"]
    assert [a["status"] for a in answers] == [
        "processed",
        "failed",
        "failed",
        "failed",
        "processed",
        "failed",
        "failed",
        "failed",
    ]
    assert answers[1]["error_message"].startswith("event_time: ") and "older than 7 days" in answers[1]["error_message"]
    assert answers[2]["error_message"].startswith("event_name: 'purchase'")
    assert "not milliseconds" in answers[3]["error_message"]
    assert answers[4]["warning_message"] == "user_data.em[0]: not a lowercase SHA-256 hex digest"
    assert answers[5]["error_message"].startswith("action_source: 'phone'")
    assert answers[6]["error_message"] == "custom_data.value: '1,5' is not a number"
    assert answers[7]["error_message"].startswith("custom_data.currency: 'euro'")
    assert (body["details"]["num_events_received"], body["details"]["num_events_processed"]) == (8, 2)
    assert [e["event_id"] for e in received(server)] == ["won_1", "won_5"]


def test_more_than_1000_events_is_a_400_and_nothing_is_recorded(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    client = conversions_client()

    too_many = client.post(EVENTS, {"data": [event(now, n) for n in range(1001)]})
    limit = client.post(EVENTS, {"data": [event(now, n) for n in range(1000)]})

    assert too_many.status_code == 400
    assert too_many.json() == {"code": 4196, "message": "Invalid request: data: 1001 items, at most 1000 allowed"}
    assert limit.status_code == 200 and limit.json()["num_events_processed"] == 1000
    assert len(received(server)) == 1000


@pytest.mark.pinterest_spec
def test_schema_violations_reject_the_whole_request_naming_the_field(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    client = conversions_client()

    extra = client.post(EVENTS, {"data": [event(now, 1), event(now, 2, custom_data={"category_name": "x"})]})
    no_identity = client.post(EVENTS, {"data": [event(now, 1, user_data={"ph": [EMAIL_HASH]})]})
    missing = client.post(EVENTS, {"data": [{k: v for k, v in event(now, 1).items() if k != "event_id"}]})

    assert extra.status_code == no_identity.status_code == missing.status_code == 400
    assert extra.json()["message"] == (
        "Invalid request: data.1.custom_data: Additional properties are not allowed ('category_name' was unexpected)"
    )
    assert no_identity.json()["message"].startswith("Invalid request: data.0.user_data: ")
    assert missing.json()["message"] == "Invalid request: data.0: 'event_id' is a required property"
    assert received(server) == []


def test_test_mode_answers_the_same_and_records_nothing(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    client = conversions_client()

    ok = client.post(EVENTS, {"data": [event(now, 1)]}, params={"test": "true"})
    partial = client.post(EVENTS, {"data": [event(now, 1), event(now, 2, event_name="buy")]}, params={"test": "true"})

    assert ok.status_code == 200 and ok.json()["num_events_processed"] == 1
    assert partial.status_code == 422 and partial.json()["details"]["num_events_processed"] == 1
    assert received(server) == []


def test_a_repeated_event_id_is_processed_and_recorded_as_deduplicated(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    client = conversions_client()

    client.post(EVENTS, {"data": [event(now, 1), event(now, 2)]})
    again = client.post(EVENTS, {"data": [event(now, 2), event(now, 2, event_name="lead")]})

    assert again.status_code == 200
    assert [(e["event_id"], e["event_name"], e["deduplicated"]) for e in received(server)] == [
        ("won_1", "checkout", False),
        ("won_2", "checkout", False),
        ("won_2", "checkout", True),
        ("won_2", "lead", False),
    ]


def test_events_accept_the_conversion_or_the_ads_token_only(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    client = conversions_client()

    with_ads_token = client.post(EVENTS, {"data": [event(now, 1)]}, token=ADS_TOKEN)
    with_other = client.post(EVENTS, {"data": [event(now, 2)]}, token="pina_someone_else")
    conversion_token_on_ads = PinterestClient().get(f"/v5/ad_accounts/{ACCOUNT_ID}", token=CONVERSIONS_TOKEN)
    other_account = client.post("/v5/ad_accounts/42/events", {"data": [event(now, 3)]})

    assert client.token == CONVERSIONS_TOKEN
    assert with_ads_token.status_code == 200
    assert with_other.status_code == conversion_token_on_ads.status_code == 401
    assert with_other.json() == {"code": 2, "message": "Authentication failed."}
    assert other_account.status_code == 403
    assert [e["event_id"] for e in received(server)] == ["won_1"]


def test_only_events_sent_with_the_ads_token_count_against_the_conversions_budget(
    sandbox_server: Any, tmp_path: Path
) -> None:
    budgets = PinterestLimits(per_minute={"ads_conversions": 2})
    server, _ = serve(sandbox_server, tmp_path, days=0, settings={"rate_limits": True, "pinterest": budgets})
    now = sandbox_now(server)
    client = conversions_client()

    with_ads_token = [client.post(EVENTS, {"data": [event(now, n)]}, token=ADS_TOKEN).status_code for n in range(3)]
    with_conversion_token = [client.post(EVENTS, {"data": [event(now, n)]}).status_code for n in range(5)]
    test_requests = [
        client.post(EVENTS, {"data": [event(now, n)]}, params={"test": "true"}).status_code for n in range(11)
    ]

    assert with_ads_token == [200, 200, 429]
    assert with_conversion_token == [200] * 5  # "unlimited conversion-tracking events"
    assert test_requests == [200] * 10 + [429]  # test requests: 10 per second


def arm(server: Any, kind: str | None, **options: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/_sandbox/pinterest/events-fault", json={"kind": kind, **options})


def test_armed_faults_break_the_answer_after_processing_or_refuse_every_request_then_clear(
    sandbox_server: Any, tmp_path: Path
) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    now = sandbox_now(server)
    client = conversions_client()

    assert arm(server, "not_json").status_code == 200
    cut = client.post(EVENTS, {"data": [event(now, 1), event(now, 2)]})
    assert arm(server, "short_events", keep=0.5).status_code == 200
    short = client.post(EVENTS, {"data": [event(now, 3), event(now, 4), event(now, 5, event_name="buy")]})
    after = client.post(EVENTS, {"data": [event(now, 6)]})  # one answer each: cleared
    assert arm(server, "refuse_all", answers=0).status_code == 200
    refused = [client.post(EVENTS, {"data": [event(now, n)]}) for n in (7, 8)]
    test_request = client.post(EVENTS, {"data": [event(now, 9)]}, params={"test": "true"})
    arm(server, None)
    fixed = client.post(EVENTS, {"data": [event(now, 10)]})

    assert (cut.status_code, cut.headers["content-type"]) == (200, "application/json")
    with pytest.raises(ValueError):
        cut.json()
    assert short.status_code == 422  # one event failed; the verdicts no longer say which
    assert short.json()["details"] == {
        "num_events_received": 3, "num_events_processed": 2,
        "events": [{"status": "processed", "error_message": None, "warning_message": None}],
    }  # fmt: skip
    assert after.status_code == 200 and len(after.json()["events"]) == 1
    assert {response.status_code for response in refused} == {400}
    assert refused[0].json() == {
        "code": 4196, "message": "Invalid request: data[0].action_source: 'offline' is not supported"
    }  # fmt: skip
    assert test_request.status_code == 200 and fixed.status_code == 200
    assert [e["event_id"] for e in received(server)] == ["won_1", "won_2", "won_3", "won_4", "won_6", "won_10"]
    assert arm(server, "teapot").status_code == 400
