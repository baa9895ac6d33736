"""The promises every reliability scenario ends by checking, against the warehouse, the sandbox and Airflow.

``expected_from(dataset)`` derives what must hold from the dataset alone (never from pin2deal's code);
``check(...)`` returns every violation as a sentence (an empty list means all promises hold):

1. **Nothing lost**: raw counts equal the dataset's (deals, the contacts of those deals, Pinterest ad-days), each
   record once.
2. **Exactly one outcome per won deal**: every live won deal (with or without a won time) has exactly one
   ``ops.capi_ledger`` row under its event id, final (``sent``, ``failed`` or ``skipped``), and the ledger has no
   row outside the lineages of won deals.
3. **No sale reached Pinterest twice, judged by lineage**: the events the sandbox received, grouped by the lineage
   their deal belongs to now (``won_<alias>`` -> the alias's stable key in ``raw.hubspot_deal_ids``: a deal merged
   into another, a CRM predecessor), carry one event id per lineage, and the ledger has at most one ``sent`` or
   ``in_flight`` event per lineage (``order_id`` is no judge: it is the key of the day, and a merge changes it);
   an event id arrived more than once only when the ledger flags it ``possible_repeat`` (a re-send after an
   unknown outcome), every event received is ``sent`` in the ledger and every ``sent`` row was received. These are
   the checkouts' promises; a lineage also has at most one ``lead`` sent or in flight.
4. **No leak**: no token, refresh token or client secret, and no e-mail address or phone number of the dataset,
   in the task logs, XCom values, rendered templates, DAG run confs, exceptions or the warehouse's ops tables.

``dag.test()`` runs each task in the test process and writes **no task log files** (the Airflow home holds only
``airflow.db`` afterwards): its task logs, tracebacks included, go to the process's stdout/stderr, which the suite
captures at file-descriptor level (``capfd``). Log files under ``$AIRFLOW_HOME/logs`` are scanned too when a
scenario runs tasks in worker processes that write them, and so is any subprocess's output the scenario passes in.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import psycopg

from sandbox.dataset import Dataset

FINAL_STATES = {"sent", "failed", "skipped"}
_EMAIL_CHAR = r"[^\s\"'<>(),;:\[\]{}\\]"
_LOCAL_PART = re.compile(rf"{_EMAIL_CHAR}+$")
_DOMAIN = re.compile(rf"{_EMAIL_CHAR}+")
MAX_EMAIL_CHARS = 254
_PHONE_TOKEN = re.compile(r"\+?\d[\d ().\-]{6,}\d")
MIN_PHONE_DIGITS = 9  # shorter digit runs are ids and dates, not phone numbers


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


@dataclass
class Expected:
    """What the dataset says the pipeline must end with."""

    deal_ids: set[int]
    contact_ids: set[int]
    ad_days: set[tuple[str, str]]
    won_deal_ids: set[int]
    secrets: set[str]
    emails: set[str]  # lower-cased and trimmed
    phone_digits: set[str]  # digits of the raw numbers and of their E.164 forms
    # deals that need not have a ledger row even if won by the dataset's rule (a case table says why)
    won_exempt: set[int] = field(default_factory=set)


def won_stages(dataset: Dataset) -> set[tuple[str, str]]:
    """(pipeline, stage) pairs HubSpot's metadata marks closed-won: closed, probability 1."""
    return {
        (pipeline["id"], stage["id"])
        for pipeline in dataset.pipelines["results"]
        for stage in pipeline["stages"]
        if str(stage["metadata"].get("isClosed")).lower() == "true"
        and float(stage["metadata"].get("probability") or 0) == 1.0
    }


def expected_from(dataset: Dataset, *, extra_secrets: Iterable[str] = ()) -> Expected:
    from sandbox.pinterest.world import CONFIG_DEFAULTS

    won = won_stages(dataset)
    contact_ids = {int(c["id"]) for c in dataset.contacts}
    linked = {int(c) for d in dataset.deals for c in d.get("associations", {}).get("contacts", [])}
    won_deals = set()
    for deal in dataset.deals:
        props = deal["properties"]
        stage = (props.get("pipeline"), props.get("dealstage"))
        if not deal.get("archived") and stage in won:  # a won deal without a won time is explained too
            won_deals.add(int(deal["id"]))
    config = {**CONFIG_DEFAULTS, **dataset.config}
    secrets = {
        config[key]
        for key in ("hubspot_token", "pinterest_ads_token", "pinterest_conversions_token",
                    "pinterest_client_secret", "pinterest_refresh_token")
    } | set(extra_secrets)  # fmt: skip
    emails, phones = set(), set()
    for contact in dataset.contacts:
        props = contact["properties"]
        for name in ("email", "hs_additional_emails"):
            for email in str(props.get(name) or "").split(";"):
                if "@" in email:
                    emails.add(email.strip().lower())
        for name in ("phone", "mobilephone"):
            raw = props.get(name)
            if not isinstance(raw, str):
                continue
            if len(_digits(raw)) >= MIN_PHONE_DIGITS:
                phones.add(_digits(raw))
            try:
                number = phonenumbers.parse(raw, "US")
                phones.add(_digits(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)))
            except phonenumbers.NumberParseException:
                pass
    return Expected(
        deal_ids={int(d["id"]) for d in dataset.deals},
        contact_ids=linked & contact_ids,
        ad_days={(row["AD_ID"], row["DATE"]) for row in dataset.analytics},
        won_deal_ids=won_deals,
        secrets={secret for secret in secrets if secret},
        emails=emails,
        phone_digits={digits for digits in phones if len(digits) >= MIN_PHONE_DIGITS},
    )


# --- 1. nothing lost -----------------------------------------------------------------------------------------------
def check_raw_counts(conn: psycopg.Connection, expected: Expected) -> list[str]:
    problems = []
    deals = [row[0] for row in conn.execute("SELECT deal_id FROM raw.hubspot_deals")]
    contacts = [row[0] for row in conn.execute("SELECT contact_id FROM raw.hubspot_contacts")]
    ad_days = [(row[0], row[1].isoformat()) for row in conn.execute("SELECT ad_id, date FROM raw.pinterest_ad_daily")]
    for name, rows, wanted in (
        ("raw.hubspot_deals", deals, expected.deal_ids),
        ("raw.hubspot_contacts", contacts, expected.contact_ids),
        ("raw.pinterest_ad_daily (ad, day)", ad_days, expected.ad_days),
    ):
        loaded = set(rows)
        if len(rows) != len(loaded):  # the primary keys forbid it; said anyway, should a key ever change
            problems.append(f"{name}: {len(rows) - len(loaded)} duplicate rows")
        if loaded != wanted:
            problems.append(
                f"{name}: {len(loaded)} loaded, dataset has {len(wanted)}; missing {sorted(wanted - loaded)[:5]}, "
                f"unexpected {sorted(loaded - wanted)[:5]}"
            )
    return problems


# --- 2 and 3. one outcome per won deal, no double conversion -------------------------------------------------------
def received_events(sandbox_url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{sandbox_url}/_sandbox/events", timeout=30).json()["events"]


def check_conversions(conn: psycopg.Connection, expected: Expected, events: list[dict[str, Any]]) -> list[str]:
    problems = []
    # alias ('hubspot:<id>', 'legacy:<id>') -> the stable key of the lineage it belongs to now
    lineage_of = dict(conn.execute("SELECT alias_id, stable_key FROM raw.hubspot_deal_ids").fetchall())
    leads = conn.execute(
        "SELECT lineage_key, array_agg(event_id) FROM ops.capi_lineage_ledger "
        "WHERE event_kind = 'lead' AND state IN ('sent', 'in_flight') GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    problems += [f"lineage {lineage}: {len(ids)} leads sent or in flight: {sorted(ids)}" for lineage, ids in leads]
    events = [event for event in events if event["event"]["event_name"] == "checkout"]
    ledger = conn.execute(
        "SELECT event_id, stable_key, state, possible_repeat FROM ops.capi_ledger WHERE event_kind = 'checkout'"
    ).fetchall()
    state = {row[0]: row for row in ledger}
    by_lineage: dict[str, list[tuple]] = defaultdict(list)
    for row in ledger:
        by_lineage[lineage_of.get(row[1], row[1])].append(row)
    wanted, exempt = set(), set()
    for deal_id in sorted(expected.won_deal_ids | expected.won_exempt):
        key = lineage_of.get(f"hubspot:{deal_id}")
        if deal_id in expected.won_exempt:
            exempt.add(key)
            continue
        if key is None:
            problems.append(f"won deal {deal_id}: no stable key in raw.hubspot_deal_ids (deal lost)")
            continue
        wanted.add(key)
        row = state.get(f"won_{key}")
        if row is None:
            problems.append(f"won deal {deal_id} (key {key}): no ledger outcome under won_{key}")
        elif row[2] not in FINAL_STATES:
            problems.append(f"won deal {deal_id} (key {key}): ledger state {row[2]}, not final")
    for lineage, rows in by_lineage.items():
        if lineage not in wanted | exempt:
            problems.append(f"ledger rows {[row[0] for row in rows]} in lineage {lineage}, not a won deal's")
        reported = [row[0] for row in rows if row[2] in ("sent", "in_flight")]
        if len(reported) > 1:
            problems.append(f"lineage {lineage}: {len(reported)} events sent or in flight in the ledger: {reported}")

    ids_per_lineage: dict[str, set[str]] = defaultdict(set)
    for event in events:
        alias = str(event["event_id"]).removeprefix("won_")
        ids_per_lineage[lineage_of.get(alias, f"unknown alias {alias}")].add(event["event_id"])
    for lineage, event_ids in ids_per_lineage.items():
        if len(event_ids) > 1:
            problems.append(f"sale {lineage} reached Pinterest under {len(event_ids)} event ids: {sorted(event_ids)}")
    for event_id, count in Counter(event["event_id"] for event in events).items():
        row = state.get(event_id)
        if row is None or row[2] != "sent":
            problems.append(f"event {event_id} reached Pinterest but the ledger says {row[2] if row else 'nothing'}")
        elif count > 1 and not row[3]:
            problems.append(f"event {event_id} reached Pinterest {count} times without a possible_repeat flag")
    received = {event["event_id"] for event in events}
    for event_id, _, status, _ in ledger:
        if status == "sent" and event_id not in received:
            problems.append(f"ledger says {event_id} was sent; Pinterest never received it")
    return problems


# --- 4. no leak -----------------------------------------------------------------------------------------------------
def airflow_texts() -> dict[str, str]:
    """Every place Airflow keeps what tasks said or returned: task log files, XCom, rendered templates, run confs."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    texts = log_file_texts(Path(os.environ["AIRFLOW_HOME"]) / "logs")
    with create_session() as session:
        for label, query in METADATA_QUERIES:
            for dag_id, task_id, run_id, key, value in session.execute(text(query)):
                texts[f"{label} {dag_id}.{task_id} {run_id} {key}".strip()] = str(value)
    return texts


METADATA_QUERIES = (
    ("xcom", "SELECT dag_id, task_id, run_id, key, value FROM xcom"),
    ("rendered", "SELECT dag_id, task_id, run_id, '', rendered_fields FROM rendered_task_instance_fields"),
    ("dag run conf", "SELECT dag_id, '', run_id, '', conf FROM dag_run"),
)


def log_file_texts(folder: Path, pattern: str = "**/*") -> dict[str, str]:
    """Every file under ``folder`` matching ``pattern``, by its path relative to ``folder``."""
    texts = {}
    if folder.exists():
        for path in sorted(folder.glob(pattern)):
            if path.is_file():
                texts[f"log file {path.relative_to(folder)}"] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def deployment_texts(home: Path, metadata_url: str) -> dict[str, str]:
    """``airflow_texts`` of a real deployment (scripts/airflow_local.py): the task log files its scheduler's task
    processes wrote under ``<home>/logs`` (Airflow's ``base_log_folder``), its components' own logs
    (``<home>/*.log``), and XCom, rendered templates and run confs from its metadata database."""
    texts = {**log_file_texts(home / "logs"), **log_file_texts(home, "*.log")}
    with psycopg.connect(metadata_url) as conn:
        for label, query in METADATA_QUERIES:
            for dag_id, task_id, run_id, key, value in conn.execute(query):
                texts[f"{label} {dag_id}.{task_id} {run_id} {key}".strip()] = str(value)
    return texts


def warehouse_texts(conn: psycopg.Connection) -> dict[str, str]:
    """The ops tables, which must hold neither secrets nor raw personal data (raw.* may hold the latter, and so may
    ``ops.capi_outbox``: the sender's inputs, normalised, hashed only when the event is built)."""
    texts = {}
    for (table,) in conn.execute(
        "SELECT schemaname || '.' || relname FROM pg_stat_user_tables "
        "WHERE schemaname = 'ops' AND relname <> 'capi_outbox' ORDER BY 1"
    ).fetchall():
        rows = conn.execute(f"SELECT t::text FROM {table} AS t").fetchall()
        texts[f"warehouse {table}"] = "\n".join(row[0] for row in rows)
    return texts


def _email_tokens(content: str):
    """Every ``local@domain`` around each ``@`` (linear in the text: a 10 MB value without ``@`` costs one scan)."""
    at = content.find("@")
    while at != -1:
        local = _LOCAL_PART.search(content, max(0, at - MAX_EMAIL_CHARS), at)
        domain = _DOMAIN.match(content, at + 1, at + 1 + MAX_EMAIL_CHARS)
        if local and domain:
            yield f"{local[0]}@{domain[0]}"
        at = content.find("@", at + 1)


MAX_XCOM_CHARS = 64 * 1024  # XCom carries counts and ids, never datasets


def find_leaks(texts: dict[str, str], expected: Expected) -> list[str]:
    """Secrets and personal data of the dataset in any text; and XCom values too big to be metadata."""
    problems = []
    for where, content in texts.items():
        if where.startswith("xcom ") and len(content) > MAX_XCOM_CHARS:
            problems.append(f"{where}: a {len(content)}-character XCom value (metadata only, at most {MAX_XCOM_CHARS})")
        for secret in expected.secrets:
            if secret in content:
                problems.append(f"{where}: contains a secret ({secret[:6]}...)")
        for token in _email_tokens(content):
            if token.strip(".").lower() in expected.emails:
                problems.append(f"{where}: contains an e-mail address of the dataset ({token[:3]}...)")
        for token in _PHONE_TOKEN.findall(content):
            if _digits(token) in expected.phone_digits:
                problems.append(f"{where}: contains a phone number of the dataset ({token[:4]}...)")
    return problems


def check(
    conn: psycopg.Connection,
    expected: Expected,
    *,
    sandbox_url: str | None,
    captured: str,
    conversions: bool,
    extra_texts: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Every promise at once; ``conversions`` when the scenario ran the reconcile and the conversions sender.
    Returns the violations and the texts scanned for leaks (where -> content)."""
    problems = check_raw_counts(conn, expected)
    if conversions:
        problems += check_conversions(conn, expected, received_events(sandbox_url))
    texts = {"captured task output": captured, **airflow_texts(), **warehouse_texts(conn), **(extra_texts or {})}
    return problems + find_leaks(texts, expected), texts
