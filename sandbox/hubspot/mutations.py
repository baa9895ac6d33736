"""``POST /_sandbox/hubspot/...``: change the HubSpot world while it is served, for tests and incident replays.

Bodies are JSON objects; instants are ISO-8601 or epoch-millisecond strings; "now" is the sandbox clock. These
paths are not HubSpot's: no auth, no rate limits, no faults. Errors use HubSpot's envelope (400
VALIDATION_ERROR naming the field, 404 OBJECT_NOT_FOUND for an unknown or archived deal).

- ``deals/{id}/update`` ``{"properties": {name: string or null}, "modifiedAt"?, "bumpModified"?: true}``: set
  properties; ``hs_lastmodifieddate`` = ``modifiedAt`` or now, unchanged when ``bumpModified`` is false.
- ``deals/{id}/close-won`` ``{"stageId"?, "closedAt"?, "modifiedAt"?}``: stage = a closed-won stage of the deal's
  pipeline (default its first), ``hs_is_closed_won`` and ``hs_is_closed`` "true", ``closedate`` and
  ``hs_v2_date_entered_<stage>`` = ``closedAt`` (default now); modified now.
- ``deals/{id}/associations`` ``{"contacts": [ids], "mode"?: "set"|"add"|"remove"}``: change the deal's contacts;
  the deal's modified date does NOT move.
- ``deals/{id}/association-error`` ``{"category"?, "message"?, "active"?: true}``: the deal's v4 association reads
  answer this error in the 207's ``errors`` (context ``fromObjectId``) instead of its contacts, until cleared
  with ``active`` false.
- ``deals/{id}/archive`` ``{"archivedAt"?}``: gone from search, list and batch read; listed by ``archived=true``.
- ``token`` ``{"token"}``: the private app's token is rotated: only this one is accepted from now on (the old
  one answers 401, as a revoked token does).
- ``deals/{id}/purge``: the deal is deleted for good (emptied from the recycle bin): listed nowhere.
- ``contacts/{id}/update`` ``{"properties", "modifiedAt"?}``: set contact properties; its ``lastmodifieddate``
  moves (default now), its deals' do not.
- ``deals/merge`` ``{"primaryObjectId", "objectIdToMerge"}``: see ``HubSpotState.merge``.
- ``deals/re-id`` ``{"ids"?: [ids], "firstId"?, "keepCreateDate"?: false}``: the deals re-created under new ids
  as a CRM migration's import does (old id in the ``legacy_deal_id`` property, gone for good). HubSpot sets what an
  import cannot write: ``hs_v2_date_entered_<current stage>`` = now (the import's instant; no other stage dates),
  ``createdAt`` = now, and ``createdate`` = now unless ``keepCreateDate`` (the importer mapped it); answers
  ``{"ids": {old: new}}``.
- ``deals/bulk-touch`` ``{"count" or "ids", "modifiedAt"?, "properties"?}``: one identical modified date on many
  deals; answers ``{"ids", "modifiedAt"}``.
- ``deals`` ``{"deals": [records], "contacts"?: [records]}`` (dataset format): add records, all or nothing; 201.

The deal mutations answer the deal with all its properties (and ``associations: {"contacts": [ids]}``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.store import Record
from sandbox.hubspot.wire import iso_ms, json_response, validation_error

PREFIX = "/_sandbox/hubspot"


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise validation_error(f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise validation_error("the body must be a JSON object")
    return body


def _deal(state: HubSpotState, record: Record) -> Response:
    body = record.to_json(sorted(record.properties))
    contacts = state.deal_contacts.get(record.id)
    if contacts:
        body["associations"] = {"contacts": contacts}
    return json_response(body)


def install_mutations(app: FastAPI, state: HubSpotState) -> None:
    """Register the ``/_sandbox/hubspot/...`` routes (documented in the module docstring)."""

    @app.post(f"{PREFIX}/deals/{{deal_id}}/update", tags=["sandbox: hubspot"])
    async def update_deal(deal_id: str, request: Request) -> Response:
        """Set deal properties; bumps ``hs_lastmodifieddate`` to now unless told otherwise."""
        return _deal(state, state.update_deal(deal_id, await _body(request)))

    @app.post(f"{PREFIX}/deals/{{deal_id}}/close-won", tags=["sandbox: hubspot"])
    async def close_won(deal_id: str, request: Request) -> Response:
        """Close a deal won in a closed-won stage of its pipeline."""
        return _deal(state, state.close_won(deal_id, await _body(request)))

    @app.post(f"{PREFIX}/deals/{{deal_id}}/associations", tags=["sandbox: hubspot"])
    async def associations(deal_id: str, request: Request) -> Response:
        """Set/add/remove a deal's contacts without touching its modified date."""
        contacts = state.set_associations(deal_id, await _body(request))
        return json_response({"id": deal_id, "contacts": contacts})

    @app.post(f"{PREFIX}/deals/{{deal_id}}/association-error", tags=["sandbox: hubspot"])
    async def association_error(deal_id: str, request: Request) -> Response:
        """Make a deal's association reads fail (a per-input error of the 207), or clear it."""
        return json_response({"id": deal_id, "error": state.association_error(deal_id, await _body(request))})

    @app.post(f"{PREFIX}/deals/{{deal_id}}/archive", tags=["sandbox: hubspot"])
    async def archive(deal_id: str, request: Request) -> Response:
        """Archive a deal."""
        return _deal(state, state.archive(deal_id, await _body(request)))

    @app.post(f"{PREFIX}/token", tags=["sandbox: hubspot"])
    async def rotate_token(request: Request) -> Response:
        """Rotate the private app's access token (the previous one is refused from now on)."""
        token = (await _body(request)).get("token")
        if not isinstance(token, str) or not token.strip():
            raise validation_error("field 'token' must be a non-empty string")
        state.config["hubspot_token"] = token.strip()
        return json_response({"rotated": True})

    @app.post(f"{PREFIX}/deals/{{deal_id}}/purge", tags=["sandbox: hubspot"])
    async def purge(deal_id: str) -> Response:
        """Delete a deal for good."""
        return json_response({"id": state.purge(deal_id)})

    @app.post(f"{PREFIX}/contacts/{{contact_id}}/update", tags=["sandbox: hubspot"])
    async def update_contact(contact_id: str, request: Request) -> Response:
        """Set contact properties; bumps its ``lastmodifieddate``."""
        record = state.update_contact(contact_id, await _body(request))
        return json_response(record.to_json(sorted(record.properties)))

    @app.post(f"{PREFIX}/deals/merge", tags=["sandbox: hubspot"])
    async def merge(request: Request) -> Response:
        """Merge ``objectIdToMerge`` into ``primaryObjectId``."""
        return _deal(state, state.merge(await _body(request)))

    @app.post(f"{PREFIX}/deals/re-id", tags=["sandbox: hubspot"])
    async def re_id(request: Request) -> Response:
        """Re-id deals as a CRM migration would."""
        return json_response({"ids": state.re_id(await _body(request))})

    @app.post(f"{PREFIX}/deals/bulk-touch", tags=["sandbox: hubspot"])
    async def bulk_touch(request: Request) -> Response:
        """Give many deals one identical ``hs_lastmodifieddate``."""
        ids, millis = state.bulk_touch(await _body(request))
        return json_response({"ids": ids, "modifiedAt": iso_ms(millis)})

    @app.post(f"{PREFIX}/deals", tags=["sandbox: hubspot"])
    async def add(request: Request) -> Response:
        """Add deals (and contacts) in the dataset format."""
        return json_response(state.add_records(await _body(request)), 201)
