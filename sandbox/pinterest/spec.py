"""The official Pinterest v5 OpenAPI description, loaded at run time and turned into request/response validators.

The document is read from ``$PIN2DEAL_PINTEREST_SPEC``, else from where ``make spec`` (``python -m sandbox spec``)
downloads Pinterest's published file, ``.local/specs/pinterest/openapi.json``; it is never copied into the project.
OpenAPI 3.0 schemas are not quite JSON Schema, so the document is rewritten once into JSON Schema 2020-12 before
use:

- ``nullable: true`` becomes a ``null`` alternative (``type: [T, "null"]``, ``null`` added to an ``enum``);
- ``$ref`` siblings are kept (2020-12 evaluates them; the spec relies on that, e.g. ``user_data``'s ``anyOf``
  branches each add a ``required`` to the same ``$ref``);
- Draft-4 boolean ``exclusiveMinimum``/``exclusiveMaximum`` become numeric;
- every local ``$ref`` is made absolute (``urn:pinterest:openapi-v5#/components/...``) and the whole document is
  registered under that URI, so any sub-schema validates on its own with ``$ref`` resolved lazily (no inlining:
  the targeting schemas are large and some are recursive).

``discriminator`` (oauth/token request and response) is honoured by ``PinterestSpec.validate``: after the base
schema, the instance is validated against the schema its discriminator property maps to.

Query parameters arrive as strings: ``Operation.coerce_query`` types them by their schema (arrays accept both
repeated keys, the OpenAPI ``form``/``explode`` default, and comma-separated values, which Pinterest also accepts).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

log = logging.getLogger(__name__)

SPEC_ENV = "PIN2DEAL_PINTEREST_SPEC"
BASE_URI = "urn:pinterest:openapi-v5"
_METHODS = ("get", "post", "put", "patch", "delete")


# Pinterest's published description (github.com/pinterest/api-description), the release the sandbox follows (5.23.0),
# and the git blob id of that file, which a download must match.
SPEC_URL = (
    "https://raw.githubusercontent.com/pinterest/api-description/"
    "c05b18971472342ebdf4bafc15fea8a91c78bf79/v5/openapi.json"
)
SPEC_BLOB = "97f68c027c4e4f2aea340f02c1e7450ab5805a8a"
DOWNLOADED_SPEC = Path(__file__).resolve().parents[2] / ".local" / "specs" / "pinterest" / "openapi.json"


def default_spec_path() -> Path:
    """``$PIN2DEAL_PINTEREST_SPEC``, else where ``make spec`` puts the download."""
    return Path(os.environ.get(SPEC_ENV) or DOWNLOADED_SPEC)


class SpecDownloadError(Exception):
    """The description could not be fetched or is not the expected file; the message says what to do instead."""


def download_spec(target: Path = DOWNLOADED_SPEC, url: str = SPEC_URL, timeout: float = 60) -> Path:
    """Fetch Pinterest's published description to ``target`` (checked against its git blob id); return the path."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            content = answer.read()
    except OSError as error:
        reason = getattr(error, "reason", None) or error
        raise SpecDownloadError(
            f"could not download Pinterest's OpenAPI description from {url} ({reason}): download v5/openapi.json "
            f"of https://github.com/pinterest/api-description by hand and set {SPEC_ENV} to its path"
        ) from None
    blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    if blob != SPEC_BLOB:
        raise SpecDownloadError(f"{url} answered a different file (git blob {blob}, expected {SPEC_BLOB})")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(content)
    partial.replace(target)
    return target


class InvalidRequest(Exception):
    """A request that does not match the operation's parameters or body schema; the message names the field."""


def to_json_schema(node: Any) -> Any:
    """Rewrite an OpenAPI 3.0 schema tree (or the whole document) into JSON Schema 2020-12 (see module doc)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        out["$ref"] = BASE_URI + ref
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):
            if out.pop(bound) and limit in out:
                out[bound] = out.pop(limit)
    if out.get("nullable") is True:
        del out["nullable"]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    elif out.get("nullable") is False:
        del out["nullable"]
    return out


def _describe(error: ValidationError, root: str = "") -> str:
    """``data.0.event_time: 'x' is not of type 'integer'``: the failing field's path, then jsonschema's message.

    jsonschema quotes the whole instance in some messages (``[...] is too long``); those are shortened so that a
    1,001-event batch is answered with one line, not with the batch.
    """
    path = ".".join(str(part) for part in error.absolute_path)
    where = ".".join(part for part in (root, path) if part)
    message = error.message
    if error.validator in ("maxItems", "minItems") and isinstance(error.instance, list):
        bound = "at most" if error.validator == "maxItems" else "at least"
        message = f"{len(error.instance)} items, {bound} {error.validator_value} allowed"
    elif len(message) > 300:
        message = f"{message[:280]}... (fails {error.validator!r})"
    return f"{where}: {message}" if where else message


@dataclass
class Parameter:
    name: str
    location: str  # "path" | "query"
    required: bool
    schema: dict[str, Any]
    kind: str | None  # the schema's type after following $ref (None when it has no single type)
    item_kind: str | None = None


@dataclass
class Operation:
    """One operation of the spec: its identity, ``x-ratelimit-category``, parameters, body and response schemas."""

    spec: PinterestSpec = field(repr=False)
    operation_id: str
    method: str
    path: str
    category: str | None
    parameters: list[Parameter]
    body_media_type: str | None
    body_schema: dict[str, Any] | None
    responses: dict[str, dict[str, Any] | None]

    def coerce_query(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Typed values of the query parameters present (unknown ones are ignored, as the API does)."""
        typed: dict[str, Any] = {}
        for parameter in self.parameters:
            if parameter.location != "query" or parameter.name not in query:
                continue
            raw = query[parameter.name]
            if parameter.kind == "array":
                items = [part for value in raw for part in value.split(",") if part != ""]
                typed[parameter.name] = [_coerce(item, parameter.item_kind) for item in items]
            else:
                typed[parameter.name] = _coerce(raw[-1], parameter.kind)
        return typed

    def validate_parameters(self, path_params: Mapping[str, str], query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Check path and query parameters against their schemas; return the typed query values."""
        typed = self.coerce_query(query)
        for parameter in self.parameters:
            if parameter.location == "path":
                value: Any = path_params.get(parameter.name)
            elif parameter.location == "query":
                value = typed.get(parameter.name)
            else:
                continue
            if value is None or value == []:
                if parameter.required:
                    raise InvalidRequest(f"{parameter.name}: required parameter is missing")
                continue
            error = best_match(self.spec.validator(parameter.schema).iter_errors(value))
            if error is not None:
                raise InvalidRequest(_describe(error, parameter.name))
        return typed

    def validate_body(self, body: Any) -> None:
        if self.body_schema is None:
            return
        error = self.spec.first_error(self.body_schema, body)
        if error is not None:
            raise InvalidRequest(error)

    def response_schema(self, status: int) -> dict[str, Any] | None:
        """The schema of a response status (the operation's ``default`` response when the status is not listed)."""
        key = str(status)
        return self.responses[key] if key in self.responses else self.responses.get("default")


class PinterestSpec:
    """The rewritten document, its ``$ref`` registry and every operation by ``operationId``."""

    def __init__(self, document: dict[str, Any], source: Path | None = None) -> None:
        self.source = source
        self.document = to_json_schema(copy.deepcopy(document))
        self.version: str = document.get("info", {}).get("version", "?")
        self.registry = Registry().with_resource(
            BASE_URI, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self.operations: dict[str, Operation] = {}
        for path, item in self.document["paths"].items():
            for method in _METHODS:
                if method in item:
                    operation = self._operation(method, path, item[method], item.get("parameters", []))
                    self.operations[operation.operation_id] = operation

    @classmethod
    def load(cls, path: Path | None = None) -> PinterestSpec:
        source = path or default_spec_path()
        return cls(json.loads(source.read_text(encoding="utf-8")), source)

    def operation(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def schema(self, name: str) -> dict[str, Any]:
        """A reference to ``#/components/schemas/<name>`` usable with ``validate``."""
        return {"$ref": f"{BASE_URI}#/components/schemas/{name}"}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref`` chains (siblings dropped) to the referenced schema."""
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            pointer = schema["$ref"].removeprefix(BASE_URI + "#/")
            node: Any = self.document
            for part in pointer.split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
        return schema

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = Draft202012Validator(schema, registry=self.registry, format_checker=FormatChecker())
        return self._validators[key]

    def first_error(self, schema: dict[str, Any], instance: Any) -> str | None:
        """The most relevant violation (``path: message``), following a ``discriminator`` if the schema has one."""
        error = best_match(self.validator(schema).iter_errors(instance))
        if error is not None:
            return _describe(error)
        target = self.resolve(schema)
        discriminator = target.get("discriminator") if isinstance(target, dict) else None
        if discriminator and isinstance(instance, dict):
            mapped = discriminator.get("mapping", {}).get(instance.get(discriminator["propertyName"]))
            if mapped:
                return self.first_error(self.schema(mapped.rsplit("/", 1)[-1]), instance)
        return None

    def validate(self, schema: dict[str, Any], instance: Any) -> None:
        """Raise ``InvalidRequest`` naming the first violation of ``schema`` by ``instance``."""
        error = self.first_error(schema, instance)
        if error is not None:
            raise InvalidRequest(error)

    def _operation(self, method: str, path: str, raw: dict[str, Any], shared: list[Any]) -> Operation:
        parameters = [self._parameter(self.resolve(item)) for item in [*shared, *raw.get("parameters", [])]]
        body_media_type = body_schema = None
        body = self.resolve(raw.get("requestBody", {}))
        for media_type, content in body.get("content", {}).items():
            body_media_type, body_schema = media_type, content.get("schema")
            break
        responses = {
            status: next(iter(self.resolve(response).get("content", {}).values()), {}).get("schema")
            for status, response in raw.get("responses", {}).items()
        }
        return Operation(
            spec=self,
            operation_id=raw["operationId"],
            method=method.upper(),
            path=path,
            category=raw.get("x-ratelimit-category"),
            parameters=parameters,
            body_media_type=body_media_type,
            body_schema=body_schema,
            responses=responses,
        )

    def _parameter(self, raw: dict[str, Any]) -> Parameter:
        schema = raw.get("schema", {})
        kind = _kind(self.resolve(schema))
        item_kind = _kind(self.resolve(self.resolve(schema).get("items", {}))) if kind == "array" else None
        return Parameter(raw["name"], raw["in"], bool(raw.get("required")), schema, kind, item_kind)


def _kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [item for item in kind if item != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind


def _coerce(value: str, kind: str | None) -> Any:
    """A query string value typed by its schema type; left a string when it does not parse (validation names it)."""
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


@functools.cache
def _load_cached(path: Path, mtime_ns: int) -> PinterestSpec:
    return PinterestSpec.load(path)


def load_spec(path: Path | None = None) -> PinterestSpec | None:
    """The spec (parsed once per process and file version), or None with a warning when the file is absent."""
    source = path or default_spec_path()
    try:
        stat = source.stat()
    except FileNotFoundError:
        log.warning(
            "Pinterest OpenAPI description not found at %s (set %s): the sandbox serves without request validation",
            source,
            SPEC_ENV,
        )
        return None
    return _load_cached(source.resolve(), stat.st_mtime_ns)
