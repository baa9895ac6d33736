"""The reconcile's bookkeeping around its SQL: what to rebuild (plan), the CSV drop of other channels' spend, and
the run's record (finish). The rules themselves are SQL, in include/sql/reconcile/."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

from pin2deal.hooks.warehouse import copy_upsert, replace_record_issues
from pin2deal.paths import SQL_DIR
from pin2deal.reconcile.channel_spend import ISSUE_SOURCE, parse_channel_spend

log = logging.getLogger(__name__)

RECONCILE_DIR = SQL_DIR / "reconcile"
# The rule files, in the order they are (re)defined: views and functions that later ones and the build steps use.
RULE_FILES = (
    "periods.sql", "cac.sql", "roas.sql", "forecast.sql", "counted.sql", "won.sql", "lead.sql", "touch.sql",
    "channel.sql", "resolution.sql", "contributions.sql", "channel_contributions.sql", "time_to_close.sql",
)  # fmt: skip
CHANNEL_SPEND_COLUMNS = ("channel", "campaign", "day", "spend", "currency", "source_file", "source_line")

ENTITIES_CHANGED = "Pinterest entities or names changed"
# Why a run rebuilds everything instead of applying what changed: (reason, SQL that is true when it applies).
# %(since)s is the previous run's watermark; %(previous_start)s is when the previous run planned (entity names are
# remembered by the reconcile itself, just before it plans).
FULL_REBUILD_TRIGGERS = (
    ("pipeline stages changed", "SELECT EXISTS (SELECT FROM raw.hubspot_pipeline_stages WHERE loaded_at >= %(since)s)"),
    ("ad accounts changed", "SELECT EXISTS (SELECT FROM raw.pinterest_ad_accounts WHERE loaded_at >= %(since)s)"),
    (
        ENTITIES_CHANGED,
        "SELECT EXISTS (SELECT FROM ops.pinterest_entity_names WHERE first_seen_at > %(previous_start)s)",
    ),
)
# Every Pinterest entity's name and place, as one checksum: a changed name (even only its case) must reach every row.
ENTITIES_CHECKSUM_SQL = (
    "SELECT md5(string_agg(entity::text, E'\\n' ORDER BY grain, grain_id)) FROM mart.pinterest_entity AS entity"
)
# The safe watermark: no uncommitted write to this database older than it (a load's rows carry their transaction's
# start time, and become visible only when it commits).
WATERMARK_SQL = """
SELECT LEAST(statement_timestamp(), (
    SELECT min(xact_start) FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
))
"""


def rules_checksum(directory: Path = RECONCILE_DIR) -> str:
    """sha256 of every reconcile SQL file: a rule changed since the last run means a full rebuild."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def plan_reconcile(conn: Connection, run_id: str, *, full_rebuild: bool, home_currency: str) -> dict[str, Any]:
    """Decide full rebuild or incremental, record it in ``ops.reconcile_runs`` and return it (small XCom).

    Incremental works from what changed in raw since the last finished run's watermark (``loaded_at``) and writes
    the published generation of the marts (in publish_marts' one transaction); a full rebuild is needed when a rule,
    the home currency, the stage metadata, the ad accounts or the entities' names changed (they can change any
    deal's decision), when asked, on the first run, when nothing is published, or after a full rebuild that did not
    finish, and it writes a new, empty generation that nobody reads until publish_marts publishes it.
    """
    checksum = rules_checksum()
    entities = conn.execute(ENTITIES_CHECKSUM_SQL).fetchone()[0]
    previous = conn.execute(
        "SELECT watermark, rules_checksum, home_currency, started_at, entities_checksum FROM ops.reconcile_runs "
        "WHERE finished_at IS NOT NULL AND run_id <> %s ORDER BY finished_at DESC LIMIT 1",
        (run_id,),
    ).fetchone()
    watermark = conn.execute(WATERMARK_SQL).fetchone()[0]
    published = conn.execute("SELECT generation FROM ops.mart_publication").fetchone()
    reason = None
    if full_rebuild:
        reason = "requested"
    elif previous is None:
        reason = "first run"
    elif published is None:
        reason = "nothing is published"
    else:
        since, last_checksum, last_currency, last_started, last_entities = previous
        unfinished_full = conn.execute(
            "SELECT EXISTS (SELECT FROM ops.reconcile_runs WHERE finished_at IS NULL AND mode = 'full' "
            "AND run_id <> %s AND started_at > %s)",
            (run_id, last_started),
        ).fetchone()[0]
        if last_checksum != checksum:
            reason = "reconcile rules changed"
        elif last_currency != home_currency:
            reason = "home currency changed"
        elif unfinished_full:
            reason = "a full rebuild did not finish"
        elif last_entities != entities:  # a name on screen (the resolution's known names are a trigger below)
            reason = ENTITIES_CHANGED
        else:
            for trigger, query in FULL_REBUILD_TRIGGERS:
                if conn.execute(query, {"since": since, "previous_start": last_started}).fetchone()[0]:
                    reason = trigger
                    break
    mode = "incremental" if reason is None else "full"
    since = previous[0] if mode == "incremental" else dt.datetime.min.replace(tzinfo=dt.UTC)
    reason = reason or f"changes loaded since {since.isoformat()}"
    if mode == "full":
        generation = conn.execute("SELECT nextval('ops.mart_generations')").fetchone()[0]
        conn.execute("SELECT mart.create_generation(%s)", (generation,))
    else:
        generation = published[0]
    conn.execute(
        """INSERT INTO ops.reconcile_runs (run_id, mode, reason, since, watermark, rules_checksum, home_currency,
               entities_checksum, generation)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (run_id) DO UPDATE SET mode = EXCLUDED.mode, reason = EXCLUDED.reason, since = EXCLUDED.since,
               watermark = EXCLUDED.watermark, rules_checksum = EXCLUDED.rules_checksum,
               home_currency = EXCLUDED.home_currency, entities_checksum = EXCLUDED.entities_checksum,
               generation = EXCLUDED.generation, started_at = now(), finished_at = NULL, published_at = NULL""",
        (run_id, mode, reason, since, watermark, checksum, home_currency, entities, generation),
    )
    log.info("Reconcile %s: %s (%s), generation %s", run_id, mode, reason, generation)
    return {"mode": mode, "reason": reason, "since": since.isoformat(), "generation": generation}


def finish_reconcile(conn: Connection, run_id: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Record the run as finished (its watermark becomes the next run's ``since``) with its warnings."""
    warnings = sum(check["count"] for check in checks)
    row = conn.execute(
        "UPDATE ops.reconcile_runs SET finished_at = now(), warnings = %s, checks = %s WHERE run_id = %s "
        "RETURNING mode, reason, deals_changed, generation, published_at",
        (warnings, Jsonb(checks), run_id),
    ).fetchone()
    if row is None:
        raise RuntimeError(f"reconcile run {run_id} was never planned (ops.reconcile_runs has no row)")
    mode, reason, deals_changed, generation, published_at = row
    if published_at is None:
        raise RuntimeError(f"reconcile run {run_id} never published its marts (publish_marts did not commit)")
    deals = conn.execute("SELECT deals FROM ops.mart_publication").fetchone()[0]
    return {
        "mode": mode,
        "reason": reason,
        "deals_changed": deals_changed,
        "generation": generation,
        "deals": deals,
        "warnings": warnings,
        "warning_checks": {check["check"]: check["count"] for check in checks if check["count"]},
    }


def load_channel_spend_files(conn: Connection, folder: Path, run_id: str | None = None) -> dict[str, int]:
    """Load every CSV file of ``folder`` not loaded before (by content hash), each in its own transaction.

    Valid lines are upserted into ``raw.channel_spend`` (a later file's line replaces an earlier one for the same
    channel, campaign and day); bad lines go to ``ops.record_issues`` as ``<file>:<line>``. Re-running loads nothing.
    """
    totals = {"files": 0, "rows": 0, "rejected": 0, "skipped": 0}
    if not folder.is_dir():
        log.warning("Channel spend folder %s does not exist: nothing to load", folder)
        return totals
    for path in sorted(folder.glob("*.csv")):
        content = path.read_bytes()
        sha256 = hashlib.sha256(content).hexdigest()
        with conn.transaction():
            if conn.execute("SELECT 1 FROM ops.channel_spend_files WHERE sha256 = %s FOR UPDATE", (sha256,)).fetchone():
                totals["skipped"] += 1
                continue
            parsed = parse_channel_spend(content.decode("utf-8", errors="replace"), path.name)
            copy_upsert(
                conn, "raw.channel_spend", CHANNEL_SPEND_COLUMNS, parsed.rows, ("channel", "campaign", "day"),
                extra_updates="loaded_at = now()",
            )  # fmt: skip
            keys = {key for key, *_ in parsed.issues}
            replace_record_issues(conn, ISSUE_SOURCE, keys, parsed.issues, run_id)
            conn.execute(
                "INSERT INTO ops.channel_spend_files (sha256, file_name, lines, loaded, rejected, run_id) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (sha256, path.name, parsed.lines, len(parsed.rows), parsed.rejected, run_id),
            )
        for key, field, reason, raw in parsed.issues:
            log.warning("%s: %s %s (%r)", key, field, reason, raw)
        totals["files"] += 1
        totals["rows"] += len(parsed.rows)
        totals["rejected"] += parsed.rejected
    return totals
