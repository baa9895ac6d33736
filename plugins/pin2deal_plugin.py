"""The pin2deal page for a repository checkout (``plugins/`` as Airflow's plugins folder); an installed pin2deal
registers the same plugin through its ``airflow.plugins`` entry point."""

from pin2deal.plugin import Pin2dealPlugin

__all__ = ["Pin2dealPlugin"]
