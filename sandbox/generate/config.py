"""Who the generated world belongs to (currency, timezone, shop site) and its ``config.json``: the tokens and ids
a client of the sandbox is given.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from typing import Any

from sandbox.generate.portal import PROPERTIES

HOME_CURRENCY = "USD"
TIMEZONE = "America/New_York"
SITE = "https://shop.northwind.example"


def _config(rng: random.Random, today: dt.date, account_id: str) -> dict[str, Any]:
    hexes = [16**n for n in (8, 4, 4, 4, 12)]
    uuid = "-".join(f"{rng.randrange(size):0{len(hex(size)) - 3}x}" for size in hexes)
    alphabet = string.ascii_uppercase + "234567"

    def pinterest_token() -> str:
        return "pina_" + "".join(rng.choices(alphabet, k=96))

    return {
        "hubspot_token": f"pat-na1-{uuid}",
        "pinterest_ads_token": pinterest_token(),
        "pinterest_conversions_token": pinterest_token(),
        "ad_account_id": account_id,
        "currency": HOME_CURRENCY,
        "timezone": TIMEZONE,
        "today": today.isoformat(),
        "properties": dict(PROPERTIES),
    }
