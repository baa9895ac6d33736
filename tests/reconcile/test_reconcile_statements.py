"""The reconcile steps' SQL files split into the statements sqlparse (common-sql's splitter) finds, for a rebuild
and an incremental run: ``pin2deal.reconcile.steps.split_statements`` splits them by lines, far faster."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from airflow.providers.common.sql.hooks.sql import DbApiHook

from pin2deal.paths import SQL_DIR
from pin2deal.reconcile.steps import split_statements

STEPS = ("reconcile/deal_attribution.sql", "reconcile/spend.sql", "reconcile/publish_marts.sql")
REBUILD_STEPS = ("reconcile/rebuild_performance.sql", "reconcile/rebuild_funnel.sql")


class Planned:
    def __init__(self, mode: str) -> None:
        self.plan = {"mode": mode, "since": "2025-06-01T00:00:00+00:00", "generation": 2}

    def xcom_pull(self, task_ids: str) -> dict[str, Any]:
        return self.plan


def normalized(statements: list[str]) -> list[str]:
    return [" ".join(statement.split()) for statement in statements]


def rendered(template: str, mode: str) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SQL_DIR)))
    return environment.get_template(template).render(ti=Planned(mode), params={"max_unresolved_paid_share": 0.25})


@pytest.mark.parametrize("mode", ["full", "incremental"])
@pytest.mark.parametrize("template", STEPS + REBUILD_STEPS)
def test_each_step_splits_into_the_statements_sqlparse_finds(template: str, mode: str) -> None:
    text = rendered(template, mode)
    expected = normalized(DbApiHook.split_sql_string(text))
    assert len(expected) > (0 if template in REBUILD_STEPS and mode == "incremental" else 5)
    assert normalized(split_statements(text)) == expected


REBUILT = {  # the marts each rebuild task writes (cohort CAC through its generations table: computed columns)
    "reconcile/rebuild_performance.sql": ("performance", "cohort_cac", "truth_vs_platform", "channel_performance"),
    "reconcile/rebuild_funnel.sql": ("funnel_entries", "funnel"),
}


def writes(text: str, mart: str) -> bool:
    return f"INSERT INTO mart.{mart} (" in text or f"INSERT INTO mart.{mart}_generations (" in text


def empties(text: str, mart: str) -> bool:
    """The mart's rows in the session's generation deleted (through the view, or its table where the view shows rows
    it does not store: mart.performance's synthesised first touches)."""
    return f"DELETE FROM mart.{mart};" in text or (
        f"DELETE FROM mart.{mart}_generations WHERE generation = mart.generation();" in text)


@pytest.mark.parametrize("template", REBUILD_STEPS)
def test_a_rebuild_writes_its_marts_in_the_rebuild_tasks_and_an_incremental_run_in_publish_marts(template: str) -> None:
    """One way of writing each mart: a rebuild task includes the mart files publish_marts includes on an incremental
    run, and publish_marts includes none of them on a rebuild; a rebuild task empties what it writes first (a
    cleared or retried task), and writes nothing on an incremental run."""
    [statement] = split_statements(rendered(template, "incremental"))
    assert statement.startswith("SELECT 'incremental run: publish_marts writes"), statement
    full = rendered(template, "full")
    publish_full = rendered("reconcile/publish_marts.sql", "full")
    publish_incremental = rendered("reconcile/publish_marts.sql", "incremental")
    for mart in REBUILT[template]:
        assert writes(full, mart) and empties(full, mart), mart
        assert writes(publish_incremental, mart) and not writes(publish_full, mart), mart


def test_a_semicolon_in_a_comment_or_inside_a_line_ends_no_statement() -> None:
    text = "-- a comment;\nSELECT 1; -- done;\nSELECT ';' AS x,\n       2;\n"
    assert split_statements(text) == ["SELECT 1;", "SELECT ';' AS x,\n       2;"]
