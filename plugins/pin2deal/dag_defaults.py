"""What every pin2deal DAG shares: default task arguments and the Assets that chain the DAGs."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Asset

DEFAULT_ARGS = {
    "owner": "pin2deal",
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=15),
}

# Published by the extraction DAGs when their raw tables are up to date for an interval.
RAW_HUBSPOT_DEALS = Asset(name="raw_hubspot_deals", uri="pin2deal://warehouse/raw/hubspot_deals")
RAW_PINTEREST_SPEND = Asset(name="raw_pinterest_spend", uri="pin2deal://warehouse/raw/pinterest_ad_daily")
# Published by attribution_reconcile; the CAPI and briefing DAGs follow it.
MART_ATTRIBUTION = Asset(name="mart_attribution", uri="pin2deal://warehouse/mart/attribution")
