"""What every pin2deal DAG shares: default task arguments, the failure alert, the briefing's deadline, and the
Assets that chain the DAGs."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from airflow.sdk import DAG, Asset, AsyncCallback, DeadlineAlert, DeadlineReference

from pin2deal.alerts import Pin2dealNotifier

log = logging.getLogger(__name__)

# Baseline for every task; API and long tasks override retry_delay / max_retry_delay / execution_timeout in their
# DAG file (an API outage wants minutes between tries, a lock wait seconds).
DEFAULT_ARGS = {
    "owner": "pin2deal",
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=15),
    # Every task ends or fails: a hung socket or lock must not hold a pool slot forever.
    "execution_timeout": dt.timedelta(hours=1),
    "on_failure_callback": [Pin2dealNotifier()],
}

# How long after its run is queued the briefing must be ready: a daily run is queued at its scheduled time, so
# "schedule + N minutes" is the wall-clock time the briefing is promised by. Asset-triggered runs (no logical
# date) are queued too, so the same promise holds for them. "off" removes the alert.
BRIEFING_DEADLINE_MINUTES = os.environ.get("PIN2DEAL_BRIEFING_DEADLINE_MINUTES", "120")


class DeadlineDAG(DAG):
    """A DAG with Deadline alerts that ``dag.test()`` (``airflow dags test``, the demo, the tests) can run.

    Airflow 3.3's ``dag.test()`` builds its run from the DAG in memory, whose ``deadline`` holds the alerts'
    definitions, where the scheduler's DAG holds the ids of their stored rows: at the end of the run it looks the
    definitions up as ids and crashes (``'dict' object has no attribute 'hex'``). A test run promises nothing, so it
    runs without the alerts; the DAG the dag-processor stores, and every scheduled run, keeps them.
    """

    def test(self, *args: Any, **kwargs: Any) -> Any:
        alerts, self.deadline = self.deadline, None
        if alerts:
            log.info("dag.test(): %s's Deadline alerts are not armed for a test run", self.dag_id)
        try:
            return super().test(*args, **kwargs)
        finally:
            self.deadline = alerts


def briefing_deadline(minutes: int | str = BRIEFING_DEADLINE_MINUTES) -> DeadlineAlert | None:
    """The Deadline alert for ``daily_briefing``: the notifier runs in the triggerer when the run is late."""
    if str(minutes).strip().lower() == "off":
        return None
    minutes = int(minutes)
    return DeadlineAlert(
        name="briefing_not_ready",
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=dt.timedelta(minutes=minutes),
        callback=AsyncCallback(
            Pin2dealNotifier,
            kwargs={"title": f"pin2deal: the daily briefing is not ready {minutes} minutes after its run started"},
        ),
    )


FAILED_TASK_ADVICE = (
    "\n\n**If it fails**: read the failed task's log and its own \"If it fails\" note (Task details); the alert "
    "quotes it.\n"
)


def document_tasks(dag: DAG, docs: dict[str, str]) -> None:
    """Give each task its ``doc_md`` (what it does, what to do when it fails) from one table per DAG file."""
    for task in dag.tasks:
        if task.task_id in docs:
            task.doc_md = docs[task.task_id]


# Published by the extraction DAGs when their raw tables are up to date for an interval.
RAW_HUBSPOT_DEALS = Asset(name="raw_hubspot_deals", uri="pin2deal://warehouse/raw/hubspot_deals")
RAW_PINTEREST_SPEND = Asset(name="raw_pinterest_spend", uri="pin2deal://warehouse/raw/pinterest_ad_daily")
# Published by attribution_reconcile; the CAPI and briefing DAGs follow it.
MART_ATTRIBUTION = Asset(name="mart_attribution", uri="pin2deal://warehouse/mart/attribution")
