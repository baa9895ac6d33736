"""The rules behind the morning numbers, each through the DAGs on real PostgreSQL (``hubspot_deals``,
``pinterest_spend``, ``attribution_reconcile`` and, where the briefing states the number, ``daily_briefing``), on the
hand-computed world of ``reconcile_worlds``: CAC without spend, other channels' unknown days and refused Pinterest
lines, one time-to-close rule, consistent resolution levels, and names taken over by newer campaigns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg

from pin2deal.ui.app import read_page
from tests.reconcile.reconcile_worlds import (
    A112,
    C1,
    C3,
    world,
)
from tests.reconcile.test_attribution_reconcile_dag import (
    MAY,
    figures,
    performance,
)


def test_cac_is_null_when_a_period_won_deals_without_spend_in_the_marts_the_cohorts_and_the_page(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    # D1 (C1, pin A111) was won on 20 May, when C1 delivered nothing: no CAC, never $0 (nor a ROAS of spend 0).
    may_19, may_20 = dt.date(2025, 5, 19), dt.date(2025, 5, 20)
    assert performance(warehouse, "campaign", C1, "day", may_20) == figures(0, 0, 1, 1000, None, None)
    assert performance(warehouse, "campaign", C1, "week", may_19) == figures(0, 0, 1, 1000, None, None)
    # Pin A112 delivered in June only; of its May leads (D2, D3), D3 is won by now: the cohort has no CAC either.
    cohort = warehouse.execute(
        "SELECT spend, leads, won_to_date, cac FROM mart.cohort_cac "
        "WHERE grain = 'ad' AND grain_id = %s AND cohort_month = %s",
        (A112, MAY),
    ).fetchone()
    assert cohort == (Decimal(0), 2, 1, None)
    for table in ("mart.performance", "mart.cohort_cac", "mart.channel_performance"):
        assert warehouse.execute(f"SELECT count(*) FROM {table} WHERE cac = 0").fetchone() == (0,), table
    # The UI page sums the same daily rows and applies the same rule: C1 no CAC, C3 (spent, won D7) $150.
    warehouse.execute("BEGIN READ ONLY")
    try:
        page = read_page(warehouse, "campaign", may_19, may_19 + dt.timedelta(days=6))
    finally:
        warehouse.execute("ROLLBACK")
    rows = {row["grain_id"]: row for row in page["cac"].rows}
    assert (rows[C1]["spend"], rows[C1]["won"], rows[C1]["cac"]) == (Decimal(0), 1, None)
    assert (rows[C3]["spend"], rows[C3]["won"], rows[C3]["cac"]) == (Decimal(150), 1, Decimal(150))
