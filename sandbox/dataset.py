"""Read and write dataset directories (the public format of docs/design.md's sandbox contract)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HUBSPOT_FILES = ("deals", "contacts")
PINTEREST_FILES = ("campaigns", "ad_groups", "ads", "analytics")
CONFIG_TEXT_FIELDS = ("hubspot_token", "today")  # what the HubSpot side cannot serve without


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for _, record in read_numbered_jsonl(path):
        yield record


def read_numbered_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line; a line that is not JSON fails naming the file and line."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not a JSON value: {error}") from error


def _numbered(path: Path) -> tuple[list[Any], list[int]]:
    pairs = list(read_numbered_jsonl(path))
    return [record for _, record in pairs], [number for number, _ in pairs]


def _json_document(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: not a JSON document: {error.msg}") from error


_ENTITY_IDS = ("id", "ad_account_id", "campaign_id", "ad_group_id")


def _pinterest_entities(path: Path) -> list[dict[str, Any]]:
    """Campaigns, ad groups or ads as the v5 list endpoints return them: each an object whose ``id`` (and any
    parent id it names) is a Pinterest id, a string of digits; anything else fails naming the file, line and field."""
    entities = []
    for number, entity in read_numbered_jsonl(path):
        where = f"pinterest/{path.name} line {number}"
        if not isinstance(entity, dict):
            raise ValueError(f"{where}: must be a JSON object")
        for name in _ENTITY_IDS:
            value = entity.get(name)
            if (name == "id" or value is not None) and not (isinstance(value, str) and value.isdigit()):
                raise ValueError(f"{where}: field {name!r} must be a Pinterest id (a string of digits), got {value!r}")
        entities.append(entity)
    return entities


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


@dataclass
class Dataset:
    """One world: the config plus every HubSpot and Pinterest record, as plain JSON values."""

    config: dict[str, Any]
    deals: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    pipelines: dict[str, Any] = field(default_factory=lambda: {"results": []})
    properties: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"deals": [], "contacts": []})
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    ad_groups: list[dict[str, Any]] = field(default_factory=list)
    ads: list[dict[str, Any]] = field(default_factory=list)
    analytics: list[dict[str, Any]] = field(default_factory=list)
    # Line of each record in its .jsonl file ("deals", "contacts"), when loaded from a directory.
    lines: dict[str, list[int]] = field(default_factory=dict, compare=False, repr=False)

    def where(self, name: str, index: int) -> str:
        """Names record ``index`` of HubSpot file ``name`` for an error: file and line (or position)."""
        numbers = self.lines.get(name)
        if numbers and index < len(numbers):
            return f"hubspot/{name}.jsonl line {numbers[index]}"
        return f"hubspot/{name}.jsonl record {index + 1}"

    @property
    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.config["today"])

    @classmethod
    def load(cls, root: Path) -> Dataset:
        config_path = root / "config.json"
        if not config_path.exists():
            raise FileNotFoundError(f"{root} is not a sandbox dataset: {config_path} is missing")
        hubspot, pinterest = root / "hubspot", root / "pinterest"
        config = _json_document(config_path, {})
        if not isinstance(config, dict):
            raise ValueError(f"{config_path}: must be a JSON object")
        for key in CONFIG_TEXT_FIELDS:
            if not isinstance(config.get(key), str) or not config[key]:
                raise ValueError(f"{config_path}: field {key!r} is required (a non-empty string)")
        try:
            dt.date.fromisoformat(config["today"])
        except ValueError:
            raise ValueError(
                f"{config_path}: field 'today' must be a date YYYY-MM-DD, got {config['today']!r}"
            ) from None
        if not isinstance(config.get("properties", {}), dict):
            raise ValueError(f"{config_path}: field 'properties' must be an object of role -> property name")
        deals, deal_lines = _numbered(hubspot / "deals.jsonl")
        contacts, contact_lines = _numbered(hubspot / "contacts.jsonl")
        return cls(
            config=config,
            deals=deals,
            contacts=contacts,
            pipelines=_json_document(hubspot / "pipelines.json", {"results": []}),
            properties=_json_document(hubspot / "properties.json", {"deals": [], "contacts": []}),
            **{name: _pinterest_entities(pinterest / f"{name}.jsonl") for name in PINTEREST_FILES[:3]},
            analytics=list(read_jsonl(pinterest / "analytics.jsonl")),
            lines={"deals": deal_lines, "contacts": contact_lines},
        )

    def save(self, root: Path) -> None:
        write_json(root / "config.json", self.config)
        for name in HUBSPOT_FILES:
            write_jsonl(root / "hubspot" / f"{name}.jsonl", getattr(self, name))
        write_json(root / "hubspot" / "pipelines.json", self.pipelines)
        write_json(root / "hubspot" / "properties.json", self.properties)
        for name in PINTEREST_FILES:
            write_jsonl(root / "pinterest" / f"{name}.jsonl", getattr(self, name))
