"""Every DAG imports cleanly and fast, and carries what operators need to run it in production."""

from __future__ import annotations

import ast
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pin2deal.alerts import Pin2dealNotifier, failure_advice

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(path for path in DAGS_DIR.glob("*.py") if not path.name.startswith("_"))
EXPECTED_DAGS = {
    "hubspot_deals", "hubspot_sweep", "pinterest_spend", "attribution_reconcile", "pinterest_capi",
    "daily_briefing",
}  # fmt: skip
# Calls that would do I/O at parse time when made at a DAG file's top level.
ENV_READS = {"os.environ.get", "os.getenv"}  # process environment: no I/O
IO_CALLS = {"open", "connect", "get_conn", "get_connection", "urlopen", "request", "get", "post", "run", "execute"}


def test_dag_folder_has_every_designed_dag(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_imports_without_warnings_quickly(path: Path) -> None:
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", f"import runpy; runpy.run_path({str(path)!r})"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    # CPU time, not wall time, so a loaded machine cannot fail it: the subprocess pays Python's and Airflow's own
    # import (~1.6 s of CPU); the DAG file itself must stay well under 1 s.
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(children_after, f) - getattr(children_before, f) for f in ("ru_utime", "ru_stime"))
    assert cpu < 5, f"{path.name}: importing it took {cpu:.1f} s of CPU"


def test_dag_files_parse_in_well_under_a_second(dagbag) -> None:
    from airflow.dag_processing.dagbag import DagBag

    for path in DAG_FILES:
        started = time.process_time()
        DagBag(dag_folder=str(path))
        assert time.process_time() - started < 0.5, f"{path.name} takes too long to parse (CPU time)"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_top_level_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            continue
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            if ast.unparse(call.func) in ENV_READS:
                continue
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            assert name not in IO_CALLS, f"{path.name}:{call.lineno} calls {name}() at import"


def test_every_dag_has_owner_tags_retries_docs_and_migrates_first(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert "migrate_warehouse" in dag.task_ids, f"{dag_id} does not migrate the warehouse first"
        assert not dag.get_task("migrate_warehouse").upstream_task_ids
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


# Which pool a task must run in, by the module of its operator: the API budgets are per app or account.
# (The Conversions API has its own budget: no pool.)
API_POOLS = {"pin2deal.operators.hubspot_deals": "hubspot_api", "pin2deal.operators.pinterest": "pinterest_api",
             "pin2deal.sensors.pinterest": "pinterest_api"}  # fmt: skip


def test_every_task_has_deliberate_retries_a_timeout_an_alert_and_says_what_to_do_when_it_fails(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert failure_advice(dag.doc_md), f"{dag_id}: doc_md has no '**If it fails**' paragraph"
        for task in dag.tasks:
            name = f"{dag_id}.{task.task_id}"
            assert task.doc_md and len(task.doc_md.split()) >= 15, f"{name} does not say what it does"
            assert failure_advice(task.doc_md), f"{name}: doc_md has no '**If it fails**' paragraph"
            assert task.retry_delay > dt.timedelta(0), name
            if task.retries > 1:  # a single retry has nothing to back off from
                assert task.retry_exponential_backoff > 1, f"{name} retries without backoff"
                assert task.max_retry_delay and task.max_retry_delay >= task.retry_delay, name
            assert task.execution_timeout and task.execution_timeout <= dt.timedelta(hours=6), name
            assert any(isinstance(callback, Pin2dealNotifier) for callback in task.on_failure_callback), (
                f"{name} fails silently"
            )
            pool = API_POOLS.get(type(task).__module__)
            assert pool is None or task.pool == pool, f"{name} calls an API outside the {pool} pool"


def test_the_pools_the_tasks_use_are_the_ones_the_setup_creates(dagbag) -> None:
    pools = json.loads((DAGS_DIR.parent / "include" / "airflow" / "pools.json").read_text())
    used = {task.pool for dag in dagbag.dags.values() for task in dag.tasks} - {"default_pool"}
    assert used <= set(pools), used - set(pools)
    assert {"hubspot_api", "pinterest_api"} <= set(pools)
