"""The fault matrix, whole pipeline: each scenario injects its fault into runs of every built DAG and ends with the
invariants of tests/reliability/invariants.py. tests/reliability/matrix.py maps every row of the issue's matrix to
the test proving it (here or in the per-stage suites); docs/reliability.md shows that table."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from sandbox.limits import Fault
from sandbox.settings import FaultRates, HubSpotLimits
from tests.conftest import ROOT
from tests.reliability import invariants
from tests.reliability.conftest import PIPELINE, issued_tokens
from tests.reliability.world import MIDNIGHT, pipeline_world


def _set_extra(name: str, **extra) -> None:
    """Add ``extra`` to the ``AIRFLOW_CONN_<name>`` connection the sandbox fixture set."""
    variable = f"AIRFLOW_CONN_{name.upper()}"
    connection = json.loads(os.environ[variable])
    connection["extra"] = {**connection.get("extra", {}), **extra}
    os.environ[variable] = json.dumps(connection)


def _operator_process(
    code: str, env: dict[str, str] | None = None, context: str = "{'run_id': 'reliability__worker'}"
) -> subprocess.Popen:
    """A task in its own process (as a worker runs it): ``code`` builds an operator ``op`` and runs it with the
    context ``context`` (a Python expression)."""
    script = f"{code}\nprint('RESULT', op.execute({context}), flush=True)\n"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", script], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


HUBSPOT_TASK = (
    "from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator as Op\n"
    "op = Op(task_id='extract_hubspot_deals', full_refresh=True, since=None, data_interval_start=None, "
    "data_interval_end=None, run_type='manual', run_after=None, batch_size=10)\n"
)
CAPI_TASK = (  # the pinterest_capi DAG's two tasks, in one process: fill the outbox, send
    "from pin2deal.capi.send import fill_outbox\n"
    "from pin2deal.hooks.warehouse import WarehouseHook\n"
    "with WarehouseHook().get_conn() as conn:\n"
    "    conn.autocommit = True\n"
    "    fill_outbox(conn)\n"
    "from pin2deal.operators.pinterest_capi import PinterestConversionsOperator as Op\n"
    "op = Op(task_id='send_conversions', request_timeout=5.0, batch_size=10)\n"
)


PULL_TASK = (  # pinterest_spend's pull_spend; the context gives each run its data interval
    "import datetime as dt\n"
    "from pin2deal.operators.pinterest import PinterestSpendOperator as Op\n"
    "op = Op(task_id='pull_spend', lookback_days={lookback})\n"
)


def _interval_context(run_id: str, start: dt.datetime, end: dt.datetime) -> str:
    return (
        f"{{'run_id': {run_id!r}, 'data_interval_start': dt.datetime.fromisoformat({start.isoformat()!r}), "
        f"'data_interval_end': dt.datetime.fromisoformat({end.isoformat()!r})}}"
    )


def _waiting_on_locks(conn: psycopg.Connection) -> list[str]:
    """The queries of the other sessions of this database that wait on a lock."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock'"
        )
    ]


def test_baseline_the_whole_pipeline_without_faults_keeps_every_promise(
    world, serve, pipeline, assert_invariants, warehouse
) -> None:
    server = serve(world)
    ran = pipeline()
    assert ran[:2] == ["hubspot_deals", "pinterest_spend"]
    texts = assert_invariants(world, server, ran)
    if "pinterest_capi" in ran:
        states = dict(warehouse.execute("SELECT state, count(*) FROM ops.capi_ledger GROUP BY 1").fetchall())
        assert states.get("sent", 0) >= 30, states  # the world's won deals are mostly sendable
        assert len(invariants.received_events(server.url)) == states["sent"]

    # The checker sees what the tasks said and returned, and it can fail: a lost deal, a leaked secret or e-mail.
    assert "extract_hubspot_deals" in texts["captured task output"]
    assert any(where.startswith("xcom hubspot_deals.extract_hubspot_deals") for where in texts)
    expected = invariants.expected_from(world.dataset)
    warehouse.execute("DELETE FROM raw.hubspot_deals WHERE deal_id = %s", (min(expected.deal_ids),))
    token, email = world.dataset.config["hubspot_token"], sorted(expected.emails)[0]
    warehouse.execute(
        "INSERT INTO ops.watermarks (source, scope, position, completed) VALUES ('leak', 'x', %s, false)",
        (Jsonb({"oops": f"Bearer {token} for <{email.upper()}>"}),),
    )
    problems, _ = invariants.check(warehouse, expected, sandbox_url=server.url, captured="", conversions=False)
    assert [p.split(":")[0] for p in problems] == ["raw.hubspot_deals", *["warehouse ops.watermarks"] * 2], problems


@pytest.mark.slow
def test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis(
    world, serve, pipeline, assert_invariants
) -> None:
    """Every other request of the whole pipeline fails, in turn: 5xx, 429 with Retry-After, a connection dropped
    before the answer, an answer that never comes (the connection closes after 1 s); each is retried in its task."""
    server = serve(world, faults=FaultRates(hang_seconds=1.0, retry_after_seconds=1))
    hubspot, pinterest = server.app.state.sandbox.faults["hubspot"], server.app.state.sandbox.faults["pinterest"]
    hubspot.script("/crm", [Fault.SERVER_ERROR, None, Fault.RATE_LIMIT, None, Fault.DROP_CONNECTION, None] * 20)
    cycle = [Fault.RATE_LIMIT, None, Fault.SERVER_ERROR, None, Fault.DROP_CONNECTION, None, Fault.HANG, None]
    pinterest.script("/v5/", cycle * 25)
    _set_extra("hubspot_default", retry_initial_wait=0.05)

    ran = pipeline()

    assert len(hubspot._scripted) < 120 and len(pinterest._scripted) < 200, "the scripted faults were served"
    assert_invariants(world, server, ran)


@pytest.mark.slow
def test_hubspot_rate_limit_storms_ten_secondly_secondly_and_daily(
    tmp_path, serve, pipeline, assert_invariants
) -> None:
    """Our own budgets switched off (as when another app spends the portal's budget): the daily budget spent fails
    the task at once with a clear message (no worker held until midnight); on a new day's budget the sandbox's real
    10-second and per-second search windows answer 429s that the extraction waits out, losing nothing."""
    from pin2deal.retrying import RetryAfterTooLong

    world = pipeline_world(tmp_path / "world", deals=450)  # three search pages: more than one search a second
    serve(world, rate_limits=True, hubspot=HubSpotLimits(daily=3))
    _set_extra("hubspot_default", rate_limit_per_10s=10_000, search_per_second=10_000)
    with pytest.raises(RetryAfterTooLong, match="daily request limit of the account is spent"):
        _hubspot_operator().execute({"run_id": "reliability__daily"})

    server = serve(world, rate_limits=True, hubspot=HubSpotLimits(per_ten_seconds=10, search_per_second=1))
    _set_extra("hubspot_default", rate_limit_per_10s=10_000, search_per_second=10_000)
    started = time.monotonic()
    ran = pipeline(conf={"hubspot_deals": {"since": "2025-05-01"}})  # a search-based read
    assert time.monotonic() - started > 5, "the 10-second window made the extraction wait"

    texts = assert_invariants(world, server, ran)
    # The session's metadata DB holds earlier tests' runs too: this test's is the newest (run ids carry the time).
    extractions = [text for where, text in sorted(texts.items()) if where.startswith("xcom hubspot_deals.extract")]
    stats = extractions[-1]
    assert "rate_limited.search" in stats and re.search(r"rate_limited\.(?!search)", stats), stats


def _hubspot_operator():
    from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator

    return HubSpotDealsToWarehouseOperator(
        task_id="extract_hubspot_deals", full_refresh=True, since=None, data_interval_start=None,
        data_interval_end=None, run_type="manual", run_after=None,
    )  # fmt: skip


def test_an_expired_access_token_is_refreshed_and_a_revoked_refresh_token_fails_fast(
    world, serve, pipeline, assert_invariants, run_dag
) -> None:
    """The refused refresh is a fail-fast error (no retries): the DAG run fails at once, naming what to fix."""
    server = serve(world)
    httpx.post(f"{server.url}/_sandbox/pinterest/expire-token").raise_for_status()
    good = os.environ["AIRFLOW_CONN_PINTEREST_ADS_DEFAULT"]
    _set_extra("pinterest_ads_default", refresh_token="pinr.revoked-by-the-user")
    dag_id, logical_date, params = PIPELINE[1]

    run_dag(dag_id, logical_date, conf=params, expect="failed")

    os.environ["AIRFLOW_CONN_PINTEREST_ADS_DEFAULT"] = good
    ran = pipeline()  # the expired token is refreshed with the valid refresh token
    assert_invariants(world, server, ran, extra_secrets=("pinr.revoked-by-the-user",))


def test_a_422_with_mixed_per_event_results_gives_each_deal_its_own_verdict(
    world, serve, pipeline, assert_invariants, warehouse, require_conversions
) -> None:
    """Three won deals whose only won date is a closedate in the future (a rep's typo): Pinterest refuses those
    events and processes the others of the same request (422); each verdict lands on its own deal."""
    future = [world.add_deal(won_days_ago=-2, hs_v2_date_entered_closedwon=None) for _ in range(3)]
    server = serve(world)

    ran = pipeline()

    rows = warehouse.execute(
        "SELECT l.deal_id, l.state, l.http_status, l.error_message FROM ops.capi_ledger AS l WHERE l.http_status = 422"
    ).fetchall()
    failed = {deal_id: message for deal_id, state, _, message in rows if state == "failed"}
    assert set(failed) == set(future) and all("in the future" in message for message in failed.values()), rows
    assert any(state == "sent" for _, state, _, _ in rows), "the same 422 answer processed the other events"
    assert_invariants(world, server, ran)


def test_a_merge_after_a_sent_checkout_reports_the_sale_once_judged_by_lineage(
    world, serve, pipeline, assert_invariants, run_dag, require_conversions
) -> None:
    """Ops merge a won deal whose checkout was sent into an older open deal, which is won later: one lineage, so its
    sale reaches Pinterest once (the invariants group the sandbox's events by lineage: the two deals' order_ids
    differ). The merged deal is gone from the CRM (raw keeps it): its lineage is the survivor's."""
    survivor = world.add_deal(won_days_ago=None)
    merged = world.add_deal(won_days_ago=1)
    server = serve(world)
    ran = pipeline()
    assert f"won_hubspot:{merged}" in {event["event_id"] for event in invariants.received_events(server.url)}

    for path, body in (("deals/merge", {"primaryObjectId": str(survivor), "objectIdToMerge": str(merged)}),
                       (f"deals/{survivor}/close-won", {})):  # fmt: skip
        httpx.post(f"{server.url}/_sandbox/hubspot/{path}", json=body, timeout=30).raise_for_status()
    changes = {"full_refresh": False, "since": MIDNIGHT.date().isoformat()}
    run_dag("hubspot_deals", MIDNIGHT + dt.timedelta(days=1), conf=changes)
    for dag_id, logical_date, params in PIPELINE[2:4]:
        run_dag(dag_id, logical_date + dt.timedelta(hours=1), conf=params)

    survivor_deal = next(deal for deal in world.dataset.deals if deal["id"] == str(survivor))
    survivor_deal["properties"].update(dealstage="closedwon", hs_is_closed_won="true")  # the CRM's state now
    assert_invariants(world, server, ran, exempt={merged})


@pytest.mark.slow
def test_two_runs_of_each_dag_at_once_load_and_send_everything_once(
    world, serve, pipeline, assert_invariants, require_conversions
) -> None:
    """A backfill overlapping the schedule: the extraction and the conversions sender each run twice at the same
    time, in two worker processes (plus the pipeline's own runs)."""
    server = serve(world, faults=FaultRates(latency_ms=300))  # each run takes seconds: they overlap
    first = [_operator_process(HUBSPOT_TASK) for _ in range(2)]
    outputs = [process.communicate(timeout=300)[0] for process in first]
    assert all(process.returncode == 0 for process in first), outputs
    ran = pipeline(skip=("pinterest_capi",))
    senders = [_operator_process(CAPI_TASK) for _ in range(2)]
    outputs += [process.communicate(timeout=300)[0] for process in senders]
    assert all(process.returncode == 0 for process in senders), outputs[-2:]
    assert_invariants(world, server, [*ran, "pinterest_capi"], extra_texts={"worker output": "\n".join(outputs)})


@pytest.mark.slow
def test_a_sender_killed_mid_batch_is_finished_by_the_next_run_without_a_double_conversion(
    world, serve, pipeline, assert_invariants, warehouse, run_dag, require_conversions
) -> None:
    server = serve(world, faults=FaultRates(latency_ms=400))
    ran = pipeline(skip=("pinterest_capi",))
    worker = _operator_process(CAPI_TASK)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            counts = dict(warehouse.execute("SELECT state, count(*) FROM ops.capi_ledger GROUP BY 1").fetchall())
            if counts.get("sent", 0) >= 10 and counts.get("in_flight", 0) > 0:  # mid-batch, after some batches
                break
            time.sleep(0.02)
        assert worker.poll() is None, worker.communicate()[0][-3000:]
        worker.send_signal(signal.SIGKILL)
    finally:
        output = worker.communicate(timeout=30)[0]
    assert warehouse.execute("SELECT count(*) FROM ops.capi_ledger WHERE state = 'in_flight'").fetchone()[0] > 0

    run_dag(*PIPELINE[3][:2], conf=PIPELINE[3][2])

    repeats = warehouse.execute("SELECT count(*) FROM ops.capi_ledger WHERE possible_repeat").fetchone()[0]
    assert repeats > 0, "the killed batch's events were re-sent under the same ids and flagged"
    assert_invariants(world, server, [*ran, "pinterest_capi"], extra_texts={"killed worker output": output})


@pytest.mark.slow
def test_an_extraction_killed_mid_page_loses_nothing_once_the_pipeline_runs_again(
    tmp_path, serve, pipeline, assert_invariants, warehouse
) -> None:
    world = pipeline_world(tmp_path / "world", deals=600)
    server = serve(world, faults=FaultRates(latency_ms=150))
    worker = _operator_process(HUBSPOT_TASK)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and worker.poll() is None:
            if warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone()[0] >= 100:
                break  # at least one page committed, the next ones in flight
            time.sleep(0.02)
        assert worker.poll() is None, worker.communicate()[0][-3000:]
        worker.send_signal(signal.SIGKILL)
    finally:
        output = worker.communicate(timeout=30)[0]
    assert 100 <= warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone()[0] < 600

    ran = pipeline()

    assert_invariants(world, server, ran, extra_texts={"killed worker output": output})


@pytest.mark.slow
def test_postgresql_restarted_mid_load_fails_the_task_cleanly_and_its_retry_completes(
    serve, tmp_path, throwaway_postgres, monkeypatch
) -> None:
    world = pipeline_world(tmp_path / "big-world", deals=600)
    cluster = throwaway_postgres
    url = cluster.start()
    monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_WAREHOUSE", url)
    from pin2deal.hooks.warehouse import WarehouseHook

    WarehouseHook().migrate()
    serve(world, faults=FaultRates(latency_ms=150))
    worker = _operator_process(HUBSPOT_TASK, {"AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": url})
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and worker.poll() is None:
            if conn.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone()[0] >= 10:
                break
            time.sleep(0.05)
    assert worker.poll() is None, worker.communicate()[0][-3000:]
    restart = threading.Thread(target=cluster.restart)
    restart.start()
    output = worker.communicate(timeout=120)[0]
    assert worker.returncode != 0, "the task fails when its database connection is cut"
    cut = "terminating connection" in output or "server closed" in output
    assert "Traceback" in output and cut, output[-2000:]
    restart.join()  # back up: the restart's own start, not a second server racing it
    cluster.start()  # (idempotent)

    retry = _operator_process(HUBSPOT_TASK, {"AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": url})  # Airflow's retry
    retried = retry.communicate(timeout=300)[0]
    assert retry.returncode == 0, retried[-3000:]
    with psycopg.connect(url, autocommit=True) as conn:
        expected = invariants.expected_from(world.dataset)
        expected.ad_days = set()  # only the extraction ran here
        problems = invariants.check_raw_counts(conn, expected) + invariants.find_leaks(
            {"worker output": output + retried, **invariants.warehouse_texts(conn)}, expected
        )
    assert not problems, problems


@pytest.mark.slow
def test_two_pinterest_spend_runs_at_once_with_overlapping_lookbacks_load_every_ad_day_once(
    world, serve, pipeline, assert_invariants, warehouse, warehouse_url
) -> None:
    """Two ``pull_spend`` tasks of ``pinterest_spend`` in two worker processes at once, for intervals whose lookbacks
    overlap on 11 days (a backfill next to the schedule), both meeting an expired access token. The test holds a
    write lock on ``raw.pinterest_ad_daily`` until both are inside their load (as a large load is slow): every
    ad-day is loaded once, nothing is deleted, the token is refreshed once."""
    from pin2deal.operators.pinterest import PinterestEntitiesOperator

    server = serve(world)
    PinterestEntitiesOperator(task_id="refresh_entities").execute({"run_id": "reliability__entities"})
    httpx.post(f"{server.url}/_sandbox/pinterest/expire-token").raise_for_status()
    day = dt.timedelta(days=1)
    runs = (  # days -31..-10 and -20..-2 of the world: together exactly the dataset's
        ("scheduled__a", MIDNIGHT - 12 * day, MIDNIGHT - 9 * day, 19),
        ("backfill__b", MIDNIGHT - 5 * day, MIDNIGHT - day, 15),
    )
    with psycopg.connect(warehouse_url) as blocker:
        blocker.execute("LOCK TABLE raw.pinterest_ad_daily IN EXCLUSIVE MODE")  # reads pass, writes wait
        workers = [
            _operator_process(PULL_TASK.format(lookback=lookback), context=_interval_context(run_id, start, end))
            for run_id, start, end, lookback in runs
        ]
        deadline = time.monotonic() + 120
        while len(_waiting_on_locks(warehouse)) < 2 and time.monotonic() < deadline:
            exited = [worker.communicate()[0][-2000:] for worker in workers if worker.poll() is not None]
            assert not exited, exited
            time.sleep(0.05)
        waiting = _waiting_on_locks(warehouse)
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]

    assert len(waiting) == 2, waiting
    assert all(worker.returncode == 0 for worker in workers), "\n=====\n".join(output[-4000:] for output in outputs)
    assert server.app.state.pinterest.tokens.refreshes == 1, "both met the expired token: one refresh"
    assert warehouse.execute("SELECT count(*) FROM raw.pinterest_ad_daily_deleted").fetchone()[0] == 0
    ran = ["pinterest_spend", *pipeline(skip=("pinterest_spend",))]
    assert_invariants(world, server, ran, extra_texts={"worker output": "\n".join(outputs)})


class RestartWhen(threading.Thread):
    """Restarts a throwaway cluster at one moment of a running task: once ``arm`` holds, it locks ``table`` against
    writes (the task's next write to it waits: the moment stays open however fast the task is); once a session
    waits for that table's lock and ``fire`` holds, it restarts the cluster."""

    def __init__(
        self, cluster, url: str, table: str, *, arm=lambda conn: True, fire=lambda conn: True, mode: str = "fast"
    ) -> None:
        super().__init__(daemon=True)
        self.cluster, self.url, self.table, self.arm, self.fire, self.mode = cluster, url, table, arm, fire, mode
        self.waiting: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        # No context managers: the restart cuts these sessions too, and a dead one cannot commit on the way out.
        watch, blocker = psycopg.connect(self.url, autocommit=True), psycopg.connect(self.url)
        try:
            deadline = time.monotonic() + 120
            while not self.arm(watch):
                assert time.monotonic() < deadline, "never armed"
                time.sleep(0.01)
            blocker.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")  # reads pass, writes wait
            while not (self.waiting and self.fire(watch)):
                assert time.monotonic() < deadline, "the task never waited on the lock"
                self.waiting = _waiting_to_write(watch, self.table)
                time.sleep(0.01)
            self.cluster.restart(self.mode)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            watch.close()
            blocker.close()


def _waiting_to_write(conn: psycopg.Connection, table: str) -> list[str]:
    """The queries of the sessions waiting for a lock on ``table``."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT activity.query FROM pg_locks AS lock JOIN pg_stat_activity AS activity USING (pid) "
            "WHERE NOT lock.granted AND lock.relation = %s::regclass",
            (table,),
        )
    ]


def _tries(dag_run, task_id: str) -> int:
    return next(ti.try_number for ti in dag_run.get_task_instances() if ti.task_id == task_id)


@pytest.mark.slow
def test_postgresql_restarted_during_every_load_the_reconcile_and_the_conversions_sending(
    serve, tmp_path, throwaway_postgres, monkeypatch, dagbag, run_dag, capfd, require_conversions
) -> None:
    """The whole pipeline on a throwaway cluster, restarted four times while a task is writing: in
    ``hubspot_deals``' load of a page of deals, in ``pinterest_spend``'s load of ad-days, in
    ``attribution_reconcile``'s ``reconcile_deals``, and in ``pinterest_capi``'s ``send_conversions`` after
    Pinterest processed a batch and before its outcome reached the ledger. Each task fails with the driver's error
    and Airflow's retry (``dag.test()`` runs retries; their delay is shortened to seconds here) completes it:
    nothing lost, the batch re-sent under the same event ids, flagged."""
    world = pipeline_world(tmp_path / "world")
    cluster = throwaway_postgres
    url = cluster.start()
    retry_delays = {}
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_WAREHOUSE", url)
        from pin2deal.hooks.warehouse import WarehouseHook

        WarehouseHook().migrate()
        server = serve(world, faults=FaultRates(latency_ms=300))  # a batch's answer takes 0.3 s to come back
        for dag_id, *_ in PIPELINE:
            for task in dagbag.get_dag(dag_id).tasks:
                retry_delays[task] = task.retry_delay
                task.retry_delay = dt.timedelta(seconds=3)

        def in_flight(conn: psycopg.Connection) -> bool:
            return conn.execute("SELECT count(*) FROM ops.capi_ledger WHERE state = 'in_flight'").fetchone()[0] > 0

        def processed(conn: psycopg.Connection) -> bool:
            return len(invariants.received_events(server.url)) > 0

        def planned(conn: psycopg.Connection) -> bool:  # the plan attaches the marts' new generation first
            return conn.execute("SELECT EXISTS (SELECT FROM ops.reconcile_runs WHERE generation > 0)").fetchone()[0]

        faults = {  # DAG id -> the task cut, the table it is writing, when to lock it and when to restart
            "hubspot_deals": ("extract_hubspot_deals", "raw.hubspot_deals", {}),
            "pinterest_spend": ("pull_spend", "raw.pinterest_ad_daily", {}),
            "attribution_reconcile": ("reconcile_deals", "mart.deal_attribution", {"arm": planned}),
            "pinterest_capi": ("send_conversions", "ops.capi_ledger", {"arm": in_flight, "fire": processed}),
        }
        for dag_id, logical_date, params in PIPELINE:
            if dag_id not in faults:
                run_dag(dag_id, logical_date, conf=params)
                continue
            task_id, table, moments = faults[dag_id]
            restarter = RestartWhen(cluster, url, table, **moments)
            restarter.start()
            try:
                dag_run = run_dag(dag_id, logical_date, conf=params)
            finally:
                restarter.join(timeout=60)
                assert restarter.error is None, f"{dag_id}: {restarter.error!r}, waiting: {restarter.waiting}"
            assert restarter.waiting, f"{dag_id}: the restart came while {task_id} waited to write {table}"
            assert _tries(dag_run, task_id) == 2, f"{dag_id}.{task_id} failed once and its retry completed"

        out, err = capfd.readouterr()
        with psycopg.connect(url, autocommit=True) as conn:
            expected = invariants.expected_from(world.dataset, extra_secrets=issued_tokens(server))
            problems, _ = invariants.check(conn, expected, sandbox_url=server.url, captured=out + err, conversions=True)
            repeats = conn.execute("SELECT count(*) FROM ops.capi_ledger WHERE possible_repeat").fetchone()[0]
    finally:
        for task, delay in retry_delays.items():
            task.retry_delay = delay
    assert (out + err).count("terminating connection due to administrator command") >= 4, "each task saw the cut"
    assert repeats > 0, "the batch Pinterest had processed was re-sent under the same ids and flagged"
    assert not problems, "invariants violated:\n" + "\n".join(problems[:40])


def _marts(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    """Every row of the reconcile's marts (but the time each was written), in key order."""
    return {
        table: conn.execute(
            f"SELECT to_jsonb(mart) - 'reconciled_at' FROM {table} AS mart ORDER BY to_jsonb(mart)::text"
        ).fetchall()
        for table in ("mart.deal_attribution", "mart.performance", "mart.cohort_cac", "mart.truth_vs_platform",
                      "mart.channel_performance")
    }  # fmt: skip


@pytest.mark.slow
def test_postgresql_crashing_between_the_reconcile_steps_loses_no_deal_and_no_spend(
    serve, tmp_path, throwaway_postgres, monkeypatch, dagbag, run_dag
) -> None:
    """An incremental ``attribution_reconcile`` whose server crashes (``pg_ctl restart -m immediate``) while
    ``publish_marts`` waits to write: ``reconcile_deals`` had committed the changed deals (staged) and their pending
    contributions, ``reconcile_spend`` the staged spend. Both survive crash recovery, so the retry of
    ``publish_marts`` completes the run, and the marts equal a full rebuild's."""
    world = pipeline_world(tmp_path / "world")
    cluster = throwaway_postgres
    url = cluster.start()
    task = dagbag.get_dag("attribution_reconcile").get_task("publish_marts")
    retry_delay = task.retry_delay
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_WAREHOUSE", url)
        from pin2deal.hooks.warehouse import WarehouseHook

        WarehouseHook().migrate()
        server = serve(world)
        for dag_id, logical_date, params in PIPELINE[:3]:
            run_dag(dag_id, logical_date, conf=params)
        with psycopg.connect(url, autocommit=True) as conn:
            paid_open = [deal_id for (deal_id,) in conn.execute(
                "SELECT deal_id FROM mart.deal_attribution WHERE channel = 'pinterest_paid' AND NOT is_won "
                "ORDER BY deal_id LIMIT 5"
            )]  # fmt: skip
        assert len(paid_open) == 5, "the world has Pinterest-paid open deals to win"
        won_at = (MIDNIGHT - dt.timedelta(days=2)).isoformat()
        for deal_id in paid_open:
            httpx.post(f"{server.url}/_sandbox/hubspot/deals/{deal_id}/close-won",
                       json={"closedAt": won_at, "modifiedAt": won_at}).raise_for_status()  # fmt: skip
        hubspot, reconcile = PIPELINE[0], PIPELINE[2]
        run_dag(hubspot[0], hubspot[1], conf=hubspot[2])

        task.retry_delay = dt.timedelta(seconds=10)  # past the crash recovery, even on a busy machine
        # The table the reconcile writes (mart.performance is a view of it that shows rows it does not store).
        crash = RestartWhen(cluster, url, "mart.performance_generations", mode="immediate")
        crash.start()
        try:
            dag_run = run_dag(reconcile[0], reconcile[1], conf=reconcile[2])
        finally:
            crash.join(timeout=60)
            assert crash.error is None, f"{crash.error!r}, waiting: {crash.waiting}"
        assert crash.waiting, "the crash came while publish_marts waited to write mart.performance"
        assert _tries(dag_run, "publish_marts") == 2, "it failed once and its retry completed"
        with psycopg.connect(url, autocommit=True) as conn:
            run = conn.execute("SELECT mode, deals_changed FROM ops.reconcile_runs ORDER BY started_at DESC").fetchone()
            assert run[0] == "incremental" and run[1] >= 5, run
            won = conn.execute("SELECT count(*) FROM mart.deal_attribution WHERE deal_id = ANY(%s) AND is_won",
                               (paid_open,)).fetchone()[0]  # fmt: skip
            assert won == 5
            after_crash = _marts(conn)
        run_dag(reconcile[0], reconcile[1], conf={**reconcile[2], "full_rebuild": True})
        with psycopg.connect(url, autocommit=True) as conn:
            assert _marts(conn) == after_crash, "the run the crash cut ends with the marts of a full rebuild"
    finally:
        task.retry_delay = retry_delay
