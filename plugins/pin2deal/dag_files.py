"""pin2deal's DAGs for a deployment that installed the package: one file in its DAGs folder loads them all.

The file (README, "Install into your Airflow")::

    # Airflow: the pin2deal DAGs, from the installed package
    from pin2deal.dag_files import load
    globals().update(load())

Airflow sees the DAGs as that file's (its dag-processor, scheduler and workers parse it like any DAG file). The DAG
files run as they are in the repository's ``dags/`` (the wheel ships them as ``pin2deal/dags``); a worker parsing
the file for one task runs only that DAG's file.
"""

from __future__ import annotations

import runpy

from airflow.sdk import DAG, get_parsing_context

from pin2deal.paths import DAGS_DIR


def load() -> dict[str, DAG]:
    """Every pin2deal DAG by DAG id (only the parsed one when Airflow parses for a task of it)."""
    files = sorted(DAGS_DIR.glob("*.py"))
    wanted = get_parsing_context().dag_id
    if wanted and (DAGS_DIR / f"{wanted}.py").is_file():  # each file is named after its DAG
        files = [DAGS_DIR / f"{wanted}.py"]
    dags: dict[str, DAG] = {}
    for path in files:
        namespace = runpy.run_path(str(path), run_name=f"pin2deal_dag_{path.stem}")
        dags.update({value.dag_id: value for value in namespace.values() if isinstance(value, DAG)})
    return dags
