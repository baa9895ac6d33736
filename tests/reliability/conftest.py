"""Fixtures of the reliability suite: a clean warehouse per scenario, the world served by the sandbox, the whole
pipeline run for real (``dag.test()``, DAG after DAG), and the invariant check every scenario ends with."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.postgres_servers import ThrowawayPostgres
from tests.reliability import invariants
from tests.reliability.world import LOOKBACK_DAYS, MIDNIGHT, World, pipeline_world

# (DAG id, logical date, params) in pipeline order, for the world's clock (as scripts/demo.py runs them).
PIPELINE = (
    ("hubspot_deals", MIDNIGHT - dt.timedelta(hours=1), {"full_refresh": True}),
    ("pinterest_spend", MIDNIGHT - dt.timedelta(days=1), {"lookback_days": LOOKBACK_DAYS}),
    ("attribution_reconcile", MIDNIGHT - dt.timedelta(days=1), {}),
    ("pinterest_capi", MIDNIGHT - dt.timedelta(days=1), {}),
    ("daily_briefing", MIDNIGHT - dt.timedelta(days=1), {}),
)
CONVERSION_DAGS = ("attribution_reconcile", "pinterest_capi")


@pytest.fixture(autouse=True)
def clean_warehouse(warehouse: psycopg.Connection) -> Iterator[None]:
    """Each scenario starts from an empty warehouse (schema kept): its counts are the dataset's alone."""
    tables = [
        row[0]
        for row in warehouse.execute(
            "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables "
            "WHERE schemaname IN ('raw', 'mart', 'ops') AND relname <> 'schema_migrations'"
        )
    ]
    if tables:
        warehouse.execute(f"TRUNCATE {', '.join(tables)}")
    yield


@pytest.fixture
def throwaway_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayPostgres]:
    """A private PostgreSQL cluster the test may restart and crash (``start()`` gives its URL); stopped afterwards
    whatever the test left it doing, passed or failed."""
    cluster = ThrowawayPostgres(tmp_path_factory.mktemp("pg"))
    yield cluster
    cluster.stop()
    assert not cluster.running(), f"PostgreSQL under {cluster.directory} still runs after stop()"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return pipeline_world(tmp_path / "world")


@pytest.fixture
def serve(sandbox_server: Callable[..., Any]) -> Callable[..., Any]:
    """``serve(world, **sandbox settings)``: save the world and serve it (rate limits off unless asked)."""

    def start(world: World, **settings: Any):
        settings.setdefault("rate_limits", False)
        return sandbox_server(world.save(), **settings)

    return start


@pytest.fixture
def has_conversions(dagbag) -> bool:
    return all(dagbag.get_dag(dag_id) is not None for dag_id in CONVERSION_DAGS)


@pytest.fixture
def require_conversions(has_conversions: bool) -> None:
    if not has_conversions:
        pytest.skip(f"needs the {' and '.join(CONVERSION_DAGS)} DAGs (not merged into this branch yet)")


@pytest.fixture
def pipeline(dagbag, run_dag: Callable[..., Any]) -> Callable[..., list[str]]:
    """``pipeline(skip=(...), conf={dag_id: params})``: run every built DAG of the pipeline in order, each for
    real and successful; return the DAG ids run. A DAG not built yet ends the pipeline (its successors need it)."""

    def run(skip: tuple[str, ...] = (), conf: dict[str, dict[str, Any]] | None = None) -> list[str]:
        ran = []
        for dag_id, logical_date, params in PIPELINE:
            if dagbag.get_dag(dag_id) is None:
                break
            if dag_id in skip:
                continue
            run_dag(dag_id, logical_date, conf=(conf or {}).get(dag_id, params))
            ran.append(dag_id)
        return ran

    return run


@pytest.fixture
def assert_invariants(
    warehouse: psycopg.Connection, capfd: pytest.CaptureFixture[str]
) -> Callable[..., dict[str, str]]:
    """``assert_invariants(world, server, ran, extra_texts=..., exempt=...)``: every promise of
    tests/reliability/invariants.py, with the task output captured so far; returns the texts scanned."""

    def check(world: World, server: Any, ran: list[str], *, extra_texts: dict[str, str] | None = None,
              exempt: set[int] = frozenset(), extra_secrets: tuple[str, ...] = ()) -> dict[str, str]:  # fmt: skip
        out, err = capfd.readouterr()
        expected = invariants.expected_from(world.dataset, extra_secrets=(*extra_secrets, *issued_tokens(server)))
        expected.won_exempt = set(exempt)
        problems, texts = invariants.check(
            warehouse, expected, sandbox_url=server.url, captured=out + err,
            conversions=all(dag_id in ran for dag_id in CONVERSION_DAGS), extra_texts=extra_texts,
        )  # fmt: skip
        assert not problems, "invariants violated:\n" + "\n".join(problems[:40])
        return texts

    return check


def issued_tokens(server: Any, count: int = 20) -> list[str]:
    """The access tokens the sandbox issues on its first ``count`` OAuth refreshes (deterministic for its seed, as
    ``sandbox.pinterest.world.Tokens.issue``): secrets as much as the configured ones."""
    seed = server.app.state.pinterest.tokens._seed
    return [f"pina_sandbox{hashlib.sha256(f'{seed}:{n}'.encode()).hexdigest()[:48]}" for n in range(1, count + 1)]
