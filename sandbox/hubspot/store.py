"""The in-memory CRM behind the emulator: deals and contacts, deal→contact associations and the indexes.

Built once from a dataset (never written back). Each object type is a :class:`Table` that keeps
- every record by id (active and archived),
- the active and the archived ids in numeric order (the list endpoint pages on them, cursor = next id),
- the active records ordered by ``(last-modified instant, id)`` (``_by_modified``), so a search window on the
  last-modified property is two bisections and a slice however many deals exist.
Mutations go through :meth:`Table.set_modified`, :meth:`Table.archive`, :meth:`Table.add` and
:meth:`Table.remove`, which keep those indexes exact.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot.wire import CANONICAL, canonical, iso_ms, parse_instant


@dataclass(frozen=True)
class ObjectKind:
    """What differs between HubSpot object types for the calls pin2deal makes."""

    name: str  # path name: "deals"
    type_id: str  # object type id: "0-3"
    label: str  # as HubSpot's batch errors name it: "DEAL"
    modified_property: str  # the last-modified datetime property
    always: tuple[str, ...]  # returned whatever ``properties`` asks for
    defaults: tuple[str, ...]  # returned when ``properties`` is not given
    searchable: tuple[str, ...]  # the properties a free-text ``query`` looks at


DEALS = ObjectKind(
    "deals", "0-3", "DEAL", "hs_lastmodifieddate",
    always=("createdate", "hs_lastmodifieddate", "hs_object_id"),
    defaults=("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    searchable=("dealname",),
)
CONTACTS = ObjectKind(
    "contacts", "0-1", "CONTACT", "lastmodifieddate",
    always=("createdate", "hs_object_id", "lastmodifieddate"),
    defaults=("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    searchable=("email", "firstname", "lastname", "phone", "mobilephone"),
)
BATCH = 256  # from this many records on, a mutation rebuilds an index in one pass instead of inserting one by one
KINDS = {kind.name: kind for kind in (DEALS, CONTACTS)} | {kind.type_id: kind for kind in (DEALS, CONTACTS)}

_DATETIME_NAMES = {"createdate", "closedate", "hs_lastmodifieddate", "lastmodifieddate", "hs_createdate",
                   "hs_closed_won_date", "hs_archived_date"}
_DATETIME_PREFIXES = ("hs_v2_date_entered_", "hs_v2_date_exited_", "hs_date_entered_", "hs_date_exited_")
_NUMBER_NAMES = {"hs_object_id", "amount", "amount_in_home_currency", "hs_deal_stage_probability", "hs_acv",
                 "hs_arr", "hs_mrr", "hs_tcv", "days_to_close"}
_BOOL_NAMES = {"hs_is_closed_won", "hs_is_closed", "hs_is_closed_lost"}


def inferred_type(name: str) -> str:
    """The type HubSpot gives a built-in property, for datasets whose properties.json does not list it."""
    if name in _DATETIME_NAMES or name.startswith(_DATETIME_PREFIXES):
        return "datetime"
    if name in _NUMBER_NAMES:
        return "number"
    if name in _BOOL_NAMES:
        return "bool"
    return "string"


class Record:
    """One CRM object. ``properties`` values are strings or None, exactly as the API returns them."""

    __slots__ = ("archived", "archived_at", "created_at", "id", "key", "modified", "properties", "typed", "updated_at")

    def __init__(
        self, id: str, properties: dict[str, str | None], created_at: str, updated_at: str, modified: int,
        archived: bool = False, archived_at: str | None = None,
    ) -> None:
        self.id, self.key = id, int(id)
        self.properties = properties
        self.created_at, self.updated_at = created_at, updated_at
        self.modified = modified
        self.archived, self.archived_at = archived, archived_at
        self.typed: dict[str, Any] = {}  # per-property comparison values, filled lazily by the search

    def to_json(self, names: Iterable[str], known: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        """The object as HubSpot returns it with the properties ``names`` (null for known properties left unset)."""
        own = self.properties
        properties = {name: own.get(name) for name in names if name in own or name in known}
        body: dict[str, Any] = {
            "id": self.id, "properties": properties, "createdAt": self.created_at, "updatedAt": self.updated_at,
            "archived": self.archived,
        }
        if self.archived:
            body["archivedAt"] = self.archived_at
        return body


def _property_value(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"{where}: a property value must be a string or null, got {type(value).__name__}")


def _instant_field(raw: dict[str, Any], field: str, fallback: str | None, where: str) -> int:
    value = raw.get(field)
    millis = parse_instant(value)
    if millis is None and value not in (None, ""):
        raise ValueError(f"{where}: field {field!r} is not an ISO-8601 or epoch-milliseconds instant: {value!r}")
    if millis is None and fallback is not None:
        millis = parse_instant(fallback)
    if millis is None:
        raise ValueError(f"{where}: field {field!r} is missing")
    return millis


def record_from_json(kind: ObjectKind, raw: dict[str, Any], where: str) -> Record:
    """A record from the dataset format, completed as HubSpot would (``hs_object_id``, create/modified dates).

    ``where`` names the record in errors (``hubspot/deals.jsonl record 12 (id '42')``).
    """
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a record must be a JSON object")
    object_id = raw.get("id")
    if isinstance(object_id, int) and not isinstance(object_id, bool):
        object_id = str(object_id)
    if not isinstance(object_id, str) or not object_id.isdigit():
        raise ValueError(f"{where}: field 'id' must be a numeric string, got {object_id!r}")
    where = f"{where} (id {object_id!r})"
    given = raw.get("properties") or {}
    if not isinstance(given, dict):
        raise ValueError(f"{where}: field 'properties' must be an object")
    properties = {
        name: value if value is None or type(value) is str else _property_value(value, f"{where}: property {name!r}")
        for name, value in given.items()
    }
    for name, value in properties.items():  # HubSpot's own datetimes must be instants (cheap when canonical)
        if value and not CANONICAL.fullmatch(value) and inferred_type(name) == "datetime" and (
                parse_instant(value) is None):
            raise ValueError(f"{where}: property {name!r} is not an ISO-8601 or epoch-milliseconds instant: {value!r}")
    created = _instant_field(raw, "createdAt", properties.get("createdate"), where)
    updated = _instant_field(raw, "updatedAt", properties.get(kind.modified_property) or iso_ms(created), where)
    modified = parse_instant(properties.get(kind.modified_property))
    if modified is None:
        modified = updated
        properties[kind.modified_property] = iso_ms(updated)
    properties["hs_object_id"] = object_id
    if not properties.get("createdate"):
        properties["createdate"] = iso_ms(created)
    archived = bool(raw.get("archived", False))
    archived_at = None
    if archived:
        archived_at = iso_ms(_instant_field(raw, "archivedAt", iso_ms(updated), where))
    return Record(object_id, properties, canonical(raw.get("createdAt"), created),
                  canonical(raw.get("updatedAt"), updated), modified, archived, archived_at)


class Table:
    """All records of one object type plus the id and last-modified indexes (see the module docstring)."""

    def __init__(self, kind: ObjectKind, schema: dict[str, dict[str, Any]], records: Iterable[Record]) -> None:
        self.kind = kind
        self.schema = schema
        self.known = frozenset(schema) | set(kind.defaults) | set(kind.always)  # answered as null when unset
        self.records: dict[str, Record] = {}
        for record in records:
            if record.id in self.records:
                raise ValueError(f"hubspot/{kind.name}.jsonl: id {record.id!r} appears twice")
            self.records[record.id] = record
        self.reindex()
        self.merged_into: dict[str, str] = {}
        self.highest = max((record.key for record in self.records.values()), default=0)
        self.unindexed: dict[int, int] = {}  # key -> when (epoch ms) the search index shows its last change

    def hidden_from_search(self, now_ms: int) -> frozenset[int]:
        """Keys of records changed less than the search index lag ago (``HubSpotState.changed``)."""
        if not self.unindexed:
            return frozenset()
        for key, visible_at in list(self.unindexed.items()):
            if visible_at <= now_ms:
                del self.unindexed[key]
        return frozenset(self.unindexed)

    def reindex(self) -> None:
        """Rebuild the indexes from ``records`` (load time, and batch mutations: cheaper than many insorts)."""
        active = [record for record in self.records.values() if not record.archived]
        self.active_ids = sorted(record.key for record in active)
        self.archived_ids = sorted(record.key for record in self.records.values() if record.archived)
        self.by_modified = sorted((record.modified, record.key) for record in active)

    def property_type(self, name: str) -> str:
        """HubSpot's type for its own properties (whatever properties.json says), else the dataset's."""
        builtin = inferred_type(name)
        if builtin != "string":
            return builtin
        spec = self.schema.get(name)
        return spec.get("type", "string") if spec else builtin

    def get(self, object_id: str) -> Record | None:
        """The active record with this id, following merges to the surviving record as HubSpot does."""
        seen = 0
        while object_id in self.merged_into and seen < 100:
            object_id, seen = self.merged_into[object_id], seen + 1
        record = self.records.get(object_id)
        return record if record is not None and not record.archived else None

    def active(self) -> Iterable[Record]:
        records = self.records
        return (records[str(key)] for key in self.active_ids)

    def add(self, record: Record) -> None:
        if record.id in self.records:
            raise ValueError(f"{self.kind.name} id {record.id!r} already exists")
        self.records[record.id] = record
        self.highest = max(self.highest, record.key)
        if record.archived:
            bisect.insort(self.archived_ids, record.key)
        else:
            bisect.insort(self.active_ids, record.key)
            bisect.insort(self.by_modified, (record.modified, record.key))

    def remove(self, record: Record) -> None:
        """Take a record out entirely (merged away, or re-id'd): it is neither listed nor archived."""
        del self.records[record.id]
        if record.archived:
            _discard(self.archived_ids, record.key)
        else:
            _discard(self.active_ids, record.key)
            _discard(self.by_modified, (record.modified, record.key))

    def set_modified(self, record: Record, millis: int) -> None:
        """Move a record to a new last-modified instant (property, ``updatedAt`` and the index together)."""
        if not record.archived:
            _discard(self.by_modified, (record.modified, record.key))
            bisect.insort(self.by_modified, (millis, record.key))
        self._stamp(record, millis)

    def set_modified_many(self, records: list[Record], millis: int) -> None:
        """:meth:`set_modified` for a batch (a bulk import's touch): one pass over the index however many move."""
        if len(records) < BATCH:
            for record in records:
                self.set_modified(record, millis)
            return
        moving = {record.key for record in records}
        kept = [entry for entry in self.by_modified if entry[1] not in moving]
        for record in records:
            self._stamp(record, millis)
        low, high = bisect.bisect_left(kept, (millis, -1)), bisect.bisect_left(kept, (millis + 1, -1))
        kept[low:high] = sorted(kept[low:high] + [(millis, record.key) for record in records if not record.archived])
        self.by_modified = kept

    def replace_many(self, pairs: list[tuple[Record, Record]]) -> None:
        """Swap records for new ones (a migration's new ids): :meth:`remove` then :meth:`add`, batched."""
        if len(pairs) < BATCH:
            for old, new in pairs:
                self.remove(old)
                self.add(new)
            return
        for old, _ in pairs:
            del self.records[old.id]
        for _, new in pairs:
            if new.id in self.records:
                raise ValueError(f"{self.kind.name} id {new.id!r} already exists")
            self.records[new.id] = new
            self.highest = max(self.highest, new.key)
        self.reindex()

    def _stamp(self, record: Record, millis: int) -> None:
        record.modified = millis
        record.properties[self.kind.modified_property] = iso_ms(millis)
        record.updated_at = iso_ms(millis)
        record.typed.pop(self.kind.modified_property, None)

    def archive(self, record: Record, millis: int) -> None:
        _discard(self.active_ids, record.key)
        _discard(self.by_modified, (record.modified, record.key))
        bisect.insort(self.archived_ids, record.key)
        record.archived, record.archived_at = True, iso_ms(millis)

    def next_id(self) -> int:
        """A fresh id above every id this table has held (HubSpot never reuses ids)."""
        return self.highest + 1


def _discard(index: list, item: Any) -> None:
    position = bisect.bisect_left(index, item)
    if position < len(index) and index[position] == item:
        del index[position]
