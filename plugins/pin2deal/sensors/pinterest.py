"""``PinterestReportSensor``: wait for Pinterest's asynchronous reports without holding a worker slot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from pin2deal.hooks.pinterest import REPORT_STATUSES_FAILED, PinterestAdsHook


class PinterestReportSensor(BaseSensorOperator):
    """Done when every report of ``reports`` (``PinterestReportRequestOperator``'s list) is FINISHED.

    Runs in ``reschedule`` mode by default: between pokes the task gives its worker slot (and its
    ``pinterest_api`` pool slot) back. A report Pinterest failed, cancelled or expired fails the task at once,
    naming its days; clearing ``request_reports`` asks for it again.
    """

    template_fields: Sequence[str] = ("reports", "pinterest_conn_id")

    def __init__(
        self,
        *,
        reports: Any,
        pinterest_conn_id: str = PinterestAdsHook.default_conn_name,
        mode: str = "reschedule",
        **kwargs: Any,
    ) -> None:
        super().__init__(mode=mode, **kwargs)
        self.reports = reports
        self.pinterest_conn_id = pinterest_conn_id

    def poke(self, context: Context) -> bool:
        if not self.reports:
            return True
        hook = PinterestAdsHook(self.pinterest_conn_id)
        pending = []
        for report in self.reports:
            status = hook.get_report(report["token"]).get("report_status")
            if status in REPORT_STATUSES_FAILED:
                raise AirflowFailException(
                    f"Pinterest report {report['start_date']}..{report['end_date']} ended {status}: "
                    "clear request_reports to ask for a new one"
                )
            if status != "FINISHED":
                pending.append(f"{report['start_date']}..{report['end_date']} {status}")
        if pending:
            self.log.info("Waiting for %d of %d Pinterest report(s): %s", len(pending), len(self.reports), pending)
        return not pending
