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


class Planned:
    def __init__(self, mode: str) -> None:
        self.plan = {"mode": mode, "since": "2025-06-01T00:00:00+00:00", "generation": 2}

    def xcom_pull(self, task_ids: str) -> dict[str, Any]:
        return self.plan


def normalized(statements: list[str]) -> list[str]:
    return [" ".join(statement.split()) for statement in statements]


@pytest.mark.parametrize("mode", ["full", "incremental"])
@pytest.mark.parametrize("template", STEPS)
def test_each_step_splits_into_the_statements_sqlparse_finds(template: str, mode: str) -> None:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SQL_DIR)))
    text = environment.get_template(template).render(
        ti=Planned(mode), params={"max_unresolved_paid_share": 0.25}
    )
    expected = normalized(DbApiHook.split_sql_string(text))
    assert len(expected) > 5
    assert normalized(split_statements(text)) == expected


def test_a_semicolon_in_a_comment_or_inside_a_line_ends_no_statement() -> None:
    text = "-- a comment;\nSELECT 1; -- done;\nSELECT ';' AS x,\n       2;\n"
    assert split_statements(text) == ["SELECT 1;", "SELECT ';' AS x,\n       2;"]
