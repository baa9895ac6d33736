"""The reconcile's data-quality checks, each on a planted problem: warnings are counted in the run's return value,
blocking checks fail the run naming the rows and publish nothing (readers keep the last published marts). A rebuild
checks everything; an incremental run what it reconciled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
import psycopg

from pin2deal.paths import SQL_DIR
from tests.reconcile.reconcile_worlds import ACCOUNT_ID, D2, D5, D7, D12, D14, world
from tests.reconcile.test_attribution_reconcile_dag import JUNE, snapshot


class PlannedAs:
    """What a check's template reads of its task instance: the plan's XCom."""

    def __init__(self, mode: str) -> None:
        self.plan = {"mode": mode, "since": "-infinity"}

    def xcom_pull(self, task_ids: str) -> dict[str, Any]:
        return self.plan


def last_run(warehouse: psycopg.Connection) -> str:
    return warehouse.execute("SELECT run_id FROM ops.reconcile_runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def check_rows(warehouse: psycopg.Connection, name: str, mode: str) -> list[tuple]:
    """A check's rows, rendered as the DAG renders it for a run planned as ``mode`` (a full rebuild: all rows)."""
    text = jinja2.Template((SQL_DIR / "checks" / f"{name}.sql").read_text()).render(ti=PlannedAs(mode), params={})
    return warehouse.execute(text).fetchall()


def test_warnings_are_counted_on_what_each_run_reconciled(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    serve_world(world())
    extract()
    # Planted: spend on a campaign and ad the entity refresh never listed; a won deal with no won time; an amount
    # that is not a number; a currency that is not ISO 4217.
    warehouse.execute(
        "INSERT INTO raw.pinterest_ad_daily (ad_id, date, ad_account_id, ad_group_id, campaign_id, spend_micro, "
        "spend, currency, provisional, metrics) "
        "VALUES ('999', '2025-06-01', %s, '998', '997', 5000000, 5, 'USD', false, '{}')",
        (ACCOUNT_ID,),
    )
    warehouse.execute(
        "UPDATE raw.hubspot_deals SET stage_entered_at = '{}', closed_at = NULL WHERE deal_id = %s", (D7,)
    )
    warehouse.execute("UPDATE raw.hubspot_deals SET amount = NULL, amount_raw = 'TBD' WHERE deal_id = %s", (D2,))
    warehouse.execute(
        "UPDATE raw.hubspot_deals SET currency = NULL, "
        "properties = properties || '{\"deal_currency_code\": \"XYZ\"}' WHERE deal_id = %s",
        (D14,),
    )
    summary = reconcile()  # the first run rebuilds: it checks everything
    assert summary["mode"] == "full" and summary["warnings"] == 4
    assert summary["warning_checks"] == {
        "spend_on_unlisted_campaigns": 1, "won_without_won_time": 1, "bad_amounts": 1, "non_iso_currencies": 1
    }  # fmt: skip
    recorded = warehouse.execute("SELECT warnings, checks FROM ops.reconcile_runs WHERE finished_at IS NOT NULL")
    warnings, checks = recorded.fetchone()
    assert warnings == 4 and {check["check"]: check["sample"] for check in checks}["won_without_won_time"] == [
        f"hubspot:{D7} {D7} default closedwon"
    ]

    # An incremental run looks at what was loaded since the last run: nothing new, no finding; a deal loaded again
    # with a negative amount, one.
    again = reconcile()
    assert (again["mode"], again["warnings"]) == ("incremental", 0), again
    warehouse.execute("UPDATE raw.hubspot_deals SET amount = -5, loaded_at = now() WHERE deal_id = %s", (D5,))
    third = reconcile()
    assert (third["mode"], third["warning_checks"]) == ("incremental", {"bad_amounts": 1}), third
    assert check_rows(warehouse, "bad_amounts", "full") == [
        (f"hubspot:{D2}", D2, "TBD", None), (f"hubspot:{D5}", D5, "800", None)
    ]  # fmt: skip


def test_a_failed_blocking_check_publishes_nothing_and_names_the_rows(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    capfd: Any,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    published = snapshot(warehouse)
    published_run = last_run(warehouse)

    # A change to publish (D12 deleted in HubSpot), and more unresolved paid deals than allowed (2 of 11 > 5 %;
    # "patio-launch" is the renamed campaign's old name, which this world never served).
    warehouse.execute("UPDATE raw.hubspot_deals SET deleted_at = now(), loaded_at = now() WHERE deal_id = %s", (D12,))
    capfd.readouterr()
    dag_run = reconcile(max_unresolved=0.05, expect="failed")
    assert snapshot(warehouse) == published, "readers still see the last published marts"
    failed = states(dag_run)
    assert failed["finish_reconcile"] == "upstream_failed"  # no mart_attribution event
    assert (failed["reconcile_deals"], failed["publish_marts"]) == ("success", "failed"), failed
    publish = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "publish_marts")
    assert publish.try_number == 1, "a failed check fails again: no retry"
    out, err = capfd.readouterr()
    assert (
        "blocking check unresolved_paid_share failed, nothing was published: 2 of 11 paid deals unresolved: "
        f"hubspot:{D5} utm_campaign=patio-launch, hubspot:{D14} utm_campaign=mystery campaign"
    ) in out + err, (out + err)[-3000:]
    publication = warehouse.execute("SELECT generation, run_id FROM ops.mart_publication").fetchone()
    assert publication[1] == published_run

    # A rebuild that fails its check leaves them too (its generation is never published).
    failed = states(reconcile(full_rebuild=True, max_unresolved=0.05, expect="failed"))
    assert failed["publish_marts"] == "failed", failed
    assert snapshot(warehouse) == published
    assert warehouse.execute("SELECT generation, run_id FROM ops.mart_publication").fetchone() == publication

    # Within the limit, the next run publishes what the failed runs did not: D12 is gone, as a rebuild has it.
    summary = reconcile()
    assert (summary["mode"], summary["reason"]) == ("full", "a full rebuild did not finish")
    assert warehouse.execute("SELECT count(*) FROM mart.deal_attribution WHERE deal_id = %s", (D12,)).fetchone() == (0,)
    rebuilt = snapshot(warehouse)
    assert rebuilt != published
    # Only the published generation (and the staging one) is left.
    partitions = warehouse.execute(
        "SELECT DISTINCT regexp_replace(child.relname, '^.*_g', '')::bigint FROM pg_inherits "
        "JOIN pg_class AS child ON child.oid = inhrelid WHERE child.relname ~ '_g[0-9]+$' ORDER BY 1"
    ).fetchall()
    assert [generation for (generation,) in partitions] == [0, summary["generation"]]


def test_an_incremental_run_that_drifted_fails_on_the_rows_it_rewrote(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    capfd: Any,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    # Drift planted in the published marts: the account's June won count below what its deals give. An incremental
    # run that moves June by one deal less would publish -1 won deals: it fails instead, naming the row.
    warehouse.execute(
        "UPDATE mart.performance_generations SET won = 0, cac = NULL WHERE generation = mart.generation() "
        "AND model = 'last_touch' AND grain = 'account' AND period = 'month' "
        "AND period_start = %s",
        (JUNE,),
    )
    drifted = snapshot(warehouse)
    warehouse.execute("UPDATE raw.hubspot_deals SET deleted_at = now(), loaded_at = now() WHERE deal_id = 1004")
    capfd.readouterr()
    failed = states(reconcile(expect="failed"))
    assert snapshot(warehouse) == drifted, "nothing was published"
    assert failed["publish_marts"] == "failed", failed
    out, err = capfd.readouterr()
    assert 'violates check constraint "performance_' in out + err, (out + err)[-3000:]  # -1 won, and a CAC for it
    assert f"Failing row contains (account, {ACCOUNT_ID}, {ACCOUNT_ID}, null, null, null, " in out + err
    # A rebuild computes every row from raw again, and checks every row.
    assert reconcile(full_rebuild=True)["mode"] == "full"
    assert warehouse.execute(
        "SELECT won FROM mart.performance WHERE model = 'last_touch' AND grain = 'account' AND period = 'month' "
        "AND period_start = %s",
        (JUNE,),
    ).fetchone() == (3,)  # D4 is gone


def test_two_live_deals_on_one_stable_key_fail_the_run_and_publish_nothing(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    capfd: Any,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    published = snapshot(warehouse)
    # Deal 1002 loaded again with the key of 1001: an incremental run checks the keys of the deals it loaded.
    warehouse.execute("UPDATE raw.hubspot_deal_ids SET stable_key = 'hubspot:1001' WHERE alias_id = 'hubspot:1002'")
    warehouse.execute("UPDATE raw.hubspot_deals SET loaded_at = now() WHERE deal_id = 1002")
    assert check_rows(warehouse, "duplicate_stable_keys", "full") == [(False, "hubspot:1001 (deals 1001, 1002)")]
    capfd.readouterr()
    failed = states(reconcile(expect="failed"))
    assert failed["check_duplicate_stable_keys"] == "failed" and failed["publish_marts"] == "upstream_failed"
    out, err = capfd.readouterr()
    assert "hubspot:1001 (deals 1001, 1002)" in out + err, (out + err)[-3000:]
    assert snapshot(warehouse) == published
