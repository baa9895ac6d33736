"""OpenLineage datasets of pin2deal's operators, so a lineage graph (Marquez, Astro) runs from a pin to a CAC row.

The operators' ``get_openlineage_facets_on_complete`` name what they read and wrote with these functions; the
OpenLineage provider calls them when it is installed and configured, and nothing here runs otherwise (its imports
are inside the functions). Names follow OpenLineage's dataset naming: a warehouse table is
``postgres://host:port`` / ``database.schema.table``; the APIs have no standard, so they are named by their host and
what is read: ``hubspot://api.hubapi.com`` / ``crm/deals``, ``pinterest://api.pinterest.com`` /
``ad_accounts/<id>/analytics`` (the Conversions API: ``ad_accounts/<id>/events``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset


def _address(host: str | None, port: int | None, default_host: str) -> str:
    """``host[:port]`` of a connection whose host may carry a scheme (``https://api.pinterest.com``)."""
    host = host or default_host
    netloc = urlsplit(host).netloc if "://" in host else host
    return f"{netloc.split(':')[0]}:{port}" if port else netloc


def warehouse(conn_id: str, *tables: str) -> list[Dataset]:
    """Warehouse tables (``schema.table``) of the PostgreSQL connection ``conn_id``."""
    from airflow.sdk import BaseHook
    from openlineage.client.event_v2 import Dataset

    conn = BaseHook.get_connection(conn_id)
    namespace = f"postgres://{_address(conn.host, conn.port or 5432, 'localhost')}"
    return [Dataset(namespace=namespace, name=f"{conn.schema}.{table}") for table in tables]


def hubspot(conn_id: str, *objects: str) -> list[Dataset]:
    """CRM objects (``deals``, ``contacts``, ``pipelines/deals``) of the HubSpot portal behind ``conn_id``."""
    from airflow.sdk import BaseHook
    from openlineage.client.event_v2 import Dataset

    conn = BaseHook.get_connection(conn_id)
    namespace = f"hubspot://{_address(conn.host, conn.port, 'api.hubapi.com')}"
    return [Dataset(namespace=namespace, name=f"crm/{kind}") for kind in objects]


def pinterest(conn_id: str, *parts: str) -> list[Dataset]:
    """What is read from or sent to the ad account of the Pinterest connection ``conn_id`` (``analytics``, ...)."""
    from airflow.sdk import BaseHook
    from openlineage.client.event_v2 import Dataset

    conn = BaseHook.get_connection(conn_id)
    namespace = f"pinterest://{_address(conn.host, conn.port, 'api.pinterest.com')}"
    account = f"ad_accounts/{conn.extra_dejson.get('ad_account_id')}"
    return [Dataset(namespace=namespace, name=f"{account}/{part}" if part else account) for part in parts]


def files(*paths: str) -> list[Dataset]:
    """Local folders read or written (dropped CSV files, briefing files)."""
    import socket

    from openlineage.client.event_v2 import Dataset

    return [Dataset(namespace=f"file://{socket.gethostname()}", name=str(path)) for path in paths]


def operator_lineage(inputs: Iterable[Dataset] = (), outputs: Iterable[Dataset] = ()) -> OperatorLineage:
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs))
