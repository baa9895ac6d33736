"""The distribution's parts, checked in the repository (tests/e2e/test_install_into_airflow.py installs the wheel):
the provider info Airflow reads, its connection forms against what the hooks read, the plugin, the DAGs loaded from
the package through one file, and the SQL read through the package."""

from __future__ import annotations

import json
import tomllib
from importlib import import_module
from pathlib import Path

import jsonschema
import pytest

import pin2deal
from pin2deal.provider_info import get_provider_info
from tests.conftest import ROOT

CONNECTION_TYPES = {
    "hubspot": ("pin2deal.hooks.hubspot_api.HubSpotHook", "HubSpot"),
    "pinterest_ads": ("pin2deal.hooks.pinterest.PinterestAdsHook", "Pinterest Ads"),
    "pinterest_conversions": ("pin2deal.hooks.pinterest.PinterestConversionsHook", "Pinterest Conversions"),
}
PIPELINE_DAGS = {
    "hubspot_deals", "hubspot_sweep", "pinterest_spend", "attribution_reconcile", "pinterest_capi",
    "daily_briefing",
}  # fmt: skip


def _hook(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def test_the_provider_info_is_valid_for_airflow_and_names_one_version() -> None:
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    assert info["versions"] == [pin2deal.__version__]
    for group in ("hooks", "operators", "sensors"):
        for entry in info[group]:
            for module in entry["python-modules"]:
                import_module(module)


def test_each_connection_type_is_its_hooks_with_labelled_fields_help_and_placeholders() -> None:
    types = {item["connection-type"]: item for item in get_provider_info()["connection-types"]}
    assert set(types) == set(CONNECTION_TYPES)
    for conn_type, (hook_path, hook_name) in CONNECTION_TYPES.items():
        declared, hook = types[conn_type], _hook(CONNECTION_TYPES[conn_type][0])
        assert declared["hook-class-name"] == hook_path and declared["hook-name"] == hook_name
        assert hook.conn_type == conn_type and hook.hook_name == hook_name
        behaviour = declared["ui-field-behaviour"]
        assert behaviour["hidden-fields"] == ["login"]
        assert {"host", "password"} <= set(behaviour["placeholders"]) and behaviour["relabeling"]["password"]
        for name, field in declared["conn-fields"].items():
            assert field["label"] and field["description"], (conn_type, name)
            assert field["schema"]["examples"], (conn_type, name)  # what the form shows as the placeholder
            assert "null" in field["schema"]["type"], (conn_type, name)  # every field may stay empty


def test_the_form_fields_are_the_extra_keys_the_hooks_read() -> None:
    """A field the hook does not read would be a setting that does nothing; the Pinterest hooks also keep these
    keys out of request headers (HttpHook sends unknown extra keys as headers)."""
    from pin2deal.hooks.hubspot_api import HubSpotSettings
    from pin2deal.hooks.pinterest import OWN_EXTRA_KEYS

    types = {item["connection-type"]: item["conn-fields"] for item in get_provider_info()["connection-types"]}
    assert set(types["hubspot"]) == {"properties"}
    mapping = types["hubspot"]["properties"]["schema"]["examples"][0]
    assert HubSpotSettings.from_extra({"properties": mapping}).custom_properties["epik"] == mapping["epik"]
    assert HubSpotSettings.from_extra({"properties": None}) == HubSpotSettings.from_extra({})  # an empty field
    assert set(types["pinterest_ads"]) <= OWN_EXTRA_KEYS
    assert set(types["pinterest_conversions"]) <= OWN_EXTRA_KEYS


def test_the_entry_points_name_the_provider_info_and_the_plugin() -> None:
    points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    module, _, name = points["apache_airflow_provider"]["provider_info"].partition(":")
    assert getattr(import_module(module), name) is get_provider_info
    module, _, name = points["airflow.plugins"]["pin2deal"].partition(":")
    plugin = getattr(import_module(module), name)
    assert plugin.name == "pin2deal" and plugin.fastapi_apps[0]["url_prefix"] == "/pin2deal"
    assert import_module("pin2deal_plugin").Pin2dealPlugin is plugin  # the repository's plugins folder: the same one


def test_the_sql_and_the_dags_are_read_through_the_package() -> None:
    from pin2deal.paths import DAGS_DIR, SCHEMA_DIR, SQL_DIR

    assert SQL_DIR == Path(pin2deal.__file__).parent / "sql"
    assert SQL_DIR.resolve() == ROOT / "include" / "sql" and DAGS_DIR.resolve() == ROOT / "dags"
    assert sorted(SCHEMA_DIR.glob("0*.sql")) and (SQL_DIR / "reconcile" / "cac.sql").is_file()


def test_one_dropped_in_file_gives_airflow_every_dag_from_the_package(tmp_path: Path) -> None:
    """The file the README writes, parsed as the dag-processor parses a DAG file: the six DAGs, as that file's."""
    from airflow.dag_processing.dagbag import DagBag

    readme = (ROOT / "README.md").read_text()
    printf = next(line for line in readme.splitlines() if line.startswith("printf '# Airflow: the pin2deal DAGs"))
    content = printf.split("'")[1].replace("\\n", "\n")
    (tmp_path / "pin2deal_dags.py").write_text(content)
    bag = DagBag(dag_folder=str(tmp_path))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == PIPELINE_DAGS
    assert {dag.fileloc for dag in bag.dags.values()} == {str(tmp_path / "pin2deal_dags.py")}


def test_parsing_for_one_task_runs_only_that_dags_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from pin2deal.dag_files import load

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "pinterest_capi")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", "send_conversions")
    assert set(load()) == {"pinterest_capi"}
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID")
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID")
    assert set(load()) == PIPELINE_DAGS
