"""The CRM endpoints pin2deal calls, with HubSpot's paths (``deals``/``0-3``, ``contacts``/``0-1``) and shapes.

| call | path |
| --- | --- |
| list | ``GET /crm/v3/objects/{type}``: ``limit`` 1..100 (default 10), ``after`` (an id: the page starts there),
  repeated or comma-separated ``properties``/``associations``, ``archived=true`` lists only archived records |
| search | ``POST /crm/v3/objects/{type}/search`` (see ``search.py``) |
| batch read | ``POST /crm/v3/objects/{type}/batch/read``: ``inputs[{id}]`` 1..100, ``properties``, ``idProperty``
  (a unique property such as ``legacy_deal_id`` or ``email``), ``?archived=true``; a merged-away id answers the
  surviving record; 200, or 207 with one OBJECT_NOT_FOUND error listing the missing ids |
| associations | ``POST /crm/v4/associations/{deals|0-3}/{contacts|0-1}/batch/read``: ``inputs[{id, after?}]``
  1..1,000; 500 contacts a page with ``paging.next.after`` per result; a deal without contacts (or unknown) is a
  NO_ASSOCIATIONS_FOUND error of a 207, as HubSpot answers; a deal given an association error (mutation) is that
  error in the 207 instead of its contacts |
| properties | ``GET /crm/v3/properties/{type}`` and ``/{name}`` (404 when missing) |
| pipelines | ``GET /crm/v3/pipelines/{deals|0-3}`` |

Responses are built as plain JSON (every property value a string or null, instants ISO-8601 with milliseconds
and ``Z``, ids numeric strings) and answered without model validation to keep the search fast.
"""

from __future__ import annotations

import bisect
import json
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox.hubspot.search import parse_search, run_search
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.store import KINDS, Record, Table
from sandbox.hubspot.wire import HubSpotError, iso_ms, json_response, validation_error

LIST_MAX_LIMIT = 100
BATCH_MAX_INPUTS = 100
ASSOCIATION_MAX_INPUTS = 1_000
ASSOCIATION_PAGE = 500
DEAL_TO_CONTACT = {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}


def _table(state: HubSpotState, object_type: str) -> Table:
    kind = KINDS.get(object_type)
    if kind is None:
        raise validation_error(f"Unable to infer object type from: {object_type}")
    return state.tables[kind.name]


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except json.JSONDecodeError as error:
        raise validation_error(
            f"Invalid input JSON on line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None


def _names(values: list[str]) -> list[str]:
    """Query arrays arrive as repeated keys (the client) or comma-separated (hand-written URLs)."""
    return [name for value in values for name in value.split(",") if name]


def _returned(table: Table, requested: list[str] | None) -> list[str]:
    if not requested:
        return list(table.kind.defaults)
    return list(dict.fromkeys([*requested, *table.kind.always]))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1")


def install_api(app: FastAPI, state: HubSpotState) -> None:
    """Register the CRM routes on ``app`` over ``state``."""

    @app.get("/crm/v3/objects/{object_type}", include_in_schema=False)
    async def list_objects(object_type: str, request: Request) -> Response:
        table = _table(state, object_type)
        query = request.query_params
        limit_text = query.get("limit", "10")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= LIST_MAX_LIMIT:
            raise validation_error(f"limit must be between 1 and {LIST_MAX_LIMIT}, got {limit_text}",
                                   context={"limit": [limit_text]})
        limit = int(limit_text)
        after = query.get("after")
        if after is not None and not after.isdigit():
            raise validation_error(f"after must be a cursor returned as paging.next.after, got {after!r}")
        archived = _flag(query.get("archived"))
        ids = table.archived_ids if archived else table.active_ids
        start = 0 if after is None else bisect.bisect_left(ids, int(after))
        chosen = ids[start:start + limit]
        names = _returned(table, _names(query.getlist("properties")))
        wanted = {KINDS[name].name for name in _names(query.getlist("associations")) if name in KINDS}
        results = []
        for key in chosen:
            record = table.records[str(key)]
            body = record.to_json(names, table.known)
            if table.kind.name == "deals" and "contacts" in wanted:
                contacts = state.deal_contacts.get(record.id)
                if contacts:
                    body["associations"] = {"contacts": {
                        "results": [{"id": contact, "type": "deal_to_contact"} for contact in contacts]
                    }}
            results.append(body)
        page: dict[str, Any] = {"results": results}
        if start + limit < len(ids):
            cursor = str(ids[start + limit])
            link = f"{request.base_url}crm/v3/objects/{object_type}?{urlencode({'limit': limit, 'after': cursor})}"
            page["paging"] = {"next": {"after": cursor, "link": link}}
        return json_response(page)

    @app.post("/crm/v3/objects/{object_type}/search", include_in_schema=False)
    async def search(object_type: str, request: Request) -> Response:
        table = _table(state, object_type)
        parsed = parse_search(table, await _json_body(request))
        total, records = run_search(table, parsed, table.hidden_from_search(state.now_ms()))
        names = _returned(table, parsed.properties)
        page: dict[str, Any] = {"total": total, "results": [record.to_json(names, table.known) for record in records]}
        end = parsed.offset + len(records)
        if records and end < total:
            page["paging"] = {"next": {"after": str(end)}}
        return json_response(page)

    @app.post("/crm/v3/objects/{object_type}/batch/read", include_in_schema=False)
    async def batch_read(object_type: str, request: Request) -> Response:
        table = _table(state, object_type)
        body = await _json_body(request)
        started = iso_ms(state.now_ms())
        inputs = _inputs(body, BATCH_MAX_INPUTS)
        ids = list(dict.fromkeys(_input_id(item, number) for number, item in enumerate(inputs)))
        id_property = body.get("idProperty")
        archived = _flag(request.query_params.get("archived"))
        if id_property and id_property != "hs_object_id":
            found = _by_property(table, id_property, ids)
        elif archived:
            found = {i: table.records[i] for i in ids if i in table.records and table.records[i].archived}
        else:
            found = {i: record for i in ids if (record := table.get(i)) is not None}
        requested = body.get("properties")
        names = _returned(table, requested if isinstance(requested, list) else None)
        unique = list({record.id: record for record in found.values()}.values())
        result: dict[str, Any] = {"status": "COMPLETE", "results": [r.to_json(names, table.known) for r in unique]}
        missing = [i for i in ids if i not in found]
        if missing:
            result["numErrors"] = 1
            result["errors"] = [{
                "status": "error", "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {table.kind.label} objects, they may be deleted or not exist. "
                           "Check that ids are valid.",
                "context": {"ids": missing},
            }]
        result["startedAt"], result["completedAt"] = started, iso_ms(state.now_ms())
        return json_response(result, 207 if missing else 200)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read", include_in_schema=False)
    async def association_batch_read(from_type: str, to_type: str, request: Request) -> Response:
        source, target = _table(state, from_type), _table(state, to_type)
        if (source.kind.name, target.kind.name) != ("deals", "contacts"):
            raise validation_error(f"The sandbox holds deal→contact associations only, not {from_type}→{to_type}")
        body = await _json_body(request)
        started = iso_ms(state.now_ms())
        inputs = _inputs(body, ASSOCIATION_MAX_INPUTS)
        results, errors = [], []
        for number, item in enumerate(inputs):
            deal_id = _input_id(item, number)
            after = item.get("after") or "0"
            if not str(after).isdigit():
                raise validation_error(f"inputs[{number}].after must be a cursor returned as paging.next.after")
            start = int(after)
            record = source.get(deal_id)
            if record is not None and record.id in state.association_errors:
                errors.append(state.association_errors[record.id])
                continue
            contacts = state.deal_contacts.get(record.id, []) if record is not None else []
            if not contacts[start:]:
                errors.append({
                    "status": "error", "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No contact is associated with deal {deal_id}.",
                    "context": {"fromObjectId": [deal_id], "fromObjectType": ["deal"], "toObjectType": ["contact"]},
                })
                continue
            to = [{"toObjectId": int(contact), "associationTypes": [DEAL_TO_CONTACT]}
                  for contact in contacts[start:start + ASSOCIATION_PAGE]]
            result: dict[str, Any] = {"from": {"id": deal_id}, "to": to}
            if start + ASSOCIATION_PAGE < len(contacts):
                result["paging"] = {"next": {"after": str(start + ASSOCIATION_PAGE)}}
            results.append(result)
        body_out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body_out["numErrors"], body_out["errors"] = len(errors), errors
        body_out["startedAt"], body_out["completedAt"] = started, iso_ms(state.now_ms())
        return json_response(body_out, 207 if errors else 200)

    @app.get("/crm/v3/properties/{object_type}", include_in_schema=False)
    async def list_properties(object_type: str) -> Response:
        return json_response({"results": state.properties[_table(state, object_type).kind.name]})

    @app.get("/crm/v3/properties/{object_type}/{name}", include_in_schema=False)
    async def get_property(object_type: str, name: str) -> Response:
        table = _table(state, object_type)
        spec = table.schema.get(name)
        if spec is None:
            raise HubSpotError(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on object type {table.kind.name}",
                sub_category="PropertyError.PROPERTY_NOT_FOUND", context={"propertyName": [name]},
            )
        return json_response(spec)

    @app.get("/crm/v3/pipelines/{object_type}", include_in_schema=False)
    async def list_pipelines(object_type: str) -> Response:
        if _table(state, object_type).kind.name != "deals":
            raise validation_error("The sandbox holds deal pipelines only")
        return json_response({"results": state.pipelines})


def _inputs(body: Any, most: int) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise validation_error("Invalid input JSON: 'inputs' must be a non-empty list")
    if len(inputs) > most:
        raise validation_error(f"Too many inputs: {len(inputs)}, the limit is {most}",
                               context={"inputs": [str(len(inputs))]})
    return inputs


def _input_id(item: Any, number: int) -> str:
    value = item.get("id") if isinstance(item, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise validation_error(f"inputs[{number}].id is required")
    return value


def _by_property(table: Table, name: str, values: list[str]) -> dict[str, Record]:
    """Batch read by a unique property (``idProperty``): value -> record, one pass over the active records."""
    wanted = {value.casefold(): value for value in values}
    found: dict[str, Record] = {}
    for record in table.active():
        value = record.properties.get(name)
        if value and value.casefold() in wanted:
            found.setdefault(wanted[value.casefold()], record)
    return found
