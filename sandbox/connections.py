"""The Airflow connections (``AIRFLOW_CONN_*`` JSON) that point pin2deal at a running sandbox."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from sandbox.pinterest.world import CONFIG_DEFAULTS


def airflow_connections(base_url: str, config: dict[str, Any]) -> dict[str, str]:
    """Env var name -> connection JSON of ``hubspot_default`` and both Pinterest connections."""
    parts = urlsplit(base_url)

    def endpoint(conn_type: str) -> dict[str, Any]:  # pin2deal's connection types (pin2deal.provider_info)
        return {"conn_type": conn_type, "host": parts.hostname, "port": parts.port, "schema": parts.scheme}

    account = {"ad_account_id": config["ad_account_id"], "timezone": config["timezone"]}
    oauth = {**CONFIG_DEFAULTS, **config}
    refresh = {
        "refresh_token": oauth["pinterest_refresh_token"],
        "client_id": oauth["pinterest_client_id"],
        "client_secret": oauth["pinterest_client_secret"],
    }
    return {
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(
            {**endpoint("hubspot"), "password": config["hubspot_token"], "extra": {"properties": config["properties"]}}
        ),
        "AIRFLOW_CONN_PINTEREST_ADS_DEFAULT": json.dumps(
            {**endpoint("pinterest_ads"), "password": config["pinterest_ads_token"], "extra": {**account, **refresh}}
        ),
        "AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT": json.dumps(
            {**endpoint("pinterest_conversions"), "password": config["pinterest_conversions_token"], "extra": account}
        ),
    }
