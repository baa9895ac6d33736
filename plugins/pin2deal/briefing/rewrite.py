"""The optional language-model rewrite of the briefing, and the guard that decides whether to keep it (pure).

A rewrite may reorder, shorten and reword; it may not change what a figure says, nor drop a warning. The guard
reads both texts line by line:

- a **figure** is a number with its unit (a currency symbol or code, ``%``, or none) and its **measure**, what it
  counts: a known word right after it (``3 won``, ``12 leads``, ``2 sent``, ``9 days``, ``$600 spent``), else right
  before it (``CAC $280``, ``spend $52.50``, ``ROAS 2.86``, ``28-day: $310``, a match key's ``email on 80%``),
  else the words on either side (so a number the guard cannot name keeps its neighbours); a threshold's "at
  least", "needs", "within" or "by" is part of its measure, and so are the touch model a count is by and the
  campaign it is of ("'Summer Patio' opens journeys (4 won by first touch vs 1 won by last touch)": the model in the
  words after the number up to the next number or punctuation, the campaign the nearest name before it). A date
  (``30 Jun``, ``Mon 30 Jun 2025``, ``24-30 Jun 2025``) or a time of day is a figure too;
- a line's **subjects** are the accounts, campaigns, pins and other channels it names (``Briefing.names``, quoted
  or not, any case); its **periods** are its dates and its section heading's;
- each line of the rewrite that states a figure must be **backed** by one line of the template that names each of
  its subjects (a line naming none: by a line naming none), states each of its figures with the same value, unit
  and measure, and whose periods the rewrite's line still gives. So a number cannot move to another campaign,
  another line, another measure or another period;
- every **warning** (``Briefing.warnings``: the stale-data notes, low epik coverage, a high unresolved share, the
  advice for a low match key) is in
  the rewrite word for word (Markdown emphasis and case aside), the stale-data notes before any figure of the
  briefing's body (only the title and the periods' line may come first);
- a line of the rewrite saying a campaign is "on track" or "behind" (the forecast's judgement) must be backed by a
  line of the template saying the same; a forecast CAC is its own measure (``forecast CAC $150`` cannot become
  ``CAC $150``);
- no number is written in words (it could not be checked).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pin2deal.briefing.rules import Briefing
from pin2deal.capi.quality import SHOWN_KEYS

_SYMBOLS = r"CA\$|A\$|\$|€|£|¥|₹"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b"
)
_WEEKDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?"
_DAY_MONTH = rf"\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?"
_DATE = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b"  # ISO, as in the chart's file name
    rf"|\b{_WEEKDAY}\d{{1,2}}(?:\s+{_MONTH}(?:\s+\d{{4}})?)?\s*[-–]\s*{_DAY_MONTH}"  # 24-30 Jun 2025, 28 May - 3 Jun
    rf"|\b{_WEEKDAY}{_DAY_MONTH}"  # Mon 30 Jun 2025, 30 Jun
    rf"|\b\d{{1,2}}:\d{{2}}\b",  # 17:42
    re.IGNORECASE,
)
_DATE_PART = re.compile(r"(\d{1,2})(?:\s+([A-Za-z]+)(?:\s+(\d{4}))?)?\s*$")
# Names and dates are replaced by marks before the rest is read, so their digits are never taken for figures.
_NAME_MARK, _DATE_MARK = "\ue000{}\ue001", "\ue002{}\ue003"
_TOKEN = re.compile(
    r"(?P<name>\ue000\d+\ue001)|(?P<date>\ue002\d+\ue003)"
    rf"|(?P<number>(?<![\w.])(?P<sign>-)?(?:(?P<symbol>{_SYMBOLS})|(?P<code>(?!CAC\b)[A-Z]{{3}})\s)?"
    r"(?P<value>\d+(?:,\d{3})*(?:\.\d+)?)(?P<percent>%)?(?!\d|-?[^\W\d_]))"
    r"|(?P<word>\d+-[^\W\d_][\w-]*|[^\W\d_][\w'’-]*)"
    r"|(?P<stop>[,;()\[\]!?]|\.(?!\d)|\s[-–—]\s)"
)
# What a number counts, from the words right after it (first) or right before it; keys are lowercase words.
_COUNTS_AFTER = {
    "won": "won", "won deal": "won", "won deals": "won", "deal won": "won", "deals won": "won",
    "lead": "leads", "leads": "leads", "sent": "sent", "failed": "failed", "skipped": "skipped",
    "pending": "pending", "in_flight": "in_flight", "day": "days", "days": "days", "hour": "hours",
    "hours": "hours", "week": "weeks", "weeks": "weeks", "spent": "spend", "spend": "spend", "in spend": "spend",
    "cac": "CAC", "roas": "ROAS", "lower": "lower", "higher": "higher",
    "pinterest-won deal": "Pinterest-won deals", "pinterest-won deals": "Pinterest-won deals",
    "pinterest-paid lead": "Pinterest-paid leads", "pinterest-paid leads": "Pinterest-paid leads",
    "more campaign": "more campaigns", "more campaigns": "more campaigns",
    "won to": "won to date", "expected wins": "expected wins", "open deal": "open deals",
    "open deals": "open deals",
}  # fmt: skip
_COUNTS_BEFORE = {
    "cac": "CAC", "28-day": "28-day CAC", "28-day cac": "28-day CAC", "forecast cac": "forecast CAC", "spend": "spend",
    "spent": "spend", "roas": "ROAS", "revenue": "revenue", "rose": "rose", "fell": "fell", "won": "won",
}  # fmt: skip
# A match key's share of the events sent ("click id on 40%", "phone on 20%"): its own measure, per key.
_COUNTS_BEFORE |= {f"{shown.label.split()[-1]} on": f"{shown.label} share" for shown in SHOWN_KEYS.values()}
_QUALIFIERS = {"least", "most", "needs", "within", "by"}
# The touch models a count may be by (the briefing's counts are by last touch; its touch-model line gives both).
_MODELS = re.compile(r"\b(first|last) touch\b")
# A young campaign's judgement by its forecast CAC: a rewrite's line saying one must be backed by a line saying it.
_VERDICTS = re.compile(r"\b(on track|behind)\b", re.IGNORECASE)
_NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|half|double|twice|triple)\b",
    re.IGNORECASE,
)
PROMPT = (
    "Rewrite this daily marketing briefing so a busy marketing lead can read it in one minute. Keep the Markdown "
    "headings. Copy word for word every line under 'Stale data' (keep them first) and every health line that warns "
    "('- low:', '- high:'). Keep each number on a line about the same campaign, pin or channel, next to the word "
    "that says what it counts (won, leads, CAC, spend, ROAS), written exactly as it appears (same currency symbol, "
    "same rounding); write no number in words; add no new figures."
)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


@dataclass(frozen=True)
class Figure:
    """A number, date or time of a line, with what it counts."""

    unit: str  # a currency symbol or code, "%", "" (a count or ratio), "date" or "time"
    value: Any  # Decimal; a date: ((day, month, year or None), ...) one per end of a span; a time: (hour, minute)
    measure: str = ""  # see the module's doc; "" for dates and times
    text: str = field(default="", compare=False)  # as written

    def backs(self, other: Figure) -> bool:
        """This figure of the template states ``other`` (a date may leave its year out)."""
        if (self.unit, self.measure) != (other.unit, other.measure):
            return False
        if self.unit != "date":
            return self.value == other.value
        return len(self.value) == len(other.value) and all(
            (day, month) == (their_day, their_month) and their_year in (None, year)
            for (day, month, year), (their_day, their_month, their_year) in zip(self.value, other.value, strict=True)
        )

    def __str__(self) -> str:
        known = self.measure and not self.measure.startswith("~")
        return f"{self.text} ({self.measure})" if known else self.text


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, in its text
    text: str
    subjects: frozenset[str]  # the names it names, case-folded
    figures: tuple[Figure, ...]
    periods: tuple[Figure, ...] = ()  # the dates its figures are about: its own and its section heading's
    verdicts: frozenset[str] = frozenset()  # "on track", "behind"

    def about(self, other: Line) -> bool:
        """This line names every subject ``other`` names, or, like it, none."""
        return other.subjects <= self.subjects if other.subjects else not self.subjects

    def states(self, figure: Figure) -> bool:
        return any(mine.backs(figure) for mine in (*self.figures, *self.periods))

    def keeps_periods(self, other: Line) -> bool:
        """``other`` (or its section heading) names every period of this line."""
        return all(any(mine.backs(theirs) for theirs in other.periods) for mine in self.periods)

    def backs(self, other: Line) -> bool:
        """This template line is about ``other``'s subjects, states its every figure and verdict, and gives them its
        periods."""
        return (
            self.about(other)
            and all(map(self.states, other.figures))
            and other.verdicts <= self.verdicts
            and self.keeps_periods(other)
        )


def read_lines(text: str, names: Iterable[str] = ()) -> list[Line]:
    """Every line of ``text`` with the subjects it names (of ``names``), its figures and its periods."""
    known = sorted({_plain_quotes(name) for name in names if name.strip()}, key=lambda name: (-len(name), name))
    pattern = (
        re.compile(r"(?<!\w)['\"]?(" + "|".join(map(re.escape, known)) + r")['\"]?(?!\w)", re.IGNORECASE)
        if known
        else None
    )
    lines, heading = [], ()
    for number, text_line in enumerate(text.splitlines(), start=1):
        line = _read_line(number, text_line, pattern)
        dates = tuple(f for f in line.figures if f.unit == "date")
        if re.match(r"#{2,} ", text_line.lstrip()):  # a section heading (not the title): its dates hold below it
            heading = dates
            lines.append(dataclasses.replace(line, periods=dates))
        else:
            lines.append(dataclasses.replace(line, periods=dates + heading))
    return lines


def judge(template: Briefing, rewrite: str | None) -> Verdict:
    """Accept the rewrite only when each of its lines with a figure is backed by a line of the template, and every
    warning is kept (the stale-data ones first)."""
    if not rewrite or not rewrite.strip():
        return Verdict(False, "the rewrite is empty")
    words = sorted({word.lower() for word in _NUMBER_WORDS.findall(rewrite)} - _words(template.markdown))
    if words:
        return Verdict(False, f"the rewrite writes numbers in words ({', '.join(words)})")
    source = read_lines(template.markdown, template.names)
    written = read_lines(rewrite, template.names)
    kept: dict[str, int] = {}
    for warning in template.warnings:
        found = next((line.number for line in written if _plain(warning) in _plain(line.text)), None)
        if found is None:
            return Verdict(False, f"the rewrite drops or rewords a warning: {warning}")
        kept[warning] = found
    header = {line.number for line in source[: next((i for i, s in enumerate(source) if s.text.startswith("## ")), 0)]}
    body: list[int] = []
    for line in written:
        if not line.figures and not line.verdicts:
            continue
        backing = [s for s in source if s.backs(line)]
        if not backing:
            return Verdict(False, _unbacked(line, source, template.names))
        if line.number not in kept.values() and not any(s.number in header for s in backing):
            body.append(line.number)
    stale_notes = template.sections[0][1] if template.stale else ()
    late = [note for note in stale_notes if body and kept[note] > min(body)]
    if late:
        return Verdict(False, f"the rewrite states figures before the stale-data warning: {late[0]}")
    return Verdict(True, "every figure of the rewrite is backed by a line of the template, every warning is kept")


def _read_line(number: int, text: str, names: re.Pattern[str] | None) -> Line:
    line = _plain_quotes(text)
    subjects: list[str] = []
    if names is not None:

        def name_mark(match: re.Match[str]) -> str:
            subjects.append(match[1].casefold())
            return f" {_NAME_MARK.format(len(subjects) - 1)} "

        line = names.sub(name_mark, line)
    dates: list[Figure] = []

    def date_mark(match: re.Match[str]) -> str:
        dates.append(_date(match[0]))
        return f" {_DATE_MARK.format(len(dates) - 1)} "

    line = _DATE.sub(date_mark, line)
    tokens = list(_TOKEN.finditer(line))
    figures = list(dates)
    for at, token in enumerate(tokens):
        if token["number"]:
            figures.append(_number(token, tokens, at, subjects))
    verdicts = frozenset(verdict.lower() for verdict in _VERDICTS.findall(line))
    return Line(number, text, frozenset(subjects), tuple(figures), verdicts=verdicts)


def _number(token: re.Match[str], tokens: list[re.Match[str]], at: int, subjects: list[str]) -> Figure:
    unit = token["symbol"] or token["code"] or ("%" if token["percent"] else "")
    value = Decimal(token["value"].replace(",", "")) * (-1 if token["sign"] else 1)
    after, before = _words_beside(tokens, at, +1), _words_beside(tokens, at, -1)  # nearest first
    measure = (
        _COUNTS_AFTER.get(" ".join(after))
        or _COUNTS_AFTER.get(after[0] if after else "")
        or _COUNTS_BEFORE.get(" ".join(reversed(before)))
        or _COUNTS_BEFORE.get(before[0] if before else "")
    )
    if not measure:  # a number the guard cannot name keeps the tokens beside it
        measure = f"~{_neighbour(tokens, at - 1, subjects)}|{_neighbour(tokens, at + 1, subjects)}"
    if before and before[0] in _QUALIFIERS:
        measure = f"{before[0]} {measure}"
    model = _MODELS.search(" ".join(_clause_after(tokens, at)))
    if model:
        named = next((t["name"] for t in reversed(tokens[:at]) if t["name"]), None)
        measure = f"{measure} by {model[0]}" + (f" of @{subjects[int(named[1:-1])]}" if named else "")
    return Figure(unit, value, measure, token["number"].strip())


def _words_beside(tokens: list[re.Match[str]], at: int, step: int) -> list[str]:
    """Up to two words right after (step 1) or right before (step -1) token ``at``, the nearest first."""
    words, i = [], at + step
    while 0 <= i < len(tokens) and tokens[i]["word"] and len(words) < 2:
        words.append(tokens[i]["word"].lower())
        i += step
    return words


def _clause_after(tokens: list[re.Match[str]], at: int) -> list[str]:
    """The words after token ``at`` up to the next number, date, name or punctuation."""
    words = []
    for token in tokens[at + 1 :]:
        if not token["word"]:
            break
        words.append(token["word"].lower())
    return words


def _neighbour(tokens: list[re.Match[str]], at: int, subjects: list[str]) -> str:
    if not 0 <= at < len(tokens):
        return ""
    token = tokens[at]
    if token["name"]:
        return "@" + subjects[int(token["name"][1:-1])]
    if token["word"]:
        return token["word"].lower()
    return "#" if token["number"] or token["date"] else ""


def _date(text: str) -> Figure:
    """A date or span as ((day, month, year or None), ...), or a time of day."""
    if ":" in text:
        hour, minute = text.split(":")
        return Figure("time", (int(hour), int(minute)), text=text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        year, month, day = map(int, text.split("-"))
        return Figure("date", ((day, month, year),), text=text)
    ends = []
    for part in re.split(r"\s*[-–]\s*", text):
        day, month, year = _DATE_PART.search(part).groups()
        ends.append([int(day), _MONTHS.index(month[:3].lower()) + 1 if month else None, int(year) if year else None])
    for end in reversed(ends[:-1]):  # "24-30 Jun 2025", "28 May - 3 Jun 2025": the last end's month and year
        end[1] = end[1] or ends[-1][1]
        end[2] = end[2] or ends[-1][2]
    return Figure("date", tuple(tuple(end) for end in ends), text=text)


def _unbacked(line: Line, source: list[Line], names: Iterable[str]) -> str:
    """Why no template line backs ``line``: the figures that the closest line about its subjects does not state,
    or the period they lost."""
    spelled = {name.casefold(): name for name in names}
    about = ", ".join(f"'{spelled.get(s, s)}'" for s in sorted(line.subjects)) or "no campaign, pin or channel"
    candidates = [s for s in source if s.about(line)]
    if not any(line.verdicts <= s.verdicts for s in candidates):
        said = " and ".join(f"'{verdict}'" for verdict in sorted(line.verdicts))
        return f"line {line.number} of the rewrite says {said}: no line of the template naming {about} says it"
    candidates = [s for s in candidates if line.verdicts <= s.verdicts]
    stating = [s for s in candidates if all(map(s.states, line.figures))]
    if stating:
        periods = ", ".join(dict.fromkeys(f.text for f in stating[0].periods))
        return f"line {line.number} of the rewrite drops the period of its figures ({periods})"
    closest = min(candidates, key=lambda s: sum(not s.states(f) for f in line.figures), default=None)
    shown = ", ".join(str(f) for f in line.figures if closest is None or not closest.states(f))
    return f"line {line.number} of the rewrite states {shown}: no line of the template naming {about} states it"


def _plain_quotes(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _plain(text: str) -> str:
    """A line as compared for a kept warning: quotes, Markdown emphasis and code marks, spaces and case aside."""
    return " ".join(re.sub(r"[*`]", "", _plain_quotes(text)).split()).casefold()


def _words(text: str) -> set[str]:
    return {word.lower() for word in _NUMBER_WORDS.findall(text)}


def chat_request(markdown: str) -> dict:
    """An OpenAI-compatible ``/chat/completions`` body but the model (temperature 0: as repeatable as it allows)."""
    return {
        "temperature": 0,
        "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": markdown}],
    }


def chat_answer(body: dict) -> str | None:
    choices: Iterable = body.get("choices") or []
    for choice in choices:
        content = (choice.get("message") or {}).get("content")
        if isinstance(content, str):
            return content
    return None
