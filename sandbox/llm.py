"""A fake OpenAI-compatible chat-completions endpoint, to test the briefing's rewrite guard over real HTTP.

``POST /_sandbox/llm/v1/chat/completions`` answers with a rewrite of the last message's content (a briefing's
Markdown), chosen by the request's ``model``:

- ``faithful``: the same text with a one-line lead-in and every ``## `` heading as ``### ``: no figure changes;
- ``reworded``: the facts reordered and reworded, none changed: the stale-data section stays first and word for
  word, the other sections and their lines in reverse order, campaign lines as ``'Name': 3 won, 12 leads, ...``,
  ``spend $X`` as ``$X spent``, shorter headings;
- ``changed-number``: the faithful rewrite with the first dollar or euro amount increased by 5 (a hallucination);
- ``date-as-count``: the last campaign line's won deals replaced by the briefing day's day of the month (a number
  of the template, "1 won" -> "30 won");
- ``count-from-another-line``: the last campaign line's won deals replaced by the account's week ("1 won" -> "4
  won", a count of another line);
- ``spend-as-cac``: the first campaign line's CAC replaced by the account's spend of the day ("CAC $280" -> "CAC
  $52.50", an amount of another measure);
- ``forecast-as-cac``: the first forecast line's forecast presented as an actual CAC ("forecast CAC $156" ->
  "CAC $156", "A forecast, not an actual CAC." dropped);
- ``flipped-forecast``: the first forecast line's judgement flipped ("behind" <-> "on track");
- ``swapped-touch-models``: the touch-model line's first campaign with its two models' counts swapped ("4 won by
  first touch vs 1 won by last touch" -> "1 won by first touch vs 4 won by last touch");
- ``changed-touch-count``: the touch-model line's first count by first touch increased by 1;
- ``touch-counts-of-another-campaign``: the touch-model line's first two campaigns' counts exchanged (each
  campaign given the other's);
- ``dropped-warning``: the faithful rewrite without the stale-data section and the health lines' warnings;
- ``buried-warning``: the faithful rewrite with the stale-data section moved to the end;
- ``words``: the faithful rewrite with a sentence stating a number in words;
- anything else: 400 with an OpenAI-style error body.

``GET /_sandbox/llm/requests`` lists the request bodies received.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

_AMOUNT = re.compile(r"([$€])(\d+(?:,\d{3})*(?:\.\d+)?)")
_MONEY = r"-?(?:CA\$|A\$|[$€£¥₹])\d+(?:,\d{3})*(?:\.\d+)?|[A-Z]{3} \d+(?:,\d{3})*(?:\.\d+)?"
_CAMPAIGN = "- Pinterest campaign "
STALE_HEADING = "## Stale data"


def faithful(text: str) -> str:
    body = "\n".join(("### " + line[3:]) if line.startswith("## ") else line for line in text.splitlines())
    return "Your Pinterest morning, in short.\n\n" + body


def changed_number(text: str) -> str:
    rewrite = faithful(text)
    match = _AMOUNT.search(rewrite)
    if not match:
        return rewrite + "\nCAC $12.00 overall."
    value = Decimal(match[2].replace(",", "")) + 5
    return rewrite[: match.start()] + f"{match[1]}{value:,}" + rewrite[match.end() :]


def reworded(text: str) -> str:
    header, sections = _sections(text)
    stale = [s for s in sections if s[0].startswith(STALE_HEADING)]
    chart = [s for s in sections if not s[0]]
    others = [(_heading(title), [_reword(line) for line in reversed(lines)]) for title, lines in sections if
              title and not title.startswith(STALE_HEADING)]  # fmt: skip
    title = re.sub(r"^# Pinterest briefing for ", "# Your Pinterest morning, ", header[0])
    return _join([title, *header[1:]], stale + others[::-1] + chart)


def date_as_count(text: str) -> str:
    day = re.search(r"^# .*?\b(\d{1,2}) [A-Z][a-z]{2} \d{4}", text, re.MULTILINE)
    return _replace_in_campaign_line(faithful(text), -1, r"\d+(?= won)", day[1] if day else "30")


def count_from_another_line(text: str) -> str:
    week = re.search(r"^- (?:'[^']*': )?Week .*?(\d+) won", text, re.MULTILINE)
    return _replace_in_campaign_line(faithful(text), -1, r"\d+(?= won)", week[1] if week else "4")


def spend_as_cac(text: str) -> str:
    day = re.search(rf"^- (?:'[^']*': )?[A-Z][a-z]{{2}} \d{{1,2}} [A-Z][a-z]{{2}} \d{{4}}: spend ({_MONEY}),", text,
                    re.MULTILINE)  # fmt: skip
    return _replace_in_campaign_line(faithful(text), 0, rf"(?<=CAC )(?:{_MONEY})", day[1] if day else "$52.50")


def forecast_as_cac(text: str) -> str:
    return _in_first_line(
        faithful(text), "forecast CAC ",
        lambda line: line.replace("forecast CAC ", "CAC ", 1).replace(" A forecast, not an actual CAC.", ""),
    )  # fmt: skip


def flipped_forecast(text: str) -> str:
    def flip(line: str) -> str:
        return re.sub(r"\b(behind|on track)\b", lambda m: "on track" if m[1] == "behind" else "behind", line, count=1)

    return _in_first_line(faithful(text), "forecast CAC ", flip)


_TOUCH_COUNTS = re.compile(r"\((\d+) won by first touch vs (\d+) won by last touch\)")


def _touch_counts(text: str, change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> str:
    """The faithful rewrite with the touch-model line's (first touch, last touch) counts replaced by ``change``'s."""

    def line_changed(line: str) -> str:
        counts = iter(change(_TOUCH_COUNTS.findall(line)))
        template = "({} won by first touch vs {} won by last touch)"
        return _TOUCH_COUNTS.sub(lambda _: template.format(*next(counts)), line)

    return _in_first_line(faithful(text), "won by first touch", line_changed)


def swapped_touch_models(text: str) -> str:
    return _touch_counts(text, lambda counts: [counts[0][::-1], *counts[1:]])


def changed_touch_count(text: str) -> str:
    return _touch_counts(text, lambda counts: [(str(int(counts[0][0]) + 1), counts[0][1]), *counts[1:]])


def touch_counts_of_another_campaign(text: str) -> str:
    return _touch_counts(text, lambda counts: [*counts[1:2], *counts[:1], *counts[2:]])


def _in_first_line(text: str, marker: str, change: Callable[[str], str]) -> str:
    """``change`` applied to the first line containing ``marker``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if marker in line:
            lines[i] = change(line)
            break
    return "\n".join(lines) + "\n"


def dropped_warning(text: str) -> str:
    header, sections = _sections(text)
    kept = [(title, [re.sub(r" - (?:low|high): [^.]*", "", line) for line in lines]) for title, lines in sections if
            not title.startswith(STALE_HEADING)]  # fmt: skip
    return faithful(_join(header, kept))


def buried_warning(text: str) -> str:
    header, sections = _sections(text)
    stale = [s for s in sections if s[0].startswith(STALE_HEADING)]
    return faithful(_join(header, [s for s in sections if s not in stale] + stale))


def _sections(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The lines before the first ``## `` heading, then (heading, bullets) of each section; the chart's image line
    is a section of its own (heading ``""``)."""
    header: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((line, []))
        elif line.startswith("!["):
            sections.append(("", [line]))
        elif sections and line.strip():
            sections[-1][1].append(line)
        elif not sections:
            header.append(line)
    return header, sections


def _join(header: list[str], sections: list[tuple[str, list[str]]]) -> str:
    lines = list(header)
    for title, body in sections:
        lines += ([""] if lines and lines[-1] else []) + ([title, ""] if title else []) + body
    return "\n".join(lines) + "\n"


def _heading(title: str) -> str:
    return title.replace("## Pinterest campaigns", "## Campaigns").replace("## The day and the week", "## Day, week")


def _reword(line: str) -> str:
    line = re.sub(rf"^{_CAMPAIGN}('[^']*') - ", r"- \1: ", line)
    line = re.sub(r"(\d+ leads?), (\d+ won)\b", r"\2, \1", line)
    line = re.sub(rf"\bspend ({_MONEY})", r"\1 spent", line)
    line = line.replace("median time to close", "median close in").replace("Best pin by CAC", "Top pin by CAC")
    return line


def _replace_in_campaign_line(text: str, which: int, pattern: str, value: str) -> str:
    """``value`` for the first match of ``pattern`` in the ``which``-th campaign line (one whose match differs)."""
    lines = text.splitlines()
    campaign_lines = [i for i, line in enumerate(lines) if line.startswith(_CAMPAIGN) and re.search(pattern, line)]
    for i in campaign_lines[which:] if which >= 0 else campaign_lines[::-1]:
        changed = re.sub(pattern, value, lines[i], count=1)
        if changed != lines[i]:
            lines[i] = changed
            break
    return "\n".join(lines) + "\n"


REWRITES: dict[str, Callable[[str], str]] = {
    "faithful": faithful,
    "reworded": reworded,
    "changed-number": changed_number,
    "date-as-count": date_as_count,
    "count-from-another-line": count_from_another_line,
    "spend-as-cac": spend_as_cac,
    "forecast-as-cac": forecast_as_cac,
    "flipped-forecast": flipped_forecast,
    "swapped-touch-models": swapped_touch_models,
    "changed-touch-count": changed_touch_count,
    "touch-counts-of-another-campaign": touch_counts_of_another_campaign,
    "dropped-warning": dropped_warning,
    "buried-warning": buried_warning,
    "words": lambda text: faithful(text) + "\nTwelve campaigns ran this week.",
}


def install(app: FastAPI, sandbox: Any) -> None:
    received: list[dict[str, Any]] = []
    lock = threading.Lock()

    @app.post("/_sandbox/llm/v1/chat/completions", include_in_schema=False)
    async def chat_completions(request: Request) -> JSONResponse:
        body = await request.json()
        with lock:
            received.append(body)
        text = str((body.get("messages") or [{}])[-1].get("content", ""))
        model = body.get("model")
        if model not in REWRITES:
            error = {"message": f"The model `{model}` does not exist", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=400)
        content = REWRITES[model](text)
        return JSONResponse(
            {
                "id": "chatcmpl-sandbox",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
            }
        )

    @app.get("/_sandbox/llm/requests", include_in_schema=False)
    def requests_received() -> dict[str, Any]:
        with lock:
            return {"requests": list(received)}
