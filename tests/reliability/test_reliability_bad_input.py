"""Bad input, table-driven (tests/reliability/bad_input.py): every case in ONE world, through the whole pipeline in
one run of each DAG; per case the ``ops.record_issues`` row (record, field, reason) or its clean load, and the
good records all loaded (the invariants). Then the inputs the sandbox itself must refuse, naming file and line."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from sandbox.dataset import Dataset
from tests.reliability.bad_input import CASES, CONTACT, CSV, DEAL, OK, ROW, Case
from tests.reliability.world import pipeline_world

SOURCES = {DEAL: "hubspot.deal", CONTACT: "hubspot.contact", ROW: "pinterest.ad_daily", CSV: "channel_spend.csv"}
CSV_FILE = "spend-2025-06.csv"
DEAL_COLUMNS = {"deal": "raw.hubspot_deals", "contact": "raw.hubspot_contacts"}


def _plant(world, cases: tuple[Case, ...], csv_dir: Path) -> dict[int, str]:
    """Put every case into the world (or the spend CSV); return case index -> the key its issue is filed under."""
    keys: dict[int, str] = {}
    lines = [["channel", "campaign", "day", "spend", "currency"], ["meta", "Good line", "2025-06-01", "99.90", "USD"]]
    rows = sorted(world.dataset.analytics, key=lambda row: (row["DATE"], row["AD_ID"]))
    for index, case in enumerate(cases):
        fields = {case.field: case.raw, **dict(case.with_fields)}
        if case.record == DEAL:
            keys[index] = str(world.add_deal(won_days_ago=None, contacts=0, **fields))
        elif case.record == CONTACT:
            contact_id = world.add_contact(**fields)
            deal_id = world.add_deal(won_days_ago=None, contacts=0)
            world.dataset.deals[-1]["associations"]["contacts"] = [str(contact_id)]
            keys[index] = str(contact_id)
            assert deal_id
        elif case.record == CSV:
            line = {"channel": "meta", "campaign": f"Spring {index}", "day": "2025-06-02", "spend": "120.00",
                    "currency": "USD", case.field: case.raw}  # fmt: skip
            lines.append([line["channel"], line["campaign"], line["day"], line["spend"], line["currency"]])
            keys[index] = f"{CSV_FILE}:{len(lines)}"
        elif case.field == "AD_ID":  # a report row (see bad_input.py): converted after the run, not served
            keys[index] = f"{case.raw}/{rows[index]['DATE']}"
        else:
            row = rows[index]  # one existing ad-day per case: the sandbox serves the last row of an ad-day
            if case.raw is None:
                del row[case.field]
            else:
                row[case.field] = case.raw
            keys[index] = f"{row['AD_ID']}/{row['DATE']}"
    csv_dir.mkdir()
    with (csv_dir / CSV_FILE).open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(lines)
    return keys


def _convert_report_rows(warehouse, world, keys: dict[int, str]) -> None:
    """Unknown-id cases: the report loader's converter, with the hierarchy the run loaded, records their issues."""
    from pin2deal.hooks.warehouse import replace_record_issues
    from pin2deal.pinterest.spend import AD_DAILY_SOURCE, AdDayRows

    hierarchy = {ad: (group, campaign) for ad, group, campaign in warehouse.execute(
        "SELECT ad_id, ad_group_id, campaign_id FROM raw.pinterest_ads")}  # fmt: skip
    template = world.dataset.analytics[0]
    rows = [
        {**template, "AD_ID": CASES[index].raw, "DATE": keys[index].split("/")[1]}
        for index in keys if CASES[index].record == ROW and CASES[index].field == "AD_ID"
    ]  # fmt: skip
    batch = AdDayRows(world.dataset.config["ad_account_id"], "USD", hierarchy).convert(rows)
    assert len(batch.rows) == len(rows), "a row of an unknown ad is loaded: its spend is real"
    with warehouse.transaction():
        replace_record_issues(warehouse, AD_DAILY_SOURCE, [issue[0] for issue in batch.issues], batch.issues)


def _stored(warehouse, case: Case, key: str):
    table, id_column = (
        ("raw.hubspot_deals", "deal_id") if case.record == DEAL else ("raw.hubspot_contacts", "contact_id")
    )
    column = case.stored[0]
    value = warehouse.execute(f"SELECT {column} FROM {table} WHERE {id_column} = %s", (int(key),)).fetchone()
    assert value is not None, f"{case.record} {key} not loaded"
    value = value[0]
    return value.isoformat() if isinstance(value, dt.datetime) else value


@pytest.mark.slow
def test_every_bad_input_is_flagged_with_record_field_and_reason_and_the_good_records_all_load(
    tmp_path, serve, pipeline, assert_invariants, warehouse
) -> None:
    world = pipeline_world(tmp_path / "world", deals=40)
    keys = _plant(world, CASES, tmp_path / "spend")
    server = serve(world)

    ran = pipeline(conf={"attribution_reconcile": {"channel_spend_dir": str(tmp_path / "spend")}})
    _convert_report_rows(warehouse, world, keys)

    issues: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for source, key, field, reason, raw_value in warehouse.execute(
        "SELECT source, record_key, field, reason, raw_value FROM ops.record_issues"
    ):
        issues.setdefault((source, key), set()).add((field, reason))
        assert raw_value is None or len(raw_value) <= 300, f"{source} {key}: a {len(raw_value)}-character raw_value"
        if source == "hubspot.contact":
            assert raw_value is None or field not in ("email", "phone", "mobilephone"), "raw PII in ops"
    failures = []
    for index, case in enumerate(CASES):
        got = issues.get((SOURCES[case.record], keys[index]), set())
        want = set() if case.expect == OK else {(case.field, case.expect)}
        if got != want:
            failures.append(f"#{index + 1} {case.record} {case.field}={case.shown[:40]}: issues {got}, want {want}")
        elif case.stored and case.record != ROW and (value := _stored(warehouse, case, keys[index])) != case.stored[1]:
            failures.append(f"#{index + 1} {case.field}={case.shown[:40]}: {case.stored[0]} = {value!r}")
    assert not failures, f"{len(failures)} of {len(CASES)} cases:\n" + "\n".join(failures)
    if "attribution_reconcile" in ran:  # the good spend lines all loaded, the bad ones not
        loaded = {row[0] for row in warehouse.execute("SELECT campaign FROM raw.channel_spend")}
        good = {"Good line"} | {case.raw for case in CASES if case.record == CSV and case.expect == OK}
        assert loaded == good, loaded
    big = warehouse.execute(
        "SELECT length(properties ->> 'dealname') FROM raw.hubspot_deals ORDER BY 1 DESC LIMIT 1"
    ).fetchone()[0]
    assert big == 10 * 1024 * 1024, "a 10 MB text value is kept whole in raw"
    texts = assert_invariants(world, server, ran)
    assert len(texts["captured task output"]) < 2_000_000, "no task logs a 10 MB value"


def _valid_world(root: Path) -> Path:
    world = pipeline_world(root, deals=3)
    return world.save()


@pytest.mark.parametrize(
    ("file", "line", "damage", "message"),
    [
        ("hubspot/deals.jsonl", 2, lambda text: text.replace("\n", "\n{\"id\": \"7\", ", 1), "not a JSON value"),
        ("hubspot/contacts.jsonl", 3, lambda text: "\n".join(text.split("\n")[:2] + ["[1, 2"]), "not a JSON value"),
        ("pinterest/analytics.jsonl", 1, lambda text: "DATE,AD_ID\n" + text, "not a JSON value"),
        ("config.json", 3, lambda text: text.replace('"', "'", 6), "not a JSON document"),
        ("hubspot/pipelines.json", 1, lambda text: text[: len(text) // 2], "not a JSON document"),
    ],
)
def test_a_dataset_file_that_is_not_valid_json_is_refused_naming_file_and_line(
    tmp_path, sandbox_server, file, line, damage, message
) -> None:
    root = _valid_world(tmp_path / "world")
    path = root / file
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")

    with pytest.raises(ValueError, match=message) as refused:
        sandbox_server(root)
    assert f"{file}:" in str(refused.value) and (file.endswith(".json") or f":{line}:" in str(refused.value))


def test_a_hubspot_property_that_is_an_object_is_refused_naming_file_line_and_property(
    tmp_path, sandbox_server
) -> None:
    """HubSpot sends every property value as a string (a number written to it is coerced, as the sandbox does);
    a dataset holding an object or a list where a value belongs is refused before anything is served."""
    root = _valid_world(tmp_path / "world")
    dataset = Dataset.load(root)
    dataset.deals[1]["properties"]["amount"] = {"value": 1250.5, "currency": "USD"}
    dataset.save(root)
    assert json.loads((root / "hubspot" / "deals.jsonl").read_text().splitlines()[1])["properties"]["amount"]

    with pytest.raises(ValueError, match=r"hubspot/deals.jsonl line 2 \(id '\d+'\): property 'amount': .* got dict"):
        sandbox_server(root)
