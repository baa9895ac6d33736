"""The HubSpot world of one sandbox: tables, deal→contact associations, pipelines, properties, and the mutations
that tests and incident reproductions apply to it (served under ``/_sandbox/hubspot/...``, see ``mutations.py``).

Mutations follow HubSpot's rules for ``hs_lastmodifieddate``: a property change moves it to the sandbox's
``now()``; an association change does not (HubSpot does not bump the deal on association edits).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.dataset import Dataset
from sandbox.hubspot.store import CONTACTS, DEALS, ObjectKind, Record, Table, inferred_type, record_from_json
from sandbox.hubspot.wire import HubSpotError, iso_ms, parse_instant, to_millis, validation_error

_EPOCH_ISO = "2020-01-01T00:00:00.000Z"
PROTECTED = ("hs_object_id", DEALS.modified_property)
# What HubSpot computes from a deal record's own history, never imported: its stage-calculated properties and the ids
# of the deals merged into it (a re-created record was never merged).
_RECORD_HISTORY = (
    "hs_v2_date_entered_", "hs_v2_date_exited_", "hs_v2_latest_time_in_", "hs_v2_cumulative_time_in_",
    "hs_date_entered_", "hs_date_exited_", "hs_time_in_", "hs_merged_object_ids",
)


def _not_found(what: str) -> HubSpotError:
    return HubSpotError(404, "OBJECT_NOT_FOUND", what)


def normalise_properties(kind: str, properties: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Property definitions with every field the client's ``Property`` model requires (filled when a hand-written
    properties.json leaves them out). HubSpot's own properties keep HubSpot's type whatever the file says (a
    ``hs_lastmodifieddate`` typed ``string`` would make every date filter compare text)."""
    group = {"deals": "dealinformation", "contacts": "contactinformation"}[kind]
    if not isinstance(properties, list):
        raise ValueError(f"hubspot/properties.json: {kind!r} must be a list of property definitions")
    completed = []
    for position, spec in enumerate(properties):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValueError(f"hubspot/properties.json: {kind}[{position}] needs a 'name'")
        if "type" in spec and not isinstance(spec["type"], str):
            raise ValueError(f"hubspot/properties.json: {kind}[{position}] ({spec['name']!r}): 'type' must be a string")
        builtin = inferred_type(spec["name"])
        if builtin != "string":
            spec = {**spec, "type": builtin}
        completed.append({
            "name": spec["name"], "label": spec["name"], "type": "string", "fieldType": "text", "groupName": group,
            "description": "", "options": [], "displayOrder": -1, "hidden": False, "formField": False,
            "calculated": False, "externalOptions": False, "hasUniqueValue": False, "archived": False,
            "createdAt": _EPOCH_ISO, "updatedAt": _EPOCH_ISO, **spec,
        })
    return completed


def _flag(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def normalise_pipelines(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Pipelines with every field the client's ``Pipeline``/``PipelineStage`` models require; stage metadata values
    as strings (``isClosed: "true"``, ``probability: "1.0"``), as HubSpot sends them."""
    pipelines = []
    for position, pipeline in enumerate(document.get("results", [])):
        if not isinstance(pipeline, dict) or "id" not in pipeline:
            raise ValueError(f"hubspot/pipelines.json: results[{position}] needs an 'id'")
        stages = []
        for order, stage in enumerate(pipeline.get("stages", [])):
            if not isinstance(stage, dict) or "id" not in stage:
                raise ValueError(f"hubspot/pipelines.json: pipeline {pipeline['id']!r} stage {order} needs an 'id'")
            metadata = {key: _flag(value) for key, value in (stage.get("metadata") or {}).items()}
            stages.append({
                "label": stage["id"], "displayOrder": order, "archived": False, "createdAt": _EPOCH_ISO,
                "updatedAt": _EPOCH_ISO, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                **stage, "metadata": metadata,
            })
        pipelines.append({
            "label": pipeline["id"], "displayOrder": position, "archived": False, "createdAt": _EPOCH_ISO,
            "updatedAt": _EPOCH_ISO, **pipeline, "stages": stages,
        })
    return pipelines


def _load(kind: ObjectKind, dataset: Dataset) -> list[Record]:
    # A million records are a million new containers: the cyclic GC would rescan them all many times over
    # (it roughly doubles the load time); none of them are cyclic garbage, so pause it while building.
    paused = gc.isenabled()
    gc.disable()
    try:
        return [record_from_json(kind, row, dataset.where(kind.name, index))
                for index, row in enumerate(getattr(dataset, kind.name))]
    finally:
        if paused:
            gc.enable()


class HubSpotState:
    """Everything the HubSpot emulator serves, built from a dataset; ``clock()`` is the sandbox's ``now()``."""

    def __init__(
        self, dataset: Dataset, clock: Callable[[], dt.datetime], *, search_index_lag: float = 0.0
    ) -> None:
        self.config = dataset.config
        self.clock = clock
        # A record changed now becomes visible to the search this many seconds later, as HubSpot's index lags.
        self.index_lag_ms = round(search_index_lag * 1000)
        self.properties = {
            kind: normalise_properties(kind, dataset.properties.get(kind, [])) for kind in ("deals", "contacts")
        }
        schemas = {kind: {spec["name"]: spec for spec in specs} for kind, specs in self.properties.items()}
        self.pipelines = normalise_pipelines(dataset.pipelines)
        self.contacts = Table(CONTACTS, schemas["contacts"], _load(CONTACTS, dataset))
        self.deals = Table(DEALS, schemas["deals"], _load(DEALS, dataset))
        self.tables = {"deals": self.deals, "contacts": self.contacts}
        self.deal_contacts: dict[str, list[str]] = {}
        # deal id -> the 207 error entry its association reads answer instead of its contacts (fault injection)
        self.association_errors: dict[str, dict[str, Any]] = {}
        for number, row in enumerate(dataset.deals, start=1):
            contacts = (row.get("associations") or {}).get("contacts") or []
            if contacts:
                self.deal_contacts[str(row["id"])] = self._contact_ids(
                    contacts, f"{dataset.where('deals', number - 1)} (id {row['id']!r}): associations.contacts"
                )

    def now_ms(self) -> int:
        return to_millis(self.clock())

    def changed(self, table: Table, records: Iterable[Record]) -> None:
        """Records just written: hidden from the search until the index lag has passed."""
        if self.index_lag_ms:
            visible_at = self.now_ms() + self.index_lag_ms
            for record in records:
                table.unindexed[record.key] = visible_at

    # --- lookups -------------------------------------------------------------------------------------------------
    def deal(self, deal_id: str) -> Record:
        record = self.deals.records.get(str(deal_id))
        if record is None or record.archived:
            raise _not_found(f"deal {deal_id} does not exist (or is archived)")
        return record

    def _contact_ids(self, contacts: Any, where: str) -> list[str]:
        if not isinstance(contacts, list):
            raise ValueError(f"{where}: must be a list of contact ids")
        ids = list(dict.fromkeys(str(contact) for contact in contacts))
        unknown = [contact for contact in ids if contact not in self.contacts.records]
        if unknown:
            raise ValueError(f"{where}: unknown contact ids {unknown}")
        return ids

    def _instant(self, body: dict[str, Any], field: str) -> int:
        value = body.get(field)
        if value is None:
            return self.now_ms()
        millis = parse_instant(value)
        if millis is None:
            raise validation_error(f"field {field!r}: {value!r} is not an ISO-8601 or epoch-milliseconds instant")
        return millis

    # --- mutations -----------------------------------------------------------------------------------------------
    def update_deal(self, deal_id: str, body: dict[str, Any]) -> Record:
        """Set properties; move ``hs_lastmodifieddate`` to ``modifiedAt`` (default now) unless ``bumpModified`` is
        false."""
        record = self.deal(deal_id)
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise validation_error("field 'properties' must be an object of property name to string or null")
        for name, value in properties.items():
            if name in PROTECTED:
                raise validation_error(f"property {name!r} cannot be set directly (use 'modifiedAt')")
            if value is not None and not isinstance(value, str):
                raise validation_error(f"property {name!r}: values are strings or null, got {type(value).__name__}")
        self._set(record, properties)
        if body.get("bumpModified", True):
            self.deals.set_modified(record, self._instant(body, "modifiedAt"))
        self.changed(self.deals, [record])
        return record

    def _set(self, record: Record, properties: dict[str, str | None]) -> None:
        record.properties.update(properties)
        for name in properties:
            record.typed.pop(name, None)

    def close_won(self, deal_id: str, body: dict[str, Any]) -> Record:
        """Move a deal to a closed-won stage of its pipeline (``stageId``, default the pipeline's first stage with
        ``isClosed`` "true" and probability 1), as of ``closedAt`` (default now)."""
        record = self.deal(deal_id)
        pipeline_id = record.properties.get("pipeline")
        pipeline = next((p for p in self.pipelines if p["id"] == pipeline_id), None)
        if pipeline is None:
            raise validation_error(f"deal {deal_id}: its pipeline {pipeline_id!r} is not in pipelines.json")
        won = [stage for stage in pipeline["stages"] if _is_closed_won(stage)]
        stage_id = body.get("stageId")
        stage = next((s for s in won if s["id"] == stage_id), None) if stage_id else (won[0] if won else None)
        if stage is None:
            raise validation_error(
                f"deal {deal_id}: pipeline {pipeline_id!r} has no closed-won stage {stage_id or ''}".rstrip()
            )
        closed_at = iso_ms(self._instant(body, "closedAt"))
        self._set(record, {
            "dealstage": stage["id"], "hs_is_closed_won": "true", "hs_is_closed": "true", "closedate": closed_at,
            f"hs_v2_date_entered_{stage['id']}": closed_at,
        })
        self.deals.set_modified(record, self._instant(body, "modifiedAt"))
        self.changed(self.deals, [record])
        return record

    def set_associations(self, deal_id: str, body: dict[str, Any]) -> list[str]:
        """Set, add or remove (``mode``) the deal's contacts; the deal's modified date does not move."""
        record = self.deal(deal_id)
        mode = body.get("mode", "set")
        if mode not in ("set", "add", "remove"):
            raise validation_error(f"field 'mode' must be set, add or remove, got {mode!r}")
        try:
            contacts = self._contact_ids(body.get("contacts", []), "field 'contacts'")
        except ValueError as error:
            raise validation_error(str(error)) from None
        current = self.deal_contacts.get(record.id, [])
        if mode == "set":
            current = contacts
        elif mode == "add":
            current = list(dict.fromkeys(current + contacts))
        else:
            current = [contact for contact in current if contact not in contacts]
        self._store_associations(record.id, current)
        return current

    def _store_associations(self, deal_id: str, contacts: list[str]) -> None:
        if contacts:
            self.deal_contacts[deal_id] = contacts
        else:
            self.deal_contacts.pop(deal_id, None)

    def association_error(self, deal_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Make the v4 association reads of a deal answer a per-input error (``active`` false clears it)."""
        record = self.deal(deal_id)
        if not body.get("active", True):
            self.association_errors.pop(record.id, None)
            return None
        category = body.get("category") or "INTERNAL_ERROR"
        message = body.get("message") or f"The associations of deal {record.id} could not be read. Try again later."
        if not isinstance(category, str) or not isinstance(message, str):
            raise validation_error("fields 'category' and 'message' must be strings")
        error = {"status": "error", "category": category, "message": message,
                 "context": {"fromObjectId": [record.id]}}
        self.association_errors[record.id] = error
        return error

    def purge(self, deal_id: str) -> str:
        """Delete a deal for good (emptied from the recycle bin): neither listed, archived, searched nor read."""
        record = self.deals.records.get(str(deal_id))
        if record is None:
            raise _not_found(f"deal {deal_id} does not exist")
        self.deals.remove(record)
        self._store_associations(record.id, [])
        self.association_errors.pop(record.id, None)
        return record.id

    def update_contact(self, contact_id: str, body: dict[str, Any]) -> Record:
        """Set a contact's properties; its ``lastmodifieddate`` moves to ``modifiedAt`` (default now). Its deals'
        modified dates do not move (as on HubSpot)."""
        record = self.contacts.records.get(str(contact_id))
        if record is None or record.archived:
            raise _not_found(f"contact {contact_id} does not exist (or is archived)")
        properties = body.get("properties") or {}
        protected = ("hs_object_id", CONTACTS.modified_property)
        if not isinstance(properties, dict) or any(
                name in protected or (value is not None and not isinstance(value, str))
                for name, value in properties.items()):
            raise validation_error("field 'properties' must map property names (not the id or date) to strings")
        self._set(record, properties)
        self.contacts.set_modified(record, self._instant(body, "modifiedAt"))
        self.changed(self.contacts, [record])
        return record

    def archive(self, deal_id: str, body: dict[str, Any]) -> Record:
        record = self.deal(deal_id)
        self.deals.archive(record, self._instant(body, "archivedAt"))
        return record

    def merge(self, body: dict[str, Any]) -> Record:
        """Merge ``objectIdToMerge`` into ``primaryObjectId`` (HubSpot's merge body): the primary keeps its id and
        values (unset ones are taken from the other), gains its contacts and ``hs_merged_object_ids``, and is
        modified now; the other deal is gone, its id resolving to the primary in batch reads."""
        primary_id, merged_id = str(body.get("primaryObjectId", "")), str(body.get("objectIdToMerge", ""))
        if not primary_id or not merged_id or primary_id == merged_id:
            raise validation_error("fields 'primaryObjectId' and 'objectIdToMerge' must name two different deals")
        primary, merged = self.deal(primary_id), self.deal(merged_id)
        inherited = {
            name: value for name, value in merged.properties.items()
            if value not in (None, "") and primary.properties.get(name) in (None, "") and name not in PROTECTED
        }
        earlier = [
            part for record in (primary, merged)
            for part in (record.properties.get("hs_merged_object_ids") or "").split(";") if part
        ]
        self._set(primary, inherited | {"hs_merged_object_ids": ";".join(dict.fromkeys([*earlier, merged.id]))})
        self._store_associations(
            primary.id,
            list(dict.fromkeys(self.deal_contacts.get(primary.id, []) + self.deal_contacts.pop(merged.id, []))),
        )
        self.deals.remove(merged)
        self.deals.merged_into[merged.id] = primary.id
        self.deals.set_modified(primary, self.now_ms())
        self.changed(self.deals, [primary])
        return primary

    def re_id(self, body: dict[str, Any]) -> dict[str, str]:
        """Re-create deals under new ids as a CRM migration's import does. The old id is kept in the configured
        ``legacy_deal_id`` property and gone for good; writable properties (amount, stage, ``closedate``, ...) are
        imported as they were; associations follow; modified dates move to now (the import's instant).

        HubSpot computes what an import cannot write (docs/sandbox.md): the new deal's only stage history is its
        creation in its current stage, so ``hs_v2_date_entered_<current stage>`` is the import's instant and every
        other stage-calculated property is gone, and it was never merged (no ``hs_merged_object_ids``); the record
        is created now (``createdAt``), and so is its
        ``createdate`` unless the importer maps the old one (``keepCreateDate``: true).
        ``ids`` (default every active deal), ``firstId`` (default above every id ever used).
        """
        legacy = (self.config.get("properties") or {}).get("legacy_deal_id")
        if not legacy:
            raise validation_error("config.json has no properties.legacy_deal_id to keep the old ids in")
        ids = body.get("ids")
        if ids is not None and not isinstance(ids, list):
            raise validation_error("field 'ids' must be a list of deal ids")
        keep_createdate = body.get("keepCreateDate", False)
        if not isinstance(keep_createdate, bool):
            raise validation_error("field 'keepCreateDate' must be true or false")
        records = [self.deal(str(deal_id)) for deal_id in dict.fromkeys(ids)] if ids is not None else list(
            self.deals.active())
        next_id = max(int(body.get("firstId") or 0), self.deals.next_id())
        now = self.now_ms()
        imported = iso_ms(now)
        pairs = []
        for record in records:
            new_id = str(next_id)
            next_id += 1
            properties = {
                name: value for name, value in record.properties.items() if not name.startswith(_RECORD_HISTORY)
            }
            properties.update({"hs_object_id": new_id, legacy: record.id})
            stage = properties.get("dealstage")
            if stage:
                properties[f"hs_v2_date_entered_{stage}"] = imported
            if not keep_createdate:
                properties["createdate"] = imported
            pairs.append((record, Record(new_id, properties, imported, imported, record.modified)))
        self.deals.replace_many(pairs)
        self.deals.set_modified_many([new for _, new in pairs], now)
        moved = {old.id: self.deal_contacts.pop(old.id, []) for old, _ in pairs}
        for old, new in pairs:
            self._store_associations(new.id, moved[old.id])
        self.changed(self.deals, [new for _, new in pairs])
        return {old.id: new.id for old, new in pairs}

    def bulk_touch(self, body: dict[str, Any]) -> tuple[list[str], int]:
        """Give deals one identical ``hs_lastmodifieddate`` as a bulk import does: ``ids``, or the first ``count``
        active deals in id order; optional ``properties`` set on each; ``modifiedAt`` default now."""
        ids, count = body.get("ids"), body.get("count")
        if isinstance(ids, list):
            records = [self.deal(str(deal_id)) for deal_id in dict.fromkeys(ids)]
        elif isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            records = [self.deals.records[str(key)] for key in self.deals.active_ids[:count]]
        else:
            raise validation_error("give 'ids' (a list of deal ids) or 'count' (a non-negative integer)")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict) or any(name in PROTECTED for name in properties):
            raise validation_error("field 'properties' must be an object and may not set hs_object_id or the date")
        millis = self._instant(body, "modifiedAt")
        for record in records:
            self._set(record, properties)
        self.deals.set_modified_many(records, millis)
        self.changed(self.deals, records)
        return [record.id for record in records], millis

    def add_records(self, body: dict[str, Any]) -> dict[str, list[str]]:
        """Add ``contacts`` then ``deals`` given in the dataset format; all or nothing."""
        contacts, deals = body.get("contacts") or [], body.get("deals") or []
        if not isinstance(contacts, list) or not isinstance(deals, list):
            raise validation_error("fields 'deals' and 'contacts' must be lists of records in the dataset format")
        try:
            new_contacts = [record_from_json(CONTACTS, row, f"contacts[{n}]") for n, row in enumerate(contacts)]
            new_deals = [record_from_json(DEALS, row, f"deals[{n}]") for n, row in enumerate(deals)]
            for table, records, label in ((self.contacts, new_contacts, "contacts"), (self.deals, new_deals, "deals")):
                seen = set()
                for number, record in enumerate(records):
                    if record.id in table.records or record.id in seen or record.id in table.merged_into:
                        raise ValueError(f"{label}[{number}] (id {record.id!r}): this id already exists")
                    seen.add(record.id)
            known = set(self.contacts.records) | {record.id for record in new_contacts}
            associations = {}
            for number, row in enumerate(deals):
                linked = [str(c) for c in ((row.get("associations") or {}).get("contacts") or [])]
                unknown = [contact for contact in linked if contact not in known]
                if unknown:
                    raise ValueError(f"deals[{number}] (id {row['id']!r}): associations.contacts: unknown {unknown}")
                if linked:
                    associations[str(row["id"])] = list(dict.fromkeys(linked))
        except ValueError as error:
            raise validation_error(str(error)) from None
        for record in new_contacts:
            self.contacts.add(record)
        for record in new_deals:
            self.deals.add(record)
        self.deal_contacts.update(associations)
        self.changed(self.contacts, new_contacts)
        self.changed(self.deals, new_deals)
        return {"deals": [record.id for record in new_deals], "contacts": [record.id for record in new_contacts]}


def _is_closed_won(stage: dict[str, Any]) -> bool:
    metadata = stage.get("metadata") or {}
    try:
        probability = float(metadata.get("probability", "0"))
    except ValueError:
        probability = 0.0
    return str(metadata.get("isClosed", "")).lower() == "true" and probability == 1.0
