"""The client-side budget and the shared retry policy."""

from __future__ import annotations

import pytest

from pin2deal.rate_limit import RateLimiter
from pin2deal.retrying import RetryAfterTooLong, TransientAPIError, api_retrying


class FakeClock:
    """A clock the limiter's sleeps advance, so the test measures the schedule, not the wall."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_spaces_calls_to_the_rolling_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(7):
        limiter.acquire()
        starts.append(clock.now)
    assert starts == [0, 0, 0, 10, 10, 10, 20]


def test_rate_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10)


def test_retrying_honours_retry_after_then_succeeds() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientAPIError("429", status=429, retry_after=0.01)
        return "ok"

    assert api_retrying(attempts=5)(flaky) == "ok"
    assert len(calls) == 3


def test_retrying_gives_up_after_attempts_and_reraises() -> None:
    def always() -> None:
        raise TransientAPIError("503", status=503, retry_after=0.0)

    with pytest.raises(TransientAPIError, match="503"):
        api_retrying(attempts=2)(always)


def test_retry_after_hours_away_fails_fast_with_clear_message() -> None:
    def daily_limit() -> None:
        raise TransientAPIError("429 DAILY", status=429, retry_after=6 * 3600)

    with pytest.raises(RetryAfterTooLong, match="21600 s"):
        api_retrying(max_retry_after=300)(daily_limit)


def test_non_transient_errors_are_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        api_retrying()(broken)
    assert calls == [1]
