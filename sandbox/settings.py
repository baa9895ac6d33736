"""Options of one sandbox server: its world, its clock, its limits and the faults it injects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class HubSpotLimits:
    """HubSpot's budgets: a rolling 10-second window per private app and a per-second search budget."""

    per_ten_seconds: int = 190
    search_per_second: int = 5
    daily: int = 1_000_000


@dataclass
class PinterestLimits:
    """Pinterest's per-user-per-app budgets per minute, by the spec's ``x-ratelimit-category``."""

    per_minute: dict[str, int] = field(
        default_factory=lambda: {"ads_analytics": 300, "ads_read": 1000, "ads_write": 400, "ads_conversions": 5000}
    )
    default_per_minute: int = 1000


@dataclass
class FaultRates:
    """Seeded, deterministic faults; every rate is a probability per request (0 disables it)."""

    server_error: float = 0.0
    rate_limit_burst: float = 0.0
    burst_length: int = 3
    retry_after_seconds: int = 1
    drop_connection: float = 0.0
    hang: float = 0.0
    hang_seconds: float = 120.0
    latency_ms: float = 0.0


@dataclass
class SandboxSettings:
    data_dir: Path
    seed: int = 7
    today: dt.date | None = None
    rate_limits: bool = True
    # Seconds before HubSpot's search shows a changed deal or contact (its index lags writes); 0: at once.
    search_index_lag: float = 0.0
    hubspot: HubSpotLimits = field(default_factory=HubSpotLimits)
    pinterest: PinterestLimits = field(default_factory=PinterestLimits)
    faults: FaultRates = field(default_factory=FaultRates)
