"""Generations of the marts that nobody can read any more are dropped (migration 050, docs/reconcile.md).

A generation other than the published one (and the staging generation 0) was either never published (a rebuild
that failed its checks or was retried) or published before the current one. Readers whose snapshot predates the
latest publication may still be reading it, so nothing is dropped while such a snapshot exists; and it is detached
``CONCURRENTLY``, which never blocks readers of the other generations. A generation that cannot be dropped now is
dropped by a later run."""

from __future__ import annotations

import logging
import re

from psycopg import Connection, Error, errors, sql

log = logging.getLogger(__name__)

PARTITION = re.compile(r"^(?P<mart>[a-z_]+)_g(?P<generation>\d+)$")
# Partitions of the marts' generation tables (a detach left half done is finished first).
PARTITIONS_SQL = """
SELECT parent.relname, child.relname, link.inhdetachpending
FROM pg_inherits AS link
JOIN pg_class AS parent ON parent.oid = link.inhparent
JOIN pg_class AS child ON child.oid = link.inhrelid
WHERE parent.relnamespace = 'mart'::regnamespace AND parent.relname LIKE '%\\_generations'
ORDER BY link.inhdetachpending DESC, child.relname
"""
# True when another session of this database holds a snapshot taken before the latest publication committed (it
# may still read the generation that publication replaced).
OLDER_SNAPSHOTS_SQL = """
SELECT EXISTS (
    SELECT FROM pg_stat_activity, ops.mart_publication AS publication
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL
      AND publication.published_xid IS NOT NULL AND age(backend_xmin) >= age(publication.published_xid)
)
"""
LOCK_TIMEOUT = "5s"  # a reader still holding a generation's lock: leave it to a later run


def drop_unread_generations(conn: Connection) -> list[str]:
    """Detach and drop every partition of an unpublished generation nobody can read; returns the dropped ones.

    ``conn`` must be in autocommit mode (``DETACH PARTITION CONCURRENTLY`` cannot run in a transaction)."""
    published = conn.execute("SELECT generation FROM ops.mart_publication").fetchone()
    if published is None or conn.execute(OLDER_SNAPSHOTS_SQL).fetchone()[0]:
        return []
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    dropped = []
    try:
        for parent, child, detaching in conn.execute(PARTITIONS_SQL).fetchall():
            match = PARTITION.match(child)
            if not match or int(match["generation"]) in (0, published[0]):
                continue
            names = sql.Identifier("mart", parent), sql.Identifier("mart", child)
            try:
                mode = sql.SQL("FINALIZE" if detaching else "CONCURRENTLY")
                conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {} {}").format(*names, mode))
                conn.execute(sql.SQL("DROP TABLE {}").format(names[1]))
            except errors.LockNotAvailable:
                log.info("Generation partition mart.%s is still in use: a later run drops it", child)
                continue
            except Error as error:  # dropping what nobody reads never fails the reconcile
                log.warning("Generation partition mart.%s not dropped (a later run tries again): %s", child, error)
                continue
            dropped.append(f"mart.{child}")
    finally:
        conn.execute("RESET lock_timeout")
    if dropped:
        log.info("Dropped unread generations: %s", ", ".join(dropped))
    return dropped
