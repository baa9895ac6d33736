"""The seeded world generator: determinism, the dataset format (docs/design.md), spec conformance, world rules."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from pin2deal.hooks.hubspot_api import ATTRIBUTION_ROLES
from sandbox import generate as gen
from sandbox.dataset import Dataset
from sandbox.pinterest.spec import default_spec_path

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2025, 6, 30)
NOW = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
DEALS = 2000
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
EPIK = re.compile(r"^dj0yJnU9[A-Za-z0-9+/]{40,80}={0,2}$")
FILES = (
    "config.json",
    "hubspot/deals.jsonl",
    "hubspot/contacts.jsonl",
    "hubspot/pipelines.json",
    "hubspot/properties.json",
    "pinterest/campaigns.jsonl",
    "pinterest/ad_groups.jsonl",
    "pinterest/ads.jsonl",
    "pinterest/analytics.jsonl",
)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    gen.generate(out, deals=DEALS, seed=7, today=TODAY)
    return out


@pytest.fixture(scope="module")
def world(world_dir: Path) -> Dataset:
    return Dataset.load(world_dir)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    path = default_spec_path()
    assert path.exists(), f"the Pinterest OpenAPI description is missing at {path} (`make spec`)"
    return json.loads(path.read_text(encoding="utf-8"))


def props(record: dict[str, Any]) -> dict[str, str | None]:
    return record["properties"]


def instant(value: str) -> dt.datetime:
    """A HubSpot datetime string: ISO-8601 with Z, or epoch milliseconds."""
    if value.isdigit():
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    assert ISO.match(value), value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def normalised(name: str) -> str:
    """DESIGN's campaign-name rule: case-folded, runs of spaces, - and _ collapsed."""
    return " ".join(re.sub(r"[\s_-]+", " ", name.casefold()).split())


def stage_kinds(world: Dataset) -> dict[str, str]:
    kinds = {}
    for pipeline in world.pipelines["results"]:
        for stage in pipeline["stages"]:
            closed, probability = stage["metadata"]["isClosed"], stage["metadata"]["probability"]
            kinds[stage["id"]] = "open" if closed == "false" else "won" if probability == "1.0" else "lost"
    return kinds


# --- determinism and format ---------------------------------------------------------------------------------------
def test_same_seed_writes_identical_files_and_another_seed_another_world(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        gen.generate(tmp_path / name, deals=300, seed=seed, today=TODAY)
    for file in FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    for file in ("config.json", "hubspot/deals.jsonl", "hubspot/contacts.jsonl", "pinterest/analytics.jsonl"):
        assert (tmp_path / "a" / file).read_bytes() != (tmp_path / "c" / file).read_bytes(), file


def test_every_file_is_written_and_loads_back_as_the_returned_dataset(tmp_path: Path) -> None:
    returned = gen.generate(tmp_path, deals=500, seed=11, today=TODAY)
    for file in FILES:
        assert (tmp_path / file).stat().st_size > 0, file
    loaded = Dataset.load(tmp_path)
    assert loaded == returned
    assert len(loaded.deals) == 500 and loaded.today == TODAY


def test_an_empty_crm_still_gets_a_pinterest_account(tmp_path: Path) -> None:
    world = gen.generate(tmp_path, deals=0, seed=1, today=TODAY)
    assert world.deals == [] and world.contacts == []
    assert len(world.campaigns) == gen.MIN_CAMPAIGNS and world.analytics


def test_config_has_tokens_account_and_every_logical_property(world: Dataset) -> None:
    config = world.config
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(rf"pat-na1-{uuid}", config["hubspot_token"])
    for key in ("pinterest_ads_token", "pinterest_conversions_token"):
        assert re.fullmatch(r"pina_[A-Z2-7]{96}", config[key]), key
    assert config["pinterest_ads_token"] != config["pinterest_conversions_token"]
    assert re.fullmatch(r"\d{12}", config["ad_account_id"])
    assert config["currency"] == "USD" and ZoneInfo(config["timezone"]) and config["today"] == "2025-06-30"
    assert set(config["properties"]) == {
        "epik",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "pinterest_campaign_id",
        "pinterest_ad_group_id",
        "pinterest_ad_id",
        "ads_consent",
        "ip_address",
        "user_agent",
        "legacy_deal_id",
        *(f"first_touch_{role}" for role in ATTRIBUTION_ROLES),
    }


def test_every_property_used_or_configured_is_declared(world: Dataset) -> None:
    declared = {kind: {p["name"]: p for p in world.properties[kind]} for kind in ("deals", "contacts")}
    for logical, name in world.config["properties"].items():
        kind = "contacts" if logical == "ads_consent" else "deals"
        assert name in declared[kind], f"{logical} -> {name} is not a declared {kind} property"
        assert declared[kind][name]["hubspotDefined"] is False
    for stage in stage_kinds(world):
        assert declared["deals"][f"hs_v2_date_entered_{stage}"]["type"] == "datetime"
    for kind, records in (("deals", world.deals), ("contacts", world.contacts)):
        used = {name for record in records for name in props(record)}
        assert used <= set(declared[kind]), used - set(declared[kind])
    assert declared["deals"]["amount"]["type"] == "number"
    assert declared["deals"]["hs_is_closed_won"]["type"] == "bool"
    assert declared["deals"]["closedate"]["type"] == "datetime"
    assert [o["value"] for o in declared["deals"]["deal_currency_code"]["options"]] == ["USD", "EUR"]


def test_hubspot_documents_deserialise_into_the_client_models(world: Dataset) -> None:
    from hubspot.crm import contacts, deals, pipelines, properties

    def strict(package: Any) -> Any:
        """The package's client with its models' required-field and enum checks on (off by default)."""
        configuration = package.Configuration()
        configuration.client_side_validation = True
        return package.ApiClient(configuration=configuration)

    def load(client: Any, document: Any, model: str) -> Any:
        return client.deserialize(SimpleNamespace(data=json.dumps(document)), model)

    for kind in ("deals", "contacts"):
        parsed = load(strict(properties), {"results": world.properties[kind]}, "CollectionResponsePropertyNoPaging")
        assert [p.name for p in parsed.results] == [p["name"] for p in world.properties[kind]]
    parsed = load(strict(pipelines), world.pipelines, "CollectionResponsePipelineNoPaging")
    assert {p.id for p in parsed.results} == {"default", "75811447"}
    client = strict(deals)
    for deal in world.deals[::7]:
        record = {key: value for key, value in deal.items() if key != "associations"}
        parsed = load(client, record, "SimplePublicObjectWithAssociations")
        assert parsed.id == deal["id"] and parsed.properties == deal["properties"]
        assert parsed.archived is deal["archived"] and parsed.created_at.tzinfo is not None
    client = strict(contacts)
    for contact in world.contacts[::7]:
        assert load(client, contact, "SimplePublicObject").properties == contact["properties"]


def test_pipelines_have_one_closed_won_and_one_closed_lost_stage(world: Dataset) -> None:
    assert len(world.pipelines["results"]) >= 2
    for pipeline in world.pipelines["results"]:
        assert {"id", "label", "displayOrder", "createdAt", "updatedAt", "archived", "stages"} <= set(pipeline)
        metadata = [stage["metadata"] for stage in pipeline["stages"]]
        assert all(isinstance(v, str) for m in metadata for v in m.values())
        assert metadata.count({"isClosed": "true", "probability": "1.0"}) == 1
        assert metadata.count({"isClosed": "true", "probability": "0.0"}) == 1


# --- Pinterest ----------------------------------------------------------------------------------------------------
def json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: ``nullable: true`` becomes "or null"."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [{"type": "null"}, converted]} if node.get("nullable") is True else converted


def declared(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Every property name a schema declares, through $ref and allOf."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= declared(spec, part)
    return names


@pytest.mark.pinterest_spec
@pytest.mark.parametrize(
    ("file", "schema"),
    [("campaigns", "CampaignResponse"), ("ad_groups", "AdGroupResponse"), ("ads", "AdResponse")],
)
def test_pinterest_objects_match_the_v5_list_response_schemas(
    world: Dataset, spec: dict[str, Any], file: str, schema: str
) -> None:
    list_path = {"campaigns": "campaigns", "ad_groups": "ad_groups", "ads": "ads"}[file]
    response = spec["paths"][f"/ad_accounts/{{ad_account_id}}/{list_path}"]["get"]["responses"]["200"]
    items = response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["items"]["items"]
    assert items == {"$ref": f"#/components/schemas/{schema}"}
    validator = jsonschema.Draft4Validator({"$ref": items["$ref"], "components": json_schema(spec["components"])})
    known = declared(spec, items)
    records = getattr(world, file)
    for record in records:
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(record)]
        assert not errors, f"{file} {record['id']}: {errors}"
        assert set(record) <= known, f"{file} {record['id']}: undeclared {set(record) - known}"
        assert record["ad_account_id"] == world.config["ad_account_id"]
    assert len({r["id"] for r in records}) == len(records)


@pytest.mark.pinterest_spec
def test_analytics_rows_use_real_column_names_and_add_up(world: Dataset, spec: dict[str, Any]) -> None:
    columns = set(spec["components"]["parameters"]["query_columns"]["schema"]["items"]["enum"])
    row_schema = json_schema(spec["components"]["schemas"]["AdsAnalyticsResponse"])
    jsonschema.Draft4Validator(row_schema).validate(world.analytics[:500])
    first, last = TODAY - dt.timedelta(days=gen.HISTORY_DAYS), TODAY - dt.timedelta(days=1)
    seen = set()
    for row in world.analytics:
        assert set(row) - {"DATE"} <= columns, set(row) - columns
        assert first <= dt.date.fromisoformat(row["DATE"]) <= last
        assert 5_000_000 <= row["SPEND_IN_MICRO_DOLLAR"] <= 300_001_000
        assert row["TOTAL_CHECKOUT"] == (
            row["TOTAL_CLICK_CHECKOUT"] + row["TOTAL_VIEW_CHECKOUT"] + row["TOTAL_ENGAGEMENT_CHECKOUT"]
        )
        assert row["PAID_IMPRESSION"] <= row["TOTAL_IMPRESSION"]
        assert all(isinstance(v, int) for k, v in row.items() if k.isupper() and not k.endswith("ID") and k != "DATE")
        seen.add((row["DATE"], row["AD_ID"]))
    assert len(seen) == len(world.analytics), "one row per ad per day"


def test_pinterest_hierarchy_and_analytics_ids_are_consistent(world: Dataset) -> None:
    campaigns = {c["id"]: c for c in world.campaigns}
    groups = {g["id"]: g for g in world.ad_groups}
    ads = {a["id"]: a for a in world.ads}
    assert all(g["campaign_id"] in campaigns for g in groups.values())
    for ad in ads.values():
        assert groups[ad["ad_group_id"]]["campaign_id"] == ad["campaign_id"]
    zone = ZoneInfo(world.config["timezone"])
    for row in world.analytics:
        ad = ads[row["AD_ID"]]
        assert (row["AD_GROUP_ID"], row["CAMPAIGN_ID"]) == (ad["ad_group_id"], ad["campaign_id"])
        campaign, day = campaigns[ad["campaign_id"]], dt.date.fromisoformat(row["DATE"])
        assert dt.datetime.fromtimestamp(campaign["start_time"], zone).date() <= day
        if campaign["end_time"] is not None:
            assert day < dt.datetime.fromtimestamp(campaign["end_time"], zone).date()
        assert ad["review_status"] == "APPROVED" and campaign["summary_status"] != "NOT_STARTED"


def test_statuses_include_an_archived_campaign_that_spent(world: Dataset) -> None:
    spend = Counter()
    for row in world.analytics:
        spend[row["CAMPAIGN_ID"]] += row["SPEND_IN_MICRO_DOLLAR"]
    statuses = {c["status"] for c in world.campaigns}
    assert {"ACTIVE", "PAUSED", "ARCHIVED"} <= statuses
    assert any(c["status"] == "ARCHIVED" and spend[c["id"]] > 0 for c in world.campaigns)
    assert any(c["summary_status"] == "RUNNING" and spend[c["id"]] > 0 for c in world.campaigns)
    assert len(world.campaigns) == DEALS // gen.DEALS_PER_CAMPAIGN
    keys = [normalised(c["name"]).replace(" ", "") for c in world.campaigns]
    assert len(set(keys)) == len(keys), "campaign names must stay unique under the matching rule"


# --- HubSpot deals and contacts -------------------------------------------------------------------------------------
def test_channel_shares_are_near_the_knobs(world: Dataset) -> None:
    p = world.config["properties"]
    paid = sum(bool(props(d).get(p["epik"])) for d in world.deals)
    organic = sum(
        not props(d).get(p["epik"]) and (props(d).get(p["utm_source"]) or "").lower() == "pinterest"
        for d in world.deals
    )
    assert abs(paid / DEALS - gen.PINTEREST_PAID_SHARE) < 0.035
    assert abs(organic / DEALS - gen.PINTEREST_ORGANIC_SHARE) < 0.025
    sources = Counter(props(d)["hs_analytics_source"] for d in world.deals)
    assert {"PAID_SOCIAL", "PAID_SEARCH", "ORGANIC_SEARCH", "DIRECT_TRAFFIC", "EMAIL_MARKETING", "OFFLINE"} <= set(
        sources
    )
    with_ip = [d for d in world.deals if props(d).get(p["ip_address"])]
    assert with_ip and all(props(d).get(p["user_agent"]) for d in with_ip)
    assert sum(bool(props(d).get(p["epik"])) for d in with_ip) > len(with_ip) / 2


def test_paid_deals_follow_ads_that_delivered_and_resolve_like_design_says(world: Dataset) -> None:
    p = world.config["properties"]
    campaigns = {c["id"]: c for c in world.campaigns}
    groups = {g["id"]: g for g in world.ad_groups}
    ads = {a["id"]: a for a in world.ads}
    delivered = defaultdict(set)
    for row in world.analytics:
        delivered[row["AD_ID"]].add(dt.date.fromisoformat(row["DATE"]))
    by_name = {normalised(c["name"]): c["id"] for c in world.campaigns}
    resolution = Counter()
    for deal in world.deals:
        values = props(deal)
        if not values.get(p["epik"]):
            continue
        ad_id = values.get(p["pinterest_ad_id"])
        if ad_id:
            ad = ads[ad_id]
            assert ad["ad_group_id"] == values[p["pinterest_ad_group_id"]] in groups
            assert ad["campaign_id"] == values[p["pinterest_campaign_id"]] in campaigns
            created = instant(values["createdate"]).date()
            window = {created - dt.timedelta(days=k) for k in range(gen.CLICK_TO_LEAD_MAX_DAYS + 2)}
            assert delivered[ad_id] & window, f"deal {deal['id']} came from ad {ad_id}, which was not delivering"
            resolution["macro"] += 1
        utm = values.get(p["utm_campaign"])
        if utm is None:
            resolution["no utm"] += 1
        elif utm in campaigns:
            resolution["utm id"] += 1
        elif utm in (c["name"] for c in campaigns.values()):
            resolution["exact name"] += 1
        elif normalised(utm) in by_name:
            resolution["name variant"] += 1
        else:
            resolution["unresolved"] += 1
        content = values.get(p["utm_content"])
        if content is not None:
            assert content in ads or content in (g["name"] for g in groups.values()), content
    assert all(resolution[kind] > 10 for kind in ("macro", "utm id", "exact name", "name variant", "unresolved"))
    assert resolution["no utm"] > 0


def test_first_touch_properties_differ_from_the_last_touch_on_a_share_of_deals(world: Dataset) -> None:
    """Some deals repeat their last touch as their first; others opened with another paid click (another campaign
    or another ad), with an organic Pin before a paid click, or with a paid click before another channel's."""
    p = world.config["properties"]
    kinds = Counter()
    for deal in world.deals:
        values = props(deal)
        first = {role: values.get(p[f"first_touch_{role}"]) for role in ATTRIBUTION_ROLES}
        last = {role: values.get(p[role]) for role in ATTRIBUTION_ROLES}
        if not any(first.values()):
            kinds["none"] += 1
        elif first == last:
            kinds["same"] += 1
        elif last["epik"] and first["epik"]:
            same = first["pinterest_campaign_id"] == last["pinterest_campaign_id"] is not None
            kinds["another ad" if same else "another click"] += 1
        elif last["epik"]:
            assert first["utm_source"] == "pinterest" and not first["pinterest_campaign_id"]
            kinds["organic, then paid"] += 1
        else:
            assert first["epik"] and not last["epik"]
            kinds["paid, then another channel"] += 1
    deals = len(world.deals)
    assert 0.1 < (deals - kinds["none"]) / deals < 0.5, kinds
    differing = ("another click", "organic, then paid", "paid, then another channel")
    assert kinds["same"] > 10 and all(kinds[kind] > 10 for kind in differing), kinds
    assert kinds["another ad"] > 0, kinds


def test_contacts_are_associated_shared_and_sometimes_missing(world: Dataset) -> None:
    contacts = {c["id"]: c for c in world.contacts}
    assert len(contacts) == len(world.contacts)
    uses = Counter(cid for d in world.deals for cid in d["associations"]["contacts"])
    assert set(uses) == set(contacts), "every association points to a contact and every contact has a deal"
    assert any(n > 1 for n in uses.values()), "some contacts are shared between deals"
    assert any(not d["associations"]["contacts"] for d in world.deals)
    assert any(len(d["associations"]["contacts"]) == 2 for d in world.deals)
    values = [props(c) for c in world.contacts]
    assert any("email" not in v for v in values) and any("phone" not in v for v in values)
    assert any(v.get("email", "").strip() != v.get("email", "") for v in values)
    assert any(v.get("email", "") != v.get("email", "").lower() for v in values)
    assert any(re.fullmatch(r"\(\d{3}\) 555-01\d\d", v.get("phone", "")) for v in values)
    assert any(re.fullmatch(r"01 99 00 \d\d \d\d", v.get("phone", "") + v.get("mobilephone", "")) for v in values)
    consent = Counter(v.get(world.config["properties"]["ads_consent"]) for v in values)
    assert consent["denied"] and consent["false"] and consent["granted"] and consent[None]
    assert all(v["hs_object_id"] == c["id"] for v, c in zip(values, world.contacts, strict=True))


def test_contacts_carry_addresses_some_typed_messily_and_some_a_gender_and_a_date_of_birth(world: Dataset) -> None:
    """What the Conversions API matches on besides email and phone, as people type it (docs/capi.md, "Matching")."""
    values = [props(c) for c in world.contacts]
    cities, states, zips = (Counter(v.get(name) for v in values) for name in ("city", "state", "zip"))
    assert cities[None] and states[None] and zips[None], "some contacts have no address"
    assert cities["São Paulo "] and cities["San Francisco "] and cities["SAN FRANCISCO"]
    assert states["CA"] and states["ca"] and states["California"]
    assert any(re.fullmatch(r"94105-\d{4}", code or "") for code in zips) and zips["SW1A 1AA"]
    assert Counter(v.get("country") for v in values)["United States"]
    genders = Counter(v.get("gender") for v in values)
    assert genders["female"] and genders["prefer not to say"] and genders[None]
    births = [v["date_of_birth"] for v in values if "date_of_birth" in v]
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d", born) for born in births)
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", born) for born in births), "some are day-first: unusable"


def test_merged_and_archived_deals(world: Dataset) -> None:
    ids = {d["id"] for d in world.deals}
    assert len(ids) == len(world.deals)
    merged = [props(d)["hs_merged_object_ids"] for d in world.deals if props(d).get("hs_merged_object_ids")]
    assert merged and any(";" in m for m in merged)
    for value in merged:
        assert not set(value.split(";")) & ids, "merged-away ids do not exist any more"
    archived = [d for d in world.deals if d["archived"]]
    assert archived and all(d["archivedAt"] == d["updatedAt"] for d in archived)
    assert all("archivedAt" not in d for d in world.deals if not d["archived"])


def test_date_rules(world: Dataset) -> None:
    kinds = stage_kinds(world)
    pipelines = {p["id"]: {s["id"] for s in p["stages"]} for p in world.pipelines["results"]}
    epoch = 0
    created_all = []
    for deal in world.deals:
        values = props(deal)
        created, modified = instant(values["createdate"]), instant(values["hs_lastmodifieddate"])
        created_all.append(created)
        assert deal["createdAt"] == values["createdate"] and deal["updatedAt"] == values["hs_lastmodifieddate"]
        assert created <= modified < NOW, deal["id"]
        stage, kind = values["dealstage"], kinds[values["dealstage"]]
        assert stage in pipelines[values["pipeline"]]
        assert values["hs_is_closed_won"] == ("true" if kind == "won" else "false")
        entries = {k: instant(v) for k, v in values.items() if k.startswith("hs_v2_date_entered_")}
        assert f"hs_v2_date_entered_{stage}" in entries, deal["id"]
        assert all(created <= t <= modified for t in entries.values()), deal["id"]
        epoch += any(v.isdigit() for k, v in values.items() if k == "closedate" or k in entries)
        if kind == "open":
            if "closedate" in values:
                assert instant(values["closedate"]) >= created
            continue
        entered = entries[f"hs_v2_date_entered_{stage}"]
        assert dt.timedelta(days=gen.CYCLE_DAYS[0] * 0.3) <= entered - created <= dt.timedelta(days=gen.CYCLE_DAYS[1])
        if kind == "won":
            assert entered - created >= dt.timedelta(days=gen.CYCLE_DAYS[0])
        if "closedate" in values:
            closed = instant(values["closedate"])
            assert created <= closed <= entered and entered - closed < dt.timedelta(days=3), deal["id"]
    assert 0.02 * DEALS < epoch < 0.1 * DEALS, "some datetimes arrive as epoch milliseconds"
    assert min(created_all) >= NOW - dt.timedelta(days=gen.HISTORY_DAYS + 1)
    assert max(created_all) >= NOW - dt.timedelta(days=2), "leads keep arriving up to today"
    assert any(instant(props(d)["closedate"]) > NOW for d in world.deals if "closedate" in props(d))
    for contact in world.contacts:
        values = props(contact)
        assert instant(values["createdate"]) <= instant(values["lastmodifieddate"]) < NOW
        assert contact["createdAt"] == values["createdate"]
    by_id = {c["id"]: instant(props(c)["createdate"]) for c in world.contacts}
    for deal in world.deals:
        for cid in deal["associations"]["contacts"]:
            assert by_id[cid] <= instant(props(deal)["createdate"])


def test_amounts_and_currencies(world: Dataset) -> None:
    countries = {c["id"]: props(c).get("country") for c in world.contacts}
    counts = Counter()
    for deal in world.deals:
        values = props(deal)
        currency, amount = values["deal_currency_code"], values.get("amount")
        counts[currency] += 1
        if amount is None or "amount_in_home_currency" not in values:
            continue
        home = float(values["amount_in_home_currency"])
        assert home == pytest.approx(float(amount) * (gen.EUR_TO_USD if currency == "EUR" else 1), abs=0.006)
        assert not re.search(r"\.\d*0$|e", amount), f"{amount} is not printed as HubSpot prints numbers"
        if currency == "EUR":
            assert {countries[c] for c in deal["associations"]["contacts"]} <= {"France", "Germany", "Deutschland"}
    assert counts["USD"] > counts["EUR"] > 0.05 * DEALS


def test_each_kind_of_bad_record_is_there_as_documented(world: Dataset) -> None:
    epik = world.config["properties"]["epik"]
    expected = gen.bad_record_count(DEALS)
    found, spoilt = Counter(), set()
    for deal in world.deals:
        values = props(deal)
        before = found.total()
        amount = values.get("amount")
        if amount is not None and not re.fullmatch(r"\d+(\.\d{1,2})?", amount):
            found["amount_tbd" if amount == "TBD" else "amount_with_currency"] += 1
            assert amount == "TBD" or re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d (USD|EUR)", amount), amount
        if values["deal_currency_code"] not in ("USD", "EUR"):
            assert values["deal_currency_code"] == "XYZ"
            found["unknown_currency"] += 1
        if values["hs_is_closed_won"] == "true" and "closedate" not in values:
            found["won_without_closedate"] += 1
        click = values.get(epik)
        if click is not None and not EPIK.match(click):
            kind = "epik_url_encoded" if "%3D" in click else "epik_with_spaces"
            assert EPIK.match(click.replace("%3D", "=").replace(" ", "")), click
            found[kind] += 1
        if found.total() > before:
            spoilt.add(deal["id"])
    for contact in world.contacts:
        phone = props(contact).get("phone")
        if phone is not None and sum(ch.isdigit() for ch in phone) < 7:
            found["phone_not_a_number"] += 1
    assert found == {kind: expected for kind in gen.BAD_RECORD_KINDS}
    assert len(spoilt) == found.total() - found["phone_not_a_number"], "one spoilt field per deal"
    assert not [d["id"] for d in world.deals if d["id"] in spoilt and d["archived"]]


def test_the_sample_channel_spend_csv_is_deterministic_and_valid(tmp_path: Path) -> None:
    from pin2deal.reconcile.channel_spend import parse_channel_spend

    for name in ("a", "b"):
        gen.generate(tmp_path / name, deals=50, seed=5, today=TODAY)
    first = (tmp_path / "a" / gen.CHANNEL_SPEND_FILE).read_text()
    assert first == (tmp_path / "b" / gen.CHANNEL_SPEND_FILE).read_text()
    parsed = parse_channel_spend(first, "other_channels.csv")
    assert parsed.issues == []
    assert len(parsed.rows) == gen.HISTORY_DAYS * len(gen.OTHER_CHANNEL_SPEND)
    assert {row[0] for row in parsed.rows} == {"google", "facebook", "instagram"}
    assert max(row[2] for row in parsed.rows) == TODAY - dt.timedelta(days=1)
