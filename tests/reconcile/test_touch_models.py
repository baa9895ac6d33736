"""Both touch models on every deal (docs/attribution.md, "Touch models"), through the real DAGs on a small
hand-computed world: each deal's last touch (its current click id, UTMs and macros) and first touch (the first_touch_*
roles) resolved by the same rules; a deal without first-touch values of its own has its first touch at its last; a
bad first-touch value is flagged while the rest loads; a CRM migration, a merge and a deletion move no lineage and
count none twice under either model; an incremental run equals a rebuild."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.hubspot.deal_worlds import CUSTOM, FAST, TOKEN, hubspot_connection
from tests.reconcile.reconcile_worlds import (
    A111,
    A112,
    A211,
    AD_GROUPS,
    ADS,
    C1,
    C2,
    CAMPAIGNS,
    CONFIG,
    DELIVERY,
    G11,
    G21,
    dataset,
    deal,
    epik,
    macros,
    paid,
)
from tests.reconcile.test_attribution_reconcile_dag import JUNE, MAY, figures, mutate, snapshot

T1, T2, T3, T4, T5, T6 = range(3001, 3007)


def first_macros(campaign: str, ad_group: str, ad: str) -> dict[str, str]:
    return {f"first_touch_{role}": value for role, value in macros(campaign, ad_group, ad).items()}


DEALS = [
    # a click on C1's Velvet pin last; the journey opened with a click on C2's Teak pin
    paid(T1, "2025-05-06", won="2025-05-20", **macros(C1, G11, A111), first_touch_epik=f"{epik(T1)}.first",
         **first_macros(C2, G21, A211)),
    # no first-touch values: the first touch is the last
    paid(T2, "2025-05-07", won="2025-05-21", utm_campaign="spring sofas"),
    # organic first (a Pin of "Summer Patio" without a click id), a paid click on C1's Linen pin last
    paid(T3, "2025-05-08", won="2025-05-22", **macros(C1, G11, A112), first_touch_utm_source="pinterest",
         first_touch_utm_campaign="Summer Patio"),
    # the reverse: a paid click on C1's Linen pin first, Google search last
    deal(T4, "2025-05-09", won="2025-05-23", utm_source="google", utm_campaign="brand_search_us",
         first_touch_epik=f"{epik(T4)}.first", **first_macros(C1, G11, A112)),
    # first-touch values equal to the last touch's: resolved once (merged into T6 later: HubSpot's merge gives T6
    # what T5 has and T6 lacks, here only a last-touch utm_campaign, which T6's macros outrank)
    paid(T5, "2025-05-12", utm_campaign=C2, first_touch_epik=epik(T5), first_touch_utm_source="pinterest",
         first_touch_utm_campaign=C2),
    # a malformed first-touch click id (flagged; it still came from a click), its first campaign by name
    paid(T6, "2025-05-13", **macros(C2, G21, A211), first_touch_epik="dj0y JnU9 first",
         first_touch_utm_source="pinterest", first_touch_utm_campaign="spring sofas"),
]  # fmt: skip
TOUCHES = (
    "channel, campaign_id, ad_group_id, ad_id, campaign_resolved_by, ad_group_resolved_by, ad_resolved_by, "
    "first_touch_channel, first_touch_campaign_id, first_touch_ad_group_id, first_touch_ad_id, "
    "first_touch_campaign_resolved_by, first_touch_ad_group_resolved_by, first_touch_ad_resolved_by, "
    "first_touch_differs"
)


def touch_world(deals: list[dict[str, Any]] = DEALS) -> Any:
    ads = {ad: ADS[ad] for ad in (A111, A112, A211)}
    return dataset(
        {cid: CAMPAIGNS[cid] for cid in (C1, C2)}, {group: AD_GROUPS[group] for group in (G11, G21)}, ads,
        [row for row in DELIVERY if row[0] in ads], json.loads(json.dumps(deals)), config=CONFIG,
    )  # fmt: skip


def touches(warehouse: psycopg.Connection) -> dict[int, tuple]:
    """stable key's deal number -> (last touch ..., first touch ..., differs)."""
    return {
        int(key.removeprefix("hubspot:")): tuple(rest)
        for key, *rest in warehouse.execute(
            f"SELECT stable_key, {TOUCHES} FROM mart.deal_attribution ORDER BY stable_key"
        ).fetchall()
    }


def won_by(warehouse: psycopg.Connection, model: str) -> dict[str | None, int]:
    """Won deals per campaign under a model (the last touch's columns, or the first touch's)."""
    column = "campaign_id" if model == "last_touch" else "first_touch_campaign_id"
    return dict(
        warehouse.execute(
            f"SELECT {column}, count(*) FROM mart.deal_attribution WHERE is_won GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )


def model_marts(warehouse: psycopg.Connection) -> dict[str, dict[tuple, tuple]]:
    """May under both models: per campaign and the ad account (mart.performance), per campaign's lead cohort
    (mart.cohort_cac) and per channel (mart.channel_performance)."""
    performance = warehouse.execute(
        "SELECT model, grain, grain_id, spend, leads, won, pinterest_won, cac FROM mart.performance "
        "WHERE grain IN ('account', 'campaign') AND period = 'month' AND period_start = %s",
        (MAY,),
    ).fetchall()
    cohorts = warehouse.execute(
        "SELECT model, grain_id, spend, leads, won_to_date, cac, open_deals FROM mart.cohort_cac "
        "WHERE grain = 'campaign' AND cohort_month = %s",
        (MAY,),
    ).fetchall()
    channels = warehouse.execute(
        "SELECT model, channel_name, spend, leads, won, cac FROM mart.channel_performance "
        "WHERE period = 'month' AND period_start = %s",
        (MAY,),
    ).fetchall()
    return {
        "performance": {(model, grain_id if grain == "campaign" else grain): figures(*rest)
                        for model, grain, grain_id, *rest in performance},
        "cohort_cac": {(model, grain_id): figures(*rest) for model, grain_id, *rest in cohorts},
        "channel_performance": {(model, name): figures(*rest) for model, name, *rest in channels},
    }  # fmt: skip


# May's spend: C1 $500 (A111: 5 days x $100), C2 $250 (A211: 5 days x $50).
MODEL_MARTS = {
    # (model, campaign or 'account') -> spend, leads (paid), won (paid), Pinterest won (paid or organic), CAC.
    # Last touch: C1 leads T1, T2, T3, all won; C2 leads T5, T6, open. First touch: C1 leads T2, T4 (won) and T6;
    # C2 leads T1 (won) and T5; T3's organic first touch is no lead, but a Pinterest win of C2.
    "performance": {
        ("last_touch", C1): figures(500, 3, 3, 3, "166.6667"),
        ("last_touch", C2): figures(250, 2, 0, 0, None),
        ("last_touch", "account"): figures(750, 5, 3, 3, 250),
        ("first_touch", C1): figures(500, 3, 2, 2, 250),
        ("first_touch", C2): figures(250, 2, 1, 2, 250),
        ("first_touch", "account"): figures(750, 5, 3, 4, 250),
    },
    # (model, campaign) -> spend, leads, won to date, cohort CAC, open deals
    "cohort_cac": {
        ("last_touch", C1): figures(500, 3, 3, "166.6667", 0),
        ("last_touch", C2): figures(250, 2, 0, None, 2),
        ("first_touch", C1): figures(500, 3, 2, 250, 1),
        ("first_touch", C2): figures(250, 2, 1, 250, 1),
    },
    # (model, channel) -> spend (another channel's unknown without its CSV), leads, won, CAC. T4's first touch moves
    # it from Google to Pinterest: no Google row under the first touch.
    "channel_performance": {
        ("last_touch", "pinterest"): figures(750, 5, 3, 250),
        ("last_touch", "google"): figures(None, 1, 1, None),
        ("first_touch", "pinterest"): figures(750, 6, 4, "187.5"),
    },
}
# After the re-id of T1 and T3, the merge of T5 into T6 and T2's deletion: last touch C1 T1, T3 (won), C2 T6;
# first touch C1 T4 (won), T6, C2 T1 (won); T3 still C2's organic win.
MODEL_MARTS_AFTER = {
    "performance": {
        ("last_touch", C1): figures(500, 2, 2, 2, 250),
        ("last_touch", C2): figures(250, 1, 0, 0, None),
        ("last_touch", "account"): figures(750, 3, 2, 2, 375),
        ("first_touch", C1): figures(500, 2, 1, 1, 500),
        ("first_touch", C2): figures(250, 1, 1, 2, 250),
        ("first_touch", "account"): figures(750, 3, 2, 3, 375),
    },
    "cohort_cac": {
        ("last_touch", C1): figures(500, 2, 2, 250, 0),
        ("last_touch", C2): figures(250, 1, 0, None, 1),
        ("first_touch", C1): figures(500, 2, 1, 500, 1),
        ("first_touch", C2): figures(250, 1, 1, 250, 0),
    },
    "channel_performance": {
        ("last_touch", "pinterest"): figures(750, 3, 2, 375),
        ("last_touch", "google"): figures(None, 1, 1, None),
        ("first_touch", "pinterest"): figures(750, 4, 3, 250),
    },
}

# Each deal's click ids (mart.deal_attribution): the last touch's `epik` (what the Conversions API sends) and the
# first touch's `first_touch_epik`: T1's and T4's first clicks have their own, T3's organic first touch has none, T6's
# malformed one is no click id (its `epik` is its last touch's); T2 and T5 have their first touch at their last.
EPIKS = {
    T1: (epik(T1), f"{epik(T1)}.first"),
    T2: (epik(T2), epik(T2)),
    T3: (epik(T3), None),
    T4: (None, f"{epik(T4)}.first"),
    T5: (epik(T5), epik(T5)),
    T6: (epik(T6), None),
}
# (model, campaign or 'account') -> Pinterest won in May, of which with an epik (the model's touch's). Last touch: C1
# won T1, T2, T3, each by a click. First touch: C1 won T2 and T4 (T4's first click has its own epik, its Google last
# touch none); C2 won T1 (its first click's epik) and T3 (organic first: no epik, though its last touch has one).
# ('truth', campaign): mart.truth_vs_platform's, the last touch's.
EPIK_COVERAGE = {
    ("last_touch", C1): (3, 3),
    ("last_touch", C2): (0, 0),
    ("last_touch", "account"): (3, 3),
    ("first_touch", C1): (2, 2),
    ("first_touch", C2): (2, 1),
    ("first_touch", "account"): (4, 3),
    ("truth", C1): (3, 3),
    ("truth", C2): (0, 0),
}
# After the re-id of T1 and T3, the merge of T5 into T6 and T2's deletion (T5 and T6 are open).
EPIK_COVERAGE_AFTER = {
    ("last_touch", C1): (2, 2),
    ("last_touch", C2): (0, 0),
    ("last_touch", "account"): (2, 2),
    ("first_touch", C1): (1, 1),
    ("first_touch", C2): (2, 1),
    ("first_touch", "account"): (3, 2),
    ("truth", C1): (2, 2),
    ("truth", C2): (0, 0),
}


def epiks(warehouse: psycopg.Connection) -> dict[int, tuple]:
    """stable key's deal number -> (epik, first_touch_epik)."""
    return {
        int(key.removeprefix("hubspot:")): (last, first)
        for key, last, first in warehouse.execute(
            "SELECT stable_key, epik, first_touch_epik FROM mart.deal_attribution ORDER BY stable_key"
        ).fetchall()
    }


def epik_coverage(warehouse: psycopg.Connection) -> dict[tuple, tuple]:
    """May's Pinterest won deals and those with an epik per model, campaign and the ad account (mart.performance);
    and per campaign the truth-vs-platform comparison's (every week: all wins are in May), which stays the last
    touch's: {('truth', campaign): (won, with epik)}."""
    coverage = {
        (model, grain_id if grain == "campaign" else grain): (won, with_epik)
        for model, grain, grain_id, won, with_epik in warehouse.execute(
            "SELECT model, grain, grain_id, pinterest_won, pinterest_won_with_epik FROM mart.performance "
            "WHERE grain IN ('account', 'campaign') AND period = 'month' AND period_start = %s",
            (MAY,),
        ).fetchall()
    }
    for campaign, won, with_epik in warehouse.execute(
        "SELECT grain_id, sum(crm_won)::integer, sum(crm_won_with_epik)::integer FROM mart.truth_vs_platform "
        "WHERE grain = 'campaign' GROUP BY 1"
    ).fetchall():
        coverage[("truth", campaign)] = (won, with_epik)
    return coverage


CRM_COLUMNS = (
    "leads, won, revenue, leads_won_to_date, pinterest_won, pinterest_won_with_epik, leads_open, leads_expected_wins, "
    "leads_expected_revenue, leads_open_without_probability"
)
KEY = "grain, grain_id, period, period_start"


def from_scratch(warehouse: psycopg.Connection) -> dict[tuple, dict[tuple, tuple]]:
    """mart.performance's CRM side computed again from every counted deal's contributions (mart.deal_contributions),
    per model and key, without the mart: {model: {key: CRM columns}}, keys with any non-zero column."""
    sums = ", ".join(f"sum(contribution.{column.strip()})" for column in CRM_COLUMNS.split(","))
    rows = warehouse.execute(
        f"SELECT model, grain, grain_id, period, mart.period_start(period, contribution.day), {sums} "
        "FROM mart.deal_contributions AS contribution CROSS JOIN unnest(contribution.models) AS model "
        "CROSS JOIN LATERAL (VALUES ('account', contribution.ad_account_id), ('campaign', contribution.campaign_id), "
        "('ad_group', contribution.ad_group_id), ('ad', contribution.ad_id)) AS grains (grain, grain_id) "
        "CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period) "
        "WHERE grain_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
    ).fetchall()
    computed: dict[str, dict[tuple, tuple]] = {"last_touch": {}, "first_touch": {}}
    for model, *key_and_values in rows:
        if any(key_and_values[4:]):
            computed[model][tuple(key_and_values[:4])] = tuple(key_and_values[4:])
    return computed


def assert_first_touch_stored_where_it_differs(warehouse: psycopg.Connection) -> set[tuple]:
    """The sparse storage's invariant (migration 087): a first-touch row is stored iff its CRM side differs from its
    key's last-touch row's (absent: zeros), and both models read through mart.performance equal a from-scratch
    computation. Returns the stored first-touch keys."""
    computed = from_scratch(warehouse)
    zeros = (0,) * len(CRM_COLUMNS.split(","))
    differing = {
        key for key in computed["last_touch"].keys() | computed["first_touch"].keys()
        if computed["last_touch"].get(key, zeros) != computed["first_touch"].get(key, zeros)
    }  # fmt: skip
    stored = set(warehouse.execute(
        f"SELECT {KEY} FROM mart.performance_generations WHERE generation = mart.generation() "
        "AND model = 'first_touch'"
    ).fetchall())  # fmt: skip
    assert stored == differing
    for model in ("last_touch", "first_touch"):
        shown = {
            tuple(row[:4]): tuple(row[4:])
            for row in warehouse.execute(
                f"SELECT {KEY}, {CRM_COLUMNS} FROM mart.performance WHERE model = %s", (model,)
            ).fetchall()
            if any(row[4:])
        }
        assert shown == computed[model], model
    # The spend is the same under both models, row for row (a first-touch row without a last-touch one has none).
    assert warehouse.execute(
        "SELECT count(*) FROM mart.performance AS first LEFT JOIN mart.performance AS last "
        "ON last.model = 'last_touch' AND (last.grain, last.grain_id, last.period, last.period_start) "
        "= (first.grain, first.grain_id, first.period, first.period_start) WHERE first.model = 'first_touch' "
        "AND (COALESCE(last.spend, 0), COALESCE(last.impressions, 0), COALESCE(last.clicks, 0), "
        "COALESCE(last.ad_days, 0)) IS DISTINCT FROM (first.spend, first.impressions, first.clicks, first.ad_days)"
    ).fetchone() == (0,)
    return stored


PAID_C1_VELVET = ("pinterest_paid", C1, G11, A111, "macro_id", "macro_id", "macro_id")
PAID_C1_LINEN = ("pinterest_paid", C1, G11, A112, "macro_id", "macro_id", "macro_id")
PAID_C2_TEAK = ("pinterest_paid", C2, G21, A211, "macro_id", "macro_id", "macro_id")
C1_BY_NAME = (C1, None, None, "utm_name", "unresolved", "unresolved")
EXPECTED = {
    T1: (*PAID_C1_VELVET, *PAID_C2_TEAK, True),
    T2: ("pinterest_paid", *C1_BY_NAME, "pinterest_paid", *C1_BY_NAME, False),
    T3: (*PAID_C1_LINEN, "pinterest_organic", C2, None, None, "utm_name", "unresolved", "unresolved", True),
    T4: ("other", None, None, None, None, None, None, *PAID_C1_LINEN, True),
    T5: (*(("pinterest_paid", C2, None, None, "utm_id", "unresolved", "unresolved") * 2), False),
    T6: (*PAID_C2_TEAK, "pinterest_paid", *C1_BY_NAME, True),
}


def test_both_touch_models_resolve_by_the_same_rules_and_hold_through_migration_merge_and_deletion(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    run_dag: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    crm = serve_world(touch_world())
    extract()
    assert reconcile()["mode"] == "full"
    assert touches(warehouse) == EXPECTED
    # Won in May by campaign: the last touch credits C1 with T1, T2 and T3 (T4 is Google's); the first touch credits
    # C2 with the journeys it opened (T1, T3) and C1 with T2 and T4.
    assert won_by(warehouse, "last_touch") == {C1: 3, None: 1}
    assert won_by(warehouse, "first_touch") == {C1: 2, C2: 2}
    assert model_marts(warehouse) == MODEL_MARTS
    assert epik_coverage(warehouse) == EPIK_COVERAGE
    assert epiks(warehouse) == EPIKS
    # The bad first-touch click id: flagged naming the deal and its property, the deal's other values loaded.
    assert warehouse.execute(
        "SELECT record_key, field, reason, raw_value FROM ops.record_issues WHERE source = 'hubspot.deal'"
    ).fetchall() == [(str(T6), "first_epik", "contains whitespace", "dj0y JnU9 first")]
    assert warehouse.execute(
        "SELECT first_touch_epik, first_touch_epik_raw, first_touch_utm_campaign, epik FROM raw.hubspot_deals "
        "WHERE deal_id = %s",
        (T6,),
    ).fetchone() == (None, "dj0y JnU9 first", "spring sofas", epik(T6))
    days = warehouse.execute("SELECT stable_key, lead_day, won_day FROM mart.deal_attribution ORDER BY 1").fetchall()

    # A CRM migration re-creates T1 and T3 (the import copies their first-touch properties, plain custom ones) and T5
    # is merged into T6: the next hourly extraction reads them. T2 is deleted: the full refresh after it reads that.
    # Then an incremental reconcile.
    mutate(crm, "deals/re-id", {"ids": [str(T1), str(T3)], "firstId": 900_000})
    mutate(crm, "deals/merge", {"primaryObjectId": str(T6), "objectIdToMerge": str(T5)})
    now = crm.app.state.sandbox.now()
    run_dag("hubspot_deals", now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1),
            conf={"full_refresh": False, "since": None})  # fmt: skip
    mutate(crm, f"deals/{T2}/archive", {})
    extract(pinterest=False)
    assert reconcile()["mode"] == "incremental"
    after = touches(warehouse)
    assert after == {key: EXPECTED[key] for key in (T1, T3, T4, T6)}
    assert warehouse.execute(
        "SELECT deal_id FROM mart.deal_attribution WHERE stable_key IN (%s, %s) ORDER BY deal_id",
        (f"hubspot:{T1}", f"hubspot:{T3}"),
    ).fetchall() == [(900_000,), (900_001,)]
    assert won_by(warehouse, "last_touch") == {C1: 2, None: 1}
    assert won_by(warehouse, "first_touch") == {C1: 1, C2: 2}
    assert model_marts(warehouse) == MODEL_MARTS_AFTER
    assert epik_coverage(warehouse) == EPIK_COVERAGE_AFTER
    assert epiks(warehouse) == {key: EPIKS[key] for key in (T1, T3, T4, T6)}
    moved = warehouse.execute("SELECT stable_key, lead_day, won_day FROM mart.deal_attribution ORDER BY 1").fetchall()
    # No day moved but the merge's documented one: T6's lineage leads from T5's earlier lead (12 May).
    before = {key: (lead, won) for key, lead, won in days}
    before[f"hubspot:{T6}"] = (before[f"hubspot:{T5}"][0], before[f"hubspot:{T6}"][1])
    assert moved == [(key, *before[key]) for key in sorted(before) if key not in (f"hubspot:{T2}", f"hubspot:{T5}")]

    incremental = snapshot(warehouse)
    assert {model for rows in ("mart.performance", "mart.cohort_cac", "mart.channel_performance")
            for model in {row[-1] for row in incremental[rows]}} == {"last_touch", "first_touch"}  # fmt: skip
    reconcile(full_rebuild=True)
    assert snapshot(warehouse) == incremental


def test_with_no_first_touch_role_mapped_the_first_touch_is_the_last(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Today's single mapping stays valid: the deals' first-touch properties are neither read nor used."""
    crm = serve_world(touch_world())
    mapping = {role: name for role, name in CUSTOM.items() if not role.startswith("first_touch_")}
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(crm.url, TOKEN, properties=mapping, **FAST))
    extract()
    reconcile()
    assert warehouse.execute(
        "SELECT count(*) FROM raw.hubspot_deals WHERE num_nonnulls(first_touch_epik_raw, first_touch_utm_source, "
        "first_touch_utm_campaign, first_touch_pinterest_campaign_id) > 0"
    ).fetchone() == (0,)
    last = {key: row[:7] for key, row in touches(warehouse).items()}
    assert touches(warehouse) == {key: (*row, *row, False) for key, row in last.items()}
    assert warehouse.execute(
        "SELECT count(*) FILTER (WHERE epik IS NOT NULL), "
        "count(*) FILTER (WHERE first_touch_epik IS DISTINCT FROM epik) FROM mart.deal_attribution"
    ).fetchone() == (5, 0)
    # Nothing of the first touch is stored: mart.performance shows every last-touch row under it.
    assert warehouse.execute(
        "SELECT count(*) FROM mart.performance_generations WHERE generation = mart.generation() "
        "AND model = 'first_touch'"
    ).fetchone() == (0,)
    by_model = {
        model: warehouse.execute(
            "SELECT * FROM mart.performance WHERE model = %s ORDER BY grain, grain_id, period, period_start", (model,)
        ).fetchall()
        for model in ("last_touch", "first_touch")
    }
    assert by_model["last_touch"]
    assert [row[:-1] for row in by_model["first_touch"]] == [row[:-1] for row in by_model["last_touch"]]


def test_first_touch_rows_are_stored_only_where_they_differ_through_re_id_merge_deletion_and_a_spend_re_pull(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    run_dag: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    """mart.performance stores a first-touch row only where it differs from its key's last-touch row, on a rebuild
    and after every incremental run (one that makes a key's models equal deletes its row, one that makes them differ
    adds one), and its stored first-touch rows get the re-pulled spend."""
    crm = serve_world(touch_world())
    extract()
    assert reconcile()["mode"] == "full"
    stored = assert_first_touch_stored_where_it_differs(warehouse)
    assert ("campaign", C2, "month", MAY) in stored  # C2 opened T1 and T3: its first touch differs
    assert model_marts(warehouse) == MODEL_MARTS

    # The re-id of T1 and T3, the merge of T5 into T6 and T2's deletion, as in the test above: incremental.
    mutate(crm, "deals/re-id", {"ids": [str(T1), str(T3)], "firstId": 900_000})
    mutate(crm, "deals/merge", {"primaryObjectId": str(T6), "objectIdToMerge": str(T5)})
    now = crm.app.state.sandbox.now()
    run_dag("hubspot_deals", now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1),
            conf={"full_refresh": False, "since": None})  # fmt: skip
    mutate(crm, f"deals/{T2}/archive", {})
    extract(pinterest=False)
    assert reconcile()["mode"] == "incremental"
    after = assert_first_touch_stored_where_it_differs(warehouse)
    assert after != stored  # T2's deletion and T5's merge moved which keys differ
    assert model_marts(warehouse) == MODEL_MARTS_AFTER

    # Pinterest restates a day of C2's Teak pin in May (a stored first-touch key's) and one of C1's Linen pin in June
    # (a month without deals: no first-touch row is stored, the view shows the last touch's): the next run re-pulls
    # them. The first touch gets the new spend in both, in mart.performance and in the cohorts.
    restated = [
        warehouse.execute(
            "UPDATE raw.pinterest_ad_daily SET spend = spend + 100, loaded_at = now() WHERE ad_id = %s "
            "AND date = (SELECT min(date) FROM raw.pinterest_ad_daily WHERE ad_id = %s AND date >= %s) RETURNING date",
            (ad, ad, month),
        ).fetchall()
        for ad, month in ((A211, MAY), (A112, JUNE))
    ]
    warehouse.commit()
    assert [len(days) for days in restated] == [1, 1]
    assert reconcile()["mode"] == "incremental"
    assert assert_first_touch_stored_where_it_differs(warehouse) == after
    assert warehouse.execute(
        "SELECT model, spend FROM mart.performance_generations WHERE generation = mart.generation() "
        "AND grain = 'campaign' AND grain_id = %s AND period = 'month' AND period_start = %s ORDER BY model",
        (C2, MAY),
    ).fetchall() == [("first_touch", 350), ("last_touch", 350)]
    june = "SELECT model, spend FROM {} WHERE grain = 'campaign' AND grain_id = %s AND {} = %s ORDER BY model"
    months = {"mart.performance": "period = 'month' AND period_start", "mart.cohort_cac": "cohort_month"}
    for table, month in months.items():  # A111's 5 days at $60 and A112's at $40, one of them restated by $100
        rows = warehouse.execute(june.format(table, month), (C1, JUNE)).fetchall()
        assert rows == [("first_touch", 600), ("last_touch", 600)], table

    incremental = snapshot(warehouse)
    reconcile(full_rebuild=True)
    assert assert_first_touch_stored_where_it_differs(warehouse) == after
    assert snapshot(warehouse) == incremental
