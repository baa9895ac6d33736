"""Check HTTP requests as sent against the operations of the official Pinterest v5 OpenAPI description.

Schemas are read through ``sandbox.pinterest.spec`` (which rewrites OpenAPI 3.0 into JSON Schema); the matching of
a request to its operation and the serialisation rules (``style: form``; ``explode: false`` means one
comma-separated value, the default ``explode: true`` means one key per item) are checked here, independently.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import requests

from sandbox.pinterest.spec import PinterestSpec

API_PREFIX = "/v5"


class SpecConformance:
    def __init__(self, spec: PinterestSpec) -> None:
        self.spec = spec
        self.templates = []
        for path, item in spec.document["paths"].items():
            names = re.findall(r"\{([^/}]+)\}", path)
            pattern = re.compile("^" + re.sub(r"\{[^/}]+\}", "([^/]+)", re.sub(r"[.]", r"\\.", path)) + "$")
            literal = sum(1 for part in path.split("/") if part and not part.startswith("{"))
            self.templates.append((literal, path, pattern, names, item))
        self.templates.sort(key=lambda entry: -entry[0])

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        for _, template, pattern, names, item in self.templates:
            match = pattern.match(path)
            if match and method.lower() in item:
                return template, item[method.lower()], dict(zip(names, match.groups(), strict=True))
        raise AssertionError(f"{method} {path}: no operation of the spec has this method and path")

    def problems(self, request: requests.PreparedRequest) -> list[str]:
        """Everything about ``request`` that its operation in the spec does not allow (empty: conforms)."""
        url = urlsplit(request.url)
        if not url.path.startswith(API_PREFIX + "/"):
            return [f"{url.path}: not below {API_PREFIX}"]
        template, raw, path_values = self.operation(request.method, url.path[len(API_PREFIX) :])
        what = f"{request.method} {template}"
        operation = self.spec.operation(raw["operationId"])
        declared = {p["name"]: p for p in (self.spec.resolve(p) for p in raw.get("parameters", []))}
        found: list[str] = []
        pairs = parse_qsl(url.query, keep_blank_values=True)
        by_name: dict[str, list[str]] = {}
        for name, value in pairs:
            by_name.setdefault(name, []).append(value)
        for name in by_name:
            if name not in declared or declared[name]["in"] != "query":
                found.append(f"{what}: query parameter {name!r} is not declared")
        for parameter in operation.parameters:
            raw_parameter = declared[parameter.name]
            if parameter.location == "path":
                value: Any = path_values.get(parameter.name)
            elif parameter.name in by_name:
                values = by_name[parameter.name]
                if parameter.kind == "array":
                    if raw_parameter.get("explode") is False:
                        if len(values) != 1:
                            found.append(f"{what}: {parameter.name} has explode: false, sent as {len(values)} keys")
                        value = [item for v in values for item in v.split(",")]
                    else:
                        if any("," in v for v in values):
                            found.append(f"{what}: {parameter.name} is exploded (one key per item), sent joined")
                        value = values
                    value = [_typed(item, parameter.item_kind) for item in value]
                else:
                    if len(values) != 1:
                        found.append(f"{what}: {parameter.name} sent {len(values)} times")
                    value = _typed(values[-1], parameter.kind)
            else:
                value = None
            if value is None:
                if parameter.required:
                    found.append(f"{what}: required parameter {parameter.name!r} is missing")
                continue
            error = self.spec.first_error(parameter.schema, value)
            if error:
                found.append(f"{what}: {parameter.name}: {error}")
        if operation.body_schema is not None:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            content_type = request.headers.get("Content-Type", "")
            if operation.body_media_type == "application/json":
                if not content_type.startswith("application/json"):
                    found.append(f"{what}: body sent as {content_type!r}, the spec says application/json")
                instance = json.loads(body or "null")
            else:
                if not content_type.startswith(operation.body_media_type):
                    found.append(f"{what}: body sent as {content_type!r}, the spec says {operation.body_media_type}")
                instance = {name: values[-1] for name, values in parse_qs(body or "").items()}
            error = self.spec.first_error(operation.body_schema, instance)
            if error:
                found.append(f"{what}: body: {error}")
        elif request.body:
            found.append(f"{what}: sends a body the operation does not take")
        return found


def _typed(value: str, kind: str | None) -> Any:
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value
