"""The optional language-model rewrite of the briefing, and the guard that decides whether to keep it (pure).

A rewrite may reorder, shorten and reword, but it may not state a number the template did not: every number in it
(with its unit: a currency symbol or code, or ``%``) must appear in the template with the same value and unit.
Numbers spelled out in words cannot be checked, so a rewrite containing any is refused too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_SYMBOLS = r"CA\$|A\$|\$|€|£|¥|₹"
_NUMBER = re.compile(rf"(?P<symbol>{_SYMBOLS})?(?P<code>\b[A-Z]{{3}} )?(?P<value>\d[\d,]*(?:\.\d+)?)(?P<percent>%)?")
_NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|half|double|twice|triple)\b",
    re.IGNORECASE,
)
PROMPT = (
    "Rewrite this daily marketing briefing so a busy marketing lead can read it in one minute. Keep the Markdown "
    "headings and the stale-data warning first if there is one. Use only numbers that appear in the text, written "
    "exactly as they appear (same currency symbol, same rounding); write no number in words; add no new figures."
)


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


def numbers(text: str) -> set[tuple[str, Decimal]]:
    """``(unit, value)`` of every number in ``text``: unit is the currency symbol or code, ``%``, or ``""``."""
    found = set()
    for match in _NUMBER.finditer(text):
        unit = match["symbol"] or (match["code"] or "").strip() or ("%" if match["percent"] else "")
        try:
            found.add((unit, Decimal(match["value"].replace(",", ""))))
        except InvalidOperation:  # pragma: no cover - the pattern only matches digits
            continue
    return found


def judge(template: str, rewrite: str | None) -> Verdict:
    """Accept the rewrite only when every number it states is one of the template's, with the same unit."""
    if not rewrite or not rewrite.strip():
        return Verdict(False, "the rewrite is empty")
    words = sorted({word.lower() for word in _NUMBER_WORDS.findall(rewrite)} - _words(template))
    if words:
        return Verdict(False, f"the rewrite writes numbers in words ({', '.join(words)})")
    unknown = numbers(rewrite) - numbers(template)
    if unknown:
        shown = ", ".join(_show(unit, value) for unit, value in sorted(unknown, key=lambda item: (item[0], item[1])))
        return Verdict(False, f"the rewrite states numbers the facts do not: {shown}")
    return Verdict(True, "every number of the rewrite is in the template")


def _words(text: str) -> set[str]:
    return {word.lower() for word in _NUMBER_WORDS.findall(text)}


def _show(unit: str, value: Decimal) -> str:
    if unit == "%":
        return f"{value}%"
    return f"{unit}{value}" if unit and not unit.isalpha() else f"{unit} {value}".strip()


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
