"""The Airflow plugin that puts the pin2deal page in Airflow's UI: the FastAPI app the api-server mounts at
``/pin2deal`` and a "pin2deal" entry in the Browse menu that shows it (an external view, framed by the UI).

Installed, Airflow finds it through the ``airflow.plugins`` entry point; a repository checkout through
``plugins/pin2deal_plugin.py`` in the plugins folder (Airflow registers a plugin name once)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from pin2deal.ui.app import URL_PREFIX, create_app


class Pin2dealPlugin(AirflowPlugin):
    name = "pin2deal"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "pin2deal page"}]
    external_views = [
        {
            "name": "pin2deal",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "pin2deal",
        }
    ]
