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


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not a JSON value: {error}") from error


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

    @property
    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.config["today"])

    @classmethod
    def load(cls, root: Path) -> Dataset:
        config_path = root / "config.json"
        if not config_path.exists():
            raise FileNotFoundError(f"{root} is not a sandbox dataset: {config_path} is missing")
        hubspot, pinterest = root / "hubspot", root / "pinterest"
        pipelines, properties = hubspot / "pipelines.json", hubspot / "properties.json"
        return cls(
            config=json.loads(config_path.read_text(encoding="utf-8")),
            deals=list(read_jsonl(hubspot / "deals.jsonl")),
            contacts=list(read_jsonl(hubspot / "contacts.jsonl")),
            pipelines=json.loads(pipelines.read_text()) if pipelines.exists() else {"results": []},
            properties=json.loads(properties.read_text()) if properties.exists() else {"deals": [], "contacts": []},
            **{name: list(read_jsonl(pinterest / f"{name}.jsonl")) for name in PINTEREST_FILES},
        )

    def save(self, root: Path) -> None:
        write_json(root / "config.json", self.config)
        for name in HUBSPOT_FILES:
            write_jsonl(root / "hubspot" / f"{name}.jsonl", getattr(self, name))
        write_json(root / "hubspot" / "pipelines.json", self.pipelines)
        write_json(root / "hubspot" / "properties.json", self.properties)
        for name in PINTEREST_FILES:
            write_jsonl(root / "pinterest" / f"{name}.jsonl", getattr(self, name))
