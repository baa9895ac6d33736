"""Weighted draws from the knobs' weight tables, shared by the Pinterest and HubSpot generators."""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Any


class _Weighted:
    """A weighted choice among a dict's keys (cumulative weights computed once, not per draw)."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.keys = list(weights)
        self.cum = list(itertools.accumulate(weights.values()))

    def __call__(self, rng: random.Random) -> Any:
        return self.keys[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]
