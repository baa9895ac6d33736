"""Where pin2deal's non-Python parts are: its SQL and DAG files inside the package, and the folder of its files.

The package is the one place at run time: the wheel holds ``pin2deal/sql`` (``include/sql``) and ``pin2deal/dags``
(``dags/``); in the repository those two are links to the same folders, so a checkout on ``PYTHONPATH`` reads them
the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
SQL_DIR = PACKAGE_DIR / "sql"
SCHEMA_DIR = SQL_DIR / "schema"
DAGS_DIR = PACKAGE_DIR / "dags"
# Where pin2deal keeps files beside the warehouse (briefing files, other channels' spend CSVs): PIN2DEAL_HOME (the
# Makefile sets the repository, docker-compose /opt/airflow), else Airflow's home.
PROJECT_ROOT = Path(os.environ.get("PIN2DEAL_HOME") or os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
