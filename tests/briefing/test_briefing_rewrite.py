"""The language-model rewrite guard: a rewrite is kept only when every number in it is one of the template's.

Tested on the template of a hand-built briefing, and over real HTTP against the sandbox's fake chat endpoint
(a faithful rewrite, one with a changed number, one with a number in words, an unknown model).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from pin2deal.briefing.pipeline import rewrite_or_keep
from pin2deal.briefing.rewrite import chat_answer, chat_request, judge, numbers
from pin2deal.briefing.rules import render
from pin2deal.hooks.llm import ChatCompletionsHook
from sandbox.llm import changed_number, faithful
from tests.briefing.briefing_worlds import World
from tests.briefing.test_briefing_rules import SETTINGS, quiet_facts

TEMPLATE = render(quiet_facts(), SETTINGS).markdown


def test_numbers_carry_their_unit():
    found = numbers("CAC $280 (28-day: $1,310.50), 12 leads, 38% lower, €45.00, CHF 1,200 on 30 Jun 2025")
    assert found == {
        ("$", Decimal(280)),
        ("$", Decimal("1310.50")),
        ("", Decimal(28)),
        ("", Decimal(12)),
        ("%", Decimal(38)),
        ("€", Decimal("45.00")),
        ("CHF", Decimal(1200)),
        ("", Decimal(30)),
        ("", Decimal(2025)),
    }


def test_guard_accepts_rewording_and_refuses_new_or_changed_numbers():
    assert judge(TEMPLATE, faithful(TEMPLATE)).accepted
    changed = judge(TEMPLATE, changed_number(TEMPLATE))
    assert not changed.accepted
    assert changed.reason == "the rewrite states numbers the facts do not: $57.50"  # $52.50 + 5
    assert not judge(TEMPLATE, TEMPLATE.replace("12 leads", "12 leads (12%)")).accepted  # same value, new unit
    assert not judge(TEMPLATE, TEMPLATE.replace("$280", "€280")).accepted  # same value, other currency
    assert judge(TEMPLATE, faithful(TEMPLATE) + "\nTwelve campaigns.").reason == (
        "the rewrite writes numbers in words (twelve)"
    )
    assert not judge(TEMPLATE, "  ").accepted
    assert judge(TEMPLATE, "Quiet day: CAC $280 for Spring 2025.").accepted  # shorter is fine


@pytest.fixture
def llm_endpoint(sandbox_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The sandbox's fake chat endpoint behind connection ``llm_test``; returns a function selecting the model."""
    import datetime as dt

    root = tmp_path / "world"
    World(dt.date(2025, 7, 1), [], []).dataset().save(root)
    server = sandbox_server(root, rate_limits=False)

    def use(model: str) -> str:
        connection = {
            "conn_type": "http",
            "host": f"{server.url}/_sandbox/llm",
            "password": "sk-test-secret",
            "extra": {"model": model},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LLM_TEST", json.dumps(connection))
        return server.url

    return use


def rewriter():
    hook = ChatCompletionsHook("llm_test")
    return lambda markdown: chat_answer(hook.complete(chat_request(markdown)))


def test_rewrite_over_http_is_kept_only_when_faithful(llm_endpoint):
    url = llm_endpoint("faithful")
    markdown, verdict = rewrite_or_keep(TEMPLATE, rewriter())
    assert verdict.accepted and markdown == faithful(TEMPLATE)
    sent = requests.get(f"{url}/_sandbox/llm/requests", timeout=10).json()["requests"][-1]
    assert sent["model"] == "faithful" and sent["messages"][-1]["content"] == TEMPLATE and sent["temperature"] == 0

    llm_endpoint("changed-number")
    markdown, verdict = rewrite_or_keep(TEMPLATE, rewriter())
    assert markdown == TEMPLATE and not verdict.accepted and "$57.50" in verdict.reason

    llm_endpoint("no-such-model")
    markdown, verdict = rewrite_or_keep(TEMPLATE, rewriter())
    assert markdown == TEMPLATE and verdict.reason.startswith("the rewrite failed: AirflowFailException")
    assert "400" in verdict.reason and "sk-test-secret" not in verdict.reason
