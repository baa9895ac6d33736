"""Async reports: create -> poll (IN_PROGRESS, then FINISHED with a url) -> download the JSON or CSV file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.pinterest.routes import REPORT_POLLS_IN_PROGRESS
from tests.sandbox.test_pinterest_world import ACCOUNT_ID, METRICS, TODAY, PinterestClient, expected_sums, serve

ACCOUNT = f"/v5/ad_accounts/{ACCOUNT_ID}"
NEEDS_SPEC = pytest.mark.pinterest_spec
START, END = TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=1)
LEVEL_KEYS = {
    "CAMPAIGN": ("CAMPAIGN_ID", "CAMPAIGN_ID"),
    "AD_GROUP": ("AD_GROUP_ID", "AD_GROUP_ID"),
    "PIN_PROMOTION": ("PIN_PROMOTION_ID", "AD_ID"),
    "ADVERTISER": ("ADVERTISER_ID", None),
}


def run_report(client: PinterestClient, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    """Create a report and poll it until FINISHED: (the download, the statuses seen while polling)."""
    created = client.post(f"{ACCOUNT}/reports", body)
    assert created.status_code == 200, created.text
    assert created.json()["report_status"] == "IN_PROGRESS"
    statuses = []
    for _ in range(REPORT_POLLS_IN_PROGRESS + 3):
        status = client.get(f"{ACCOUNT}/reports", {"token": created.json()["token"]}).json()
        statuses.append(status["report_status"])
        if status["report_status"] == "FINISHED":
            download = httpx.get(status["url"])  # a pre-signed URL: no Authorization header
            assert download.status_code == 200 and int(status["size"]) == len(download.content)
            return download, statuses
    raise AssertionError(f"the report never finished: {statuses}")


@pytest.mark.parametrize("level", list(LEVEL_KEYS))
def test_json_report_by_id_holds_each_entitys_daily_sums(sandbox_server: Any, tmp_path: Path, level: str) -> None:
    _, world = serve(sandbox_server, tmp_path, campaigns=3, days=25)
    key_column, source_column = LEVEL_KEYS[level]
    body = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "granularity": "DAY",
        "level": level,
        "columns": [*METRICS, "SPEND_IN_DOLLAR"],
    }

    download, statuses = run_report(PinterestClient(), body)

    assert statuses == ["IN_PROGRESS"] * REPORT_POLLS_IN_PROGRESS + ["FINISHED"]
    document = download.json()
    expected = expected_sums(world, lambda row: row[source_column] if source_column else ACCOUNT_ID, START, END)
    got = {}
    for entity, rows in document.items():
        for row in rows:
            assert row[key_column] == entity
            assert row["SPEND_IN_DOLLAR"] == row["SPEND_IN_MICRO_DOLLAR"] / 1e6
            got[(entity, row["DATE"])] = {metric: row.get(metric, 0) for metric in METRICS}
    assert got == expected


def test_json_report_by_date_filters_and_csv_layout(sandbox_server: Any, tmp_path: Path) -> None:
    _, world = serve(sandbox_server, tmp_path, campaigns=3, days=25)
    client = PinterestClient()
    wanted = [world.campaigns[0]["id"], world.campaigns[2]["id"]]
    body = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "granularity": "DAY",
        "level": "CAMPAIGN",
        "columns": ["CAMPAIGN_NAME", "SPEND_IN_MICRO_DOLLAR", "TOTAL_ENGAGEMENT"],
        "campaign_ids": wanted,
    }

    by_date = run_report(client, {**body, "primary_sort": "BY_DATE"})[0].json()
    as_csv = run_report(client, {**body, "report_format": "CSV"})[0]

    expected = expected_sums(
        world, lambda row: row["CAMPAIGN_ID"] if row["CAMPAIGN_ID"] in wanted else None, START, END
    )
    assert sorted(by_date) == sorted({day for _, day in expected})
    names = {c["id"]: c["name"] for c in world.campaigns}
    for day, rows in by_date.items():
        assert [row["CAMPAIGN_ID"] for row in rows] == sorted(wanted, key=int)
        for row in rows:
            assert row == {
                "DATE": day,
                "CAMPAIGN_ID": row["CAMPAIGN_ID"],
                "CAMPAIGN_NAME": names[row["CAMPAIGN_ID"]],
                "SPEND_IN_MICRO_DOLLAR": expected[(row["CAMPAIGN_ID"], day)]["SPEND_IN_MICRO_DOLLAR"],
            }
    # JSON does not zero-fill (TOTAL_ENGAGEMENT has no value), CSV does
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert list(lines[0]) == ["DATE", "CAMPAIGN_ID", "CAMPAIGN_NAME", "SPEND_IN_MICRO_DOLLAR", "TOTAL_ENGAGEMENT"]
    assert {(line["CAMPAIGN_ID"], line["DATE"]): int(line["SPEND_IN_MICRO_DOLLAR"]) for line in lines} == {
        key: sums["SPEND_IN_MICRO_DOLLAR"] for key, sums in expected.items()
    }
    assert {line["TOTAL_ENGAGEMENT"] for line in lines} == {"0"}


def test_rows_whose_metrics_are_all_zero_are_left_out(sandbox_server: Any, tmp_path: Path) -> None:
    server, world = serve(sandbox_server, tmp_path, campaigns=1, groups_per_campaign=1, ads_per_group=1, days=5)
    ad, day = world.ads[0]["id"], (TODAY - dt.timedelta(days=4)).isoformat()
    httpx.post(
        f"{server.url}/_sandbox/pinterest/restate",
        json={"ad_id": ad, "date": day, "metrics": dict.fromkeys(METRICS, 0)},
    )

    document = run_report(
        PinterestClient(),
        {
            "start_date": day,
            "end_date": TODAY.isoformat(),
            "granularity": "DAY",
            "level": "PIN_PROMOTION",
            "columns": list(METRICS),
        },
    )[0].json()

    assert [row["DATE"] for row in document[ad]] == [(TODAY - dt.timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)]


def test_the_download_refuses_an_authorization_header_like_a_presigned_s3_url(
    sandbox_server: Any, tmp_path: Path
) -> None:
    serve(sandbox_server, tmp_path, campaigns=1, days=2)
    client = PinterestClient()
    token = client.post(
        f"{ACCOUNT}/reports",
        {
            "start_date": START.isoformat(),
            "end_date": END.isoformat(),
            "granularity": "TOTAL",
            "level": "ADVERTISER",
            "columns": ["SPEND_IN_MICRO_DOLLAR"],
        },
    ).json()["token"]
    for _ in range(REPORT_POLLS_IN_PROGRESS + 1):
        url = client.get(f"{ACCOUNT}/reports", {"token": token}).json()["url"]

    with_auth = httpx.get(url, headers={"Authorization": f"Bearer {client.token}"})
    unknown = client.get(f"{ACCOUNT}/reports", {"token": "feedbeef"}).json()

    assert with_auth.status_code == 400 and "<Code>InvalidArgument</Code>" in with_auth.text
    assert httpx.get(url).status_code == 200
    assert unknown == {"report_status": "DOES_NOT_EXIST", "url": None, "size": None}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "start_date": (TODAY - dt.timedelta(days=915)).isoformat(),
                "end_date": (TODAY - dt.timedelta(days=900)).isoformat(),
            },
            "start_date: reports can pull data from up to 914",
        ),
        ({"start_date": (TODAY - dt.timedelta(days=187)).isoformat()}, "end_date: the maximum time range"),  # 187 days
        ({"end_date": (START - dt.timedelta(days=1)).isoformat()}, "end_date: must not be before start_date"),
        ({"level": "KEYWORD"}, "level: 'KEYWORD' is not emulated"),
        # The spec's validation answers these:
        pytest.param({"level": "CAMPAIGNS"}, "level: 'CAMPAIGNS' is not one of", marks=NEEDS_SPEC),
        pytest.param({"columns": ["SPEND"]}, "columns.0: 'SPEND' is not one of", marks=NEEDS_SPEC),
        pytest.param({"report_format": "XLSX"}, "report_format: 'XLSX' is not one of", marks=NEEDS_SPEC),
    ],
)
def test_invalid_report_requests_are_answered_400(
    sandbox_server: Any, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    serve(sandbox_server, tmp_path, campaigns=1, days=1)
    body = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "granularity": "DAY",
        "level": "CAMPAIGN",
        "columns": ["SPEND_IN_MICRO_DOLLAR"],
        **change,
    }

    response = PinterestClient().post(f"{ACCOUNT}/reports", body)

    assert response.status_code == 400
    assert response.json()["code"] == 1
    assert response.json()["message"].startswith(message), response.json()["message"]


def test_the_longest_report_range_is_accepted(sandbox_server: Any, tmp_path: Path) -> None:
    serve(sandbox_server, tmp_path, campaigns=1, days=1)
    body = {
        "start_date": (TODAY - dt.timedelta(days=914)).isoformat(),
        "end_date": (TODAY - dt.timedelta(days=914 - 185)).isoformat(),
        "granularity": "MONTH",
        "level": "CAMPAIGN",
        "columns": ["SPEND_IN_MICRO_DOLLAR"],
    }

    assert PinterestClient().post(f"{ACCOUNT}/reports", body).status_code == 200


def test_zero_metrics_are_left_out_of_sync_answers_and_json_reports_but_not_csv(
    sandbox_server: Any, tmp_path: Path
) -> None:
    """Pinterest omits a metric whose value is 0 ("If a column has no value, it may not be returned"; JSON reports
    "will not zero-fill"): a delivered ad-day without clicks has no TOTAL_CLICKTHROUGH at all."""
    server, world = serve(sandbox_server, tmp_path, campaigns=1, groups_per_campaign=1, ads_per_group=1, days=5)
    ad, day = world.ads[0]["id"], (TODAY - dt.timedelta(days=4)).isoformat()
    httpx.post(
        f"{server.url}/_sandbox/pinterest/restate",
        json={"ad_id": ad, "date": day, "metrics": {"TOTAL_CLICKTHROUGH": 0, "SPEND_IN_MICRO_DOLLAR": 1_500_000}},
    ).raise_for_status()
    client = PinterestClient()
    span = {"start_date": day, "end_date": day}

    sync = client.get(
        f"{ACCOUNT}/ads/analytics", {**span, "granularity": "DAY", "ad_ids": ad, "columns": ",".join(METRICS)}
    ).json()
    json_report = run_report(
        client, {**span, "granularity": "DAY", "level": "PIN_PROMOTION", "columns": list(METRICS)}
    )[0].json()
    csv_report = run_report(
        client,
        {**span, "granularity": "DAY", "level": "PIN_PROMOTION", "columns": list(METRICS), "report_format": "CSV"},
    )[0].text

    for row in (sync[0], json_report[ad][0]):
        assert row["SPEND_IN_MICRO_DOLLAR"] == 1_500_000 and row["PAID_IMPRESSION"] > 0
        assert "TOTAL_CLICKTHROUGH" not in row
        assert all(value != 0 for value in row.values())
    (line,) = csv.DictReader(io.StringIO(csv_report))
    assert line["TOTAL_CLICKTHROUGH"] == "0"


def test_answer_faults_are_armed_for_a_number_of_answers_and_refuse_bad_settings(
    sandbox_server: Any, tmp_path: Path
) -> None:
    server, world = serve(sandbox_server, tmp_path, campaigns=1, groups_per_campaign=1, ads_per_group=2, days=5)
    client = PinterestClient()
    query = {**{"start_date": START.isoformat(), "end_date": END.isoformat()}, "granularity": "DAY",
             "ad_ids": ",".join(ad["id"] for ad in world.ads), "columns": ",".join(METRICS)}  # fmt: skip
    full = client.get(f"{ACCOUNT}/ads/analytics", query).json()
    armed = httpx.post(f"{server.url}/_sandbox/pinterest/answer-fault", json={"kind": "truncate", "answers": 2})

    truncated = [client.get(f"{ACCOUNT}/ads/analytics", query).json() for _ in range(3)]

    assert armed.json() == {"kind": "truncate", "answers": 2, "keep": 0.5}
    assert [len(rows) for rows in truncated] == [len(full) // 2, len(full) // 2, len(full)]
    assert truncated[0] == full[: len(full) // 2]
    for body in ({"kind": "partial"}, {"kind": "empty", "answers": -1}, {"kind": "truncate", "keep": 1.5}):
        refused = httpx.post(f"{server.url}/_sandbox/pinterest/answer-fault", json=body)
        assert refused.status_code == 400 and "answer-fault" in refused.json()["message"]
