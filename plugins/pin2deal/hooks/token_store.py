"""Durable OAuth tokens: one ``ops.oauth_tokens`` row per connection, Fernet-encrypted, rotated under a lock.

Why: in a deployment every task, and every poke of a sensor in reschedule mode, is a new process. A token refreshed
in one process' memory is refreshed again by the next, and the refresh token Pinterest rotates on every refresh
(the old one stops working) would be thrown away with the process. The row is where every worker reads the current
pair; a refresh happens inside a transaction holding a per-connection advisory lock, so concurrent workers that
meet the same expired token refresh once and the others adopt the result.

Key: ``PIN2DEAL_TOKEN_KEY``, else Airflow's ``[core] fernet_key`` (``AIRFLOW__CORE__FERNET_KEY``); either may list
several comma-separated Fernet keys, the first encrypts and any decrypts (rotate by prepending a new key).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
from collections.abc import Generator
from dataclasses import dataclass

from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowFailException
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from psycopg import Connection

from pin2deal.hooks.warehouse import WarehouseHook

TOKEN_KEY_ENV = "PIN2DEAL_TOKEN_KEY"
READ = "SELECT access_token, refresh_token, configured_digest FROM ops.oauth_tokens WHERE conn_id = %s"
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('pin2deal.oauth_tokens:' || %s, 0))"
SAVE = """
INSERT INTO ops.oauth_tokens AS stored (conn_id, access_token, refresh_token, configured_digest, expires_at,
                                        refresh_expires_at, refreshed_at, refreshed_by_run_id)
VALUES (%(conn_id)s, %(access_token)s, %(refresh_token)s, %(digest)s, %(expires_at)s, %(refresh_expires_at)s, now(),
        %(run_id)s)
ON CONFLICT (conn_id) DO UPDATE SET
    access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,
    configured_digest = EXCLUDED.configured_digest, expires_at = EXCLUDED.expires_at,
    refresh_expires_at = EXCLUDED.refresh_expires_at, refreshed_at = now(),
    refreshed_by_run_id = EXCLUDED.refreshed_by_run_id
"""


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str
    refresh_token: str | None


def token_cipher() -> MultiFernet | None:
    """The Fernet keys tokens are encrypted with, or None when neither setting has one."""
    keys = os.environ.get(TOKEN_KEY_ENV) or conf.get("core", "fernet_key", fallback="") or ""
    # The task SDK returns the config template's placeholder ("{FERNET_KEY}") when the key is unset.
    found = [key.strip() for key in keys.split(",") if key.strip() and not key.strip().startswith("{")]
    if not found:
        return None
    try:
        return MultiFernet([Fernet(key) for key in found])
    except ValueError as error:
        raise AirflowFailException(
            f"{TOKEN_KEY_ENV} / [core] fernet_key is not a valid Fernet key ({error}); generate one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None


def digest(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()


class OAuthTokenStore:
    """The stored tokens of one connection (``conn_id``) in the warehouse of ``warehouse_conn_id``.

    ``configured`` identifies what the connection carries (its API address and refresh token): a row written from
    another configuration is stale (the app was authorised again, or the connection points elsewhere) and ignored.
    """

    def __init__(self, conn_id: str, configured: str, warehouse_conn_id: str) -> None:
        self.conn_id = conn_id
        self.configured_digest = digest(configured)
        self.warehouse_conn_id = warehouse_conn_id
        self.cipher = token_cipher()

    def require_cipher(self) -> MultiFernet:
        """The cipher; without one a rotated refresh token could not be kept, so refreshing would lose it."""
        if self.cipher is None:
            raise AirflowFailException(
                f"connection {self.conn_id!r} refreshes its OAuth token, and Pinterest replaces the refresh token on "
                f"every refresh: set {TOKEN_KEY_ENV} or Airflow's [core] fernet_key (the same on every worker) so "
                "the new tokens can be stored encrypted in ops.oauth_tokens (docs/pinterest.md)"
            )
        return self.cipher

    @contextlib.contextmanager
    def _connection(self) -> Generator[Connection]:
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            yield conn

    def _decode(self, row: tuple | None) -> OAuthTokens | None:
        if row is None:
            return None
        access, refresh, configured = row
        if configured != self.configured_digest:
            return None
        cipher = self.require_cipher()
        try:
            return OAuthTokens(
                cipher.decrypt(bytes(access)).decode(), cipher.decrypt(bytes(refresh)).decode() if refresh else None
            )
        except InvalidToken:
            raise AirflowFailException(
                f"ops.oauth_tokens holds tokens of connection {self.conn_id!r} that the configured key cannot "
                f"decrypt: set the key they were written with ({TOKEN_KEY_ENV} or [core] fernet_key; several may "
                "be listed, comma-separated), or delete the row and give the connection a fresh token pair"
            ) from None

    def read(self) -> OAuthTokens | None:
        """The stored tokens (no lock: a reader that gets a token being replaced meets a 401 and adopts the new one)."""
        with self._connection() as conn:
            return self._decode(conn.execute(READ, (self.conn_id,)).fetchone())

    @contextlib.contextmanager
    def locked(self) -> Generator[LockedTokens]:
        """A transaction holding the connection's refresh lock: yields the stored tokens as they are now, and
        ``save`` to replace them; commits when the block ends."""
        cipher = self.require_cipher()
        with self._connection() as conn, conn.transaction():
            conn.execute(LOCK, (self.conn_id,))
            yield LockedTokens(self, conn, cipher, self._decode(conn.execute(READ, (self.conn_id,)).fetchone()))


@dataclass
class LockedTokens:
    store: OAuthTokenStore
    conn: Connection
    cipher: MultiFernet
    current: OAuthTokens | None

    def save(self, tokens: OAuthTokens, *, expires_in: float | None, refresh_expires_in: float | None) -> None:
        now = dt.datetime.now(dt.UTC)
        self.conn.execute(
            SAVE,
            {
                "conn_id": self.store.conn_id,
                "access_token": self.cipher.encrypt(tokens.access_token.encode()),
                "refresh_token": self.cipher.encrypt(tokens.refresh_token.encode()) if tokens.refresh_token else None,
                "digest": self.store.configured_digest,
                "expires_at": now + dt.timedelta(seconds=expires_in) if expires_in else None,
                "refresh_expires_at": now + dt.timedelta(seconds=refresh_expires_in) if refresh_expires_in else None,
                "run_id": os.environ.get("AIRFLOW_CTX_DAG_RUN_ID"),
            },
        )
        self.current = tokens
