"""``POST /crm/v3/objects/{deals|0-3}/search``: HubSpot's search semantics over a :class:`~sandbox.hubspot.store.Table`.

- ``filterGroups``: OR of groups, AND of the filters in a group (at most 5 groups, 10 filters a group, 25 in all).
  Operators EQ, NEQ, LT, LTE, GT, GTE, BETWEEN (``value``..``highValue``, inclusive), IN, NOT_IN (``values``),
  HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN.
- Values compare by the property's type (``properties.json``, else HubSpot's type for built-in names): datetime and
  date as instants (filter values in epoch milliseconds or ISO-8601), number numerically, bool and everything else
  as case-insensitive strings. An unset (null or empty) property matches only NEQ, NOT_IN, NOT_HAS_PROPERTY and
  NOT_CONTAINS_TOKEN.
- CONTAINS_TOKEN matches whole words of the value (words split on anything but letters and digits; a value of
  several words matches them in a row), or with ``*`` wildcards a word or the whole value (``*@example.com``).
- One sort (``{"propertyName", "direction"}`` or the string forms ``"name"``/``"-name"``); without one, results come
  in id order. Ties are broken by id (the order reverses with DESCENDING). Unset values sort last.
- ``limit`` 1..200 (default 10), ``after`` = the offset as digits. ``total`` counts every match; results stop at
  10,000 and an ``after`` of 10,000 or more is a 400, as on HubSpot. Paging is by offset, so records whose
  last-modified date changes while a client pages move between pages, exactly the hazard a real client faces.
- Archived records are never found. A record changed less than the sandbox's search index lag ago
  (``SandboxSettings.search_index_lag``) is not found either, as HubSpot's index shows writes seconds late.

Windows on the last-modified property are served from the ``(modified, id)`` index by bisection: a window with
no other filter, sorted on that property, costs two bisections and one slice whatever the table size.
"""

from __future__ import annotations

import bisect
import fnmatch
import math
import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot.store import Record, Table
from sandbox.hubspot.wire import parse_instant, validation_error

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
RESULT_CAP = 10_000
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
_RANGE_OPERATORS = {"EQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "HAS_PROPERTY"}
_WORD = re.compile(r"[^\W_]+")
# The 400 HubSpot's search answers for a request it rejects without detail (seen for the 10,000-result cap).
PROBLEM_WITH_REQUEST = "There was a problem with the request."


def comparable(value: Any, property_type: str) -> Any:
    """The value a filter or sort compares for a raw property string of this type (None when unset/unparsable)."""
    if value is None:
        return None
    text = str(value)
    if text == "":
        return None
    if property_type in ("datetime", "date"):
        return parse_instant(text)
    if property_type == "number":
        try:
            return float(text)
        except ValueError:
            return None
    return text.casefold()


def typed_value(table: Table, record: Record, name: str) -> Any:
    if name == table.kind.modified_property:
        return record.modified
    if name == "hs_object_id":
        return record.key
    cache = record.typed
    if name not in cache:
        cache[name] = comparable(record.properties.get(name), table.property_type(name))
    return cache[name]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


@dataclass
class Filter:
    """One parsed filter: ``matches(table, record)`` applies it."""

    name: str
    operator: str
    value: Any = None
    values: list[Any] = field(default_factory=list)
    high: Any = None
    pattern: str = ""

    def matches(self, table: Table, record: Record) -> bool:
        operator = self.operator
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            raw = record.properties.get(self.name)
            found = bool(raw) and _contains_token(str(raw), self.pattern)
            return found if operator == "CONTAINS_TOKEN" else not found
        current = typed_value(table, record, self.name)
        if operator == "HAS_PROPERTY":
            return current is not None
        if operator == "NOT_HAS_PROPERTY":
            return current is None
        if operator == "NEQ":
            return current != self.value
        if operator == "NOT_IN":
            return current not in self.values
        if current is None:
            return False
        if operator == "EQ":
            return current == self.value
        if operator == "IN":
            return current in self.values
        try:
            if operator == "LT":
                return current < self.value
            if operator == "LTE":
                return current <= self.value
            if operator == "GT":
                return current > self.value
            if operator == "GTE":
                return current >= self.value
            return self.value <= current <= self.high  # BETWEEN
        except TypeError:
            return False


def _contains_token(text: str, pattern: str) -> bool:
    if "*" in pattern:
        return fnmatch.fnmatchcase(text.casefold(), pattern) or any(
            fnmatch.fnmatchcase(word, pattern) for word in _words(text)
        )
    wanted, words = _words(pattern), _words(text)
    width = len(wanted)
    return bool(wanted) and any(words[i:i + width] == wanted for i in range(len(words) - width + 1))


@dataclass
class SearchRequest:
    groups: list[list[Filter]]
    sort_name: str | None
    descending: bool
    properties: list[str] | None
    limit: int
    offset: int
    query: list[str]


def _filter_value(table: Table, name: str, raw: Any, where: str) -> Any:
    if raw is None:
        raise validation_error(f"{where}: a value is required for this operator")
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    property_type = table.property_type(name)
    value = comparable(raw, property_type)
    if value is None and property_type in ("datetime", "date", "number"):
        raise validation_error(f"{where}: {raw!r} is not a valid {property_type} value for property {name}")
    return value


def _parse_filter(table: Table, raw: Any, where: str) -> Filter:
    if not isinstance(raw, dict):
        raise validation_error(f"{where}: a filter must be an object")
    name, operator = raw.get("propertyName"), raw.get("operator", "EQ")
    if not isinstance(name, str) or not name:
        raise validation_error(f"{where}: propertyName is required")
    if operator not in OPERATORS:
        raise validation_error(f"{where}: operator {operator!r} is not one of {sorted(OPERATORS)}")
    parsed = Filter(name, operator)
    if operator in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"{where}: {operator} needs a non-empty 'values' list")
        parsed.values = [_filter_value(table, name, value, where) for value in values]
    elif operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        if raw.get("value") in (None, ""):
            raise validation_error(f"{where}: {operator} needs a 'value'")
        parsed.pattern = str(raw["value"]).casefold()
    elif operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        parsed.value = _filter_value(table, name, raw.get("value"), where)
        if operator == "BETWEEN":
            parsed.high = _filter_value(table, name, raw.get("highValue"), where)
    return parsed


def _integer(body: dict[str, Any], key: str, default: int) -> int:
    raw = body.get(key)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit())):
        raise validation_error(f"Invalid input JSON: '{key}' must be a non-negative integer, got {raw!r}")
    return int(raw)


def parse_search(table: Table, body: Any) -> SearchRequest:
    """Validate a search body as HubSpot does; raise :class:`HubSpotError` (400) naming the offending field."""
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: the search body must be a JSON object")
    limit = _integer(body, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(
            f"limit must be between 1 and {MAX_LIMIT}, got {limit}", context={"limit": [str(limit)]}
        )
    offset = _integer(body, "after", 0)
    if offset >= RESULT_CAP:
        raise validation_error(PROBLEM_WITH_REQUEST)
    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list):
        raise validation_error("Invalid input JSON: 'filterGroups' must be a list")
    if len(raw_groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: {len(raw_groups)}, at most {MAX_GROUPS} are allowed")
    groups: list[list[Filter]] = []
    total = 0
    for group_number, group in enumerate(raw_groups):
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error(f"filterGroups[{group_number}]: 'filters' must be a list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"filterGroups[{group_number}] has {len(filters)} filters, at most {MAX_FILTERS_PER_GROUP} are allowed"
            )
        total += len(filters)
        groups.append([
            _parse_filter(table, raw, f"filterGroups[{group_number}].filters[{number}]")
            for number, raw in enumerate(filters)
        ])
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters: {total}, at most {MAX_FILTERS} are allowed in one search")
    groups = [group for group in groups if group] or ([] if not groups else [[]])
    sort_name, descending = _parse_sort(body.get("sorts"))
    properties = body.get("properties")
    if properties is not None and (
        not isinstance(properties, list) or not all(isinstance(name, str) for name in properties)
    ):
        raise validation_error("Invalid input JSON: 'properties' must be a list of property names")
    query = body.get("query")
    words = _words(query) if isinstance(query, str) else []
    return SearchRequest(groups, sort_name, descending, properties or None, limit, offset, words)


def _parse_sort(sorts: Any) -> tuple[str | None, bool]:
    if not sorts:
        return None, False
    if not isinstance(sorts, list):
        raise validation_error("Invalid input JSON: 'sorts' must be a list")
    if len(sorts) > 1:
        raise validation_error(f"Only one sort is allowed, got {len(sorts)}")
    sort = sorts[0]
    if isinstance(sort, str):
        return sort.removeprefix("-"), sort.startswith("-")
    if not isinstance(sort, dict) or not isinstance(sort.get("propertyName"), str):
        raise validation_error("sorts[0]: propertyName is required")
    direction = sort.get("direction", "ASCENDING")
    if direction not in ("ASCENDING", "DESCENDING"):
        raise validation_error(f"sorts[0]: direction must be ASCENDING or DESCENDING, got {direction!r}")
    return sort["propertyName"], direction == "DESCENDING"


def _window(table: Table, group: list[Filter]) -> tuple[int, int, list[Filter]] | None:
    """The slice of the (modified, id) index a group is confined to, and its other filters; None if unconfined."""
    name = table.kind.modified_property
    low, high = 0, len(table.by_modified)
    confined = False
    rest: list[Filter] = []
    index = table.by_modified
    for item in group:
        if item.name != name or item.operator not in _RANGE_OPERATORS:
            rest.append(item)
            continue
        confined = True
        operator, value = item.operator, item.value
        if operator in ("GTE", "EQ", "BETWEEN"):
            low = max(low, bisect.bisect_left(index, (value, -1)))
        elif operator == "GT":
            low = max(low, bisect.bisect_left(index, (value + 1, -1)))
        if operator == "LT":
            high = min(high, bisect.bisect_left(index, (value, -1)))
        elif operator in ("LTE", "EQ"):
            high = min(high, bisect.bisect_left(index, (value + 1, -1)))
        elif operator == "BETWEEN":
            high = min(high, bisect.bisect_left(index, (item.high + 1, -1)))
    if not confined:
        return None
    high = max(low, high)
    if low < high and index[low][0] == index[high - 1][0]:
        # One instant (a bulk import's ties): the slice is in id order, so id bounds bisect too.
        instant = index[low][0]
        for item in [f for f in rest if f.name == "hs_object_id" and f.operator in ("GT", "GTE", "LT", "LTE")
                     and isinstance(f.value, int | float)]:
            rest.remove(item)
            # the first id on the kept side: GT/LTE v -> floor(v) + 1, GTE/LT v -> ceil(v)
            bound = math.floor(item.value) + 1 if item.operator in ("GT", "LTE") else math.ceil(item.value)
            if item.operator in ("GT", "GTE"):
                low = max(low, bisect.bisect_left(index, (instant, bound), low, high))
            else:
                high = min(high, bisect.bisect_left(index, (instant, bound), low, high))
        high = max(low, high)
    return low, high, rest


def run_search(
    table: Table, request: SearchRequest, hidden: frozenset[int] = frozenset()
) -> tuple[int, list[Record]]:
    """``(total, page)`` for a parsed search request; ``hidden``: keys the search index does not show yet."""
    records = table.records
    start, stop = request.offset, min(request.offset + request.limit, RESULT_CAP)
    modified = table.kind.modified_property
    sort_name = request.sort_name
    groups = request.groups or [[]]
    windows = [_window(table, group) for group in groups] if request.groups else [(0, len(table.by_modified), [])]

    # Fast path: one window on the modified index, ordered by it (within one instant, id order is the same).
    if len(windows) == 1 and windows[0] is not None and (sort_name == modified or (
            sort_name == "hs_object_id" and _one_instant(table, windows[0]))):
        low, high, rest = windows[0]
        if rest or request.query or hidden:
            keys = [key for key in table.by_modified[low:high]
                    if key[1] not in hidden and _keep(table, records[str(key[1])], rest, request)]
        else:
            keys = table.by_modified[low:high]
        total = len(keys)
        if request.descending:
            chosen = [keys[total - 1 - position] for position in range(start, min(stop, total))]
        else:
            chosen = keys[start:stop]
        return total, [records[str(key)] for _, key in chosen]

    # No filter, id order: page the id index.
    if not request.groups and not request.query and sort_name in (None, "hs_object_id"):
        ids = [key for key in table.active_ids if key not in hidden] if hidden else table.active_ids
        total = len(ids)
        positions = range(start, min(stop, total))
        chosen = [ids[total - 1 - p] for p in positions] if request.descending else ids[start:stop]
        return total, [records[str(key)] for key in chosen]

    # General path: gather the matches (from the windows when every group has one), then sort.
    matches: dict[int, Record] = {}
    if all(window is not None for window in windows):
        for (low, high, rest) in windows:  # type: ignore[misc]
            for _, key in table.by_modified[low:high]:
                record = records[str(key)]
                if key not in matches and key not in hidden and _keep(table, record, rest, request):
                    matches[key] = record
    else:
        for record in table.active():
            if record.key not in hidden and any(_keep(table, record, group, request) for group in groups):
                matches[record.key] = record
    return len(matches), _ordered(table, list(matches.values()), sort_name, request.descending)[start:stop]


def _one_instant(table: Table, window: tuple[int, int, list[Filter]]) -> bool:
    low, high, _ = window
    return high <= low or table.by_modified[low][0] == table.by_modified[high - 1][0]


def _keep(table: Table, record: Record, filters: list[Filter], request: SearchRequest) -> bool:
    if not all(item.matches(table, record) for item in filters):
        return False
    if request.query:
        words = set()
        for name in table.kind.searchable:
            words.update(_words(str(record.properties.get(name) or "")))
        return all(any(word.startswith(term) for word in words) for term in request.query)
    return True


def _ordered(table: Table, matches: list[Record], sort_name: str | None, descending: bool) -> list[Record]:
    """Matches in sort order, ties by id; records without a value for the sort property go last."""
    if sort_name in (None, "hs_object_id"):
        return sorted(matches, key=lambda record: record.key, reverse=descending)
    if sort_name == table.kind.modified_property:
        return sorted(matches, key=lambda record: (record.modified, record.key), reverse=descending)
    present = [(typed_value(table, record, sort_name), record.key, record) for record in matches]
    unset = sorted((record for value, _, record in present if value is None), key=lambda record: record.key)
    present = sorted((entry for entry in present if entry[0] is not None), key=_value_and_key, reverse=descending)
    return [record for _, _, record in present] + unset


def _value_and_key(entry: tuple[Any, int, Record]) -> tuple[Any, int]:
    return entry[0], entry[1]
