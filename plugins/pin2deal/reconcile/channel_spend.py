"""Other channels' spend from CSV files: pure parsing and validation (no I/O), one problem per bad line and field.

A file has a header naming (in any order, any case) ``channel, campaign, day, spend, currency``; every other line is
one channel-campaign-day. A line with a bad field is not loaded and is reported as ``<file>:<line>``. Pinterest's
spend comes from its Ads API only: a line of channel ``pinterest`` would be added to it, so it is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal

from pin2deal.normalize import InvalidValue, blank, parse_currency, parse_decimal

COLUMNS = ("channel", "campaign", "day", "spend", "currency")
ISSUE_SOURCE = "channel_spend.csv"
PINTEREST = "pinterest"  # the channel name of both Pinterest channels (mart.deal_attribution.channel_name)

Issue = tuple[str, str, str, str | None]  # (record_key, field, reason, raw_value) for ops.record_issues


@dataclass
class ParsedFile:
    rows: list[tuple[str, str, dt.date, Decimal, str, str, int]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    lines: int = 0

    @property
    def rejected(self) -> int:
        return len({key for key, *_ in self.issues})


def _day(value: str | None) -> dt.date:
    if blank(value):
        raise InvalidValue("missing")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as error:
        raise InvalidValue("not an ISO date (YYYY-MM-DD)") from error


def _spend(value: str | None) -> Decimal:
    amount = parse_decimal(value)
    if amount is None:
        raise InvalidValue("missing")
    if amount < 0:
        raise InvalidValue("negative")
    return amount


def _text(value: str | None) -> str:
    if blank(value):
        raise InvalidValue("missing")
    return value.strip()


def _channel(value: str | None) -> str:
    channel = _text(value).lower()
    if channel == PINTEREST:
        raise InvalidValue("Pinterest's spend comes from the Pinterest Ads API, never from a CSV file")
    return channel


def _currency(value: str | None) -> str:
    code = parse_currency(value)
    if code is None:
        raise InvalidValue("missing")
    return code


_PARSERS = {"channel": _channel, "campaign": _text, "day": _day, "spend": _spend, "currency": _currency}


def parse_channel_spend(text: str, file_name: str) -> ParsedFile:
    """Every valid line of a CSV file as a ``raw.channel_spend`` row, and the issues of the others."""
    parsed = ParsedFile()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    names = [name.strip().lower() for name in header or []]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        reason = "header misses these columns"
        parsed.issues.append((f"{file_name}:1", ",".join(missing), reason, ",".join(header or [])))
        return parsed
    position = {column: names.index(column) for column in COLUMNS}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        parsed.lines += 1
        key = f"{file_name}:{line}"
        values, bad = {}, False
        for column in COLUMNS:
            raw = record[position[column]] if position[column] < len(record) else None
            try:
                values[column] = _PARSERS[column](raw)
            except InvalidValue as error:
                parsed.issues.append((key, column, str(error), raw))
                bad = True
        if not bad:
            parsed.rows.append(
                (values["channel"], values["campaign"], values["day"], values["spend"], values["currency"],
                 file_name, line)
            )  # fmt: skip
    return parsed
