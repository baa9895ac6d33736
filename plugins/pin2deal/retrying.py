"""One retry policy for every API call (tenacity inside a task; Airflow's retries outside it)."""

from __future__ import annotations

import logging

from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)


class TransientAPIError(Exception):
    """A failure worth retrying (429, 5xx, dropped connection, timeout); ``retry_after`` is the server's wish."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetryAfterTooLong(RuntimeError):
    """The server asked us to come back later than a task should sleep (e.g. a daily budget spent)."""


def api_retrying(
    *,
    attempts: int = 6,
    initial_wait: float = 1.0,
    max_wait: float = 60.0,
    max_retry_after: float = 300.0,
) -> Retrying:
    """Retry ``TransientAPIError`` with exponential jitter, or exactly ``Retry-After`` when the server sent one.

    A ``Retry-After`` beyond ``max_retry_after`` raises ``RetryAfterTooLong`` at once, naming the wait, instead of
    holding a worker slot for hours; Airflow's own retries (or the next schedule) take over from there.
    """
    backoff = wait_exponential_jitter(multiplier=initial_wait, max=max_wait)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return backoff(state)
        if retry_after > max_retry_after:
            raise RetryAfterTooLong(
                f"{error}: the server asks to retry in {retry_after:.0f} s, more than the {max_retry_after:.0f} s a "
                "task waits; failing now so Airflow's retry or the next run picks it up"
            ) from error
        return retry_after

    return Retrying(
        retry=retry_if_exception_type(TransientAPIError),
        wait=wait,
        stop=stop_after_attempt(attempts),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
