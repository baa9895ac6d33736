"""Emulator of the Pinterest API v5 operations pin2deal uses (ads reporting, Conversions API, OAuth refresh).

``install(app, sandbox)`` builds the Pinterest world from the dataset (``PinterestWorld``, kept on
``app.state.pinterest``) and adds:

| operation | path | rate-limit category |
| --- | --- | --- |
| ad_accounts/get | GET /v5/ad_accounts/{ad_account_id} | ads_read |
| campaigns/list, ad_groups/list, ads/list | GET /v5/ad_accounts/{id}/campaigns, /ad_groups, /ads | ads_read |
| ad_account/analytics | GET /v5/ad_accounts/{id}/analytics | ads_analytics |
| campaigns/, ad_groups/, ads/analytics | GET /v5/ad_accounts/{id}/campaigns/analytics ... | ads_analytics |
| analytics/create_report, analytics/get_report | POST, GET /v5/ad_accounts/{id}/reports | ads_analytics |
| metrics_ready_state/get | GET /v5/resources/metrics_ready_state | ads_analytics |
| events/create | POST /v5/ad_accounts/{id}/events | ads_conversions (not counted with the conversion token) |
| conversion_eqs/list | GET /v5/ad_accounts/{id}/conversion_eqs (computed from the events received) | ads_read |
| oauth/token | POST /v5/oauth/token (grant_type=refresh_token) | org_read |

and the sandbox's own paths (no auth, no faults):

- ``POST /_sandbox/pinterest/expire-token`` -> ``{"expired_tokens": n}``: every ads access token in use now gets 401;
- ``POST /_sandbox/pinterest/restate`` with ``{"ad_id", "date": "YYYY-MM-DD", "metrics": {COLUMN: number >= 0}}``
  -> ``{"ad_id", "date", "metrics"}``: replaces those final metrics of the ad's day (creates the day if needed);
- ``POST /_sandbox/pinterest/answer-fault`` with ``{"kind": "empty"|"null"|"truncate"|null, "answers": n,
  "keep": share}``: the next ``n`` sync analytics answers and report files (0: all until cleared with kind null)
  come back empty, ``null`` or truncated to their first ``keep`` share of rows, with a 200;
- ``POST /_sandbox/pinterest/eqs-fault`` with ``{"kind": "unknown_status"|null, "answers": n}``: the next ``n``
  ``conversion_eqs`` answers (0: all until cleared) give their first object a rating outside the spec's enum;
- ``GET /_sandbox/events`` -> ``{"events": [{"ad_account_id", "event_id", "event_name", "event_time",
  "deduplicated", "received_at", "event"}]}``: accepted CAPI events in arrival order (test requests excluded);
- ``GET /_sandbox/pinterest/reports/{token}/metrics_report.{json,csv}``: a FINISHED report's file (the ``url``).

Config keys read (``config.json``): ``ad_account_id``, ``currency``, ``pinterest_ads_token``,
``pinterest_conversions_token``; optional, with defaults in ``world.CONFIG_DEFAULTS``: ``pinterest_client_id``,
``pinterest_client_secret``, ``pinterest_refresh_token``, ``ad_account_name``, ``country``, ``owner_username``,
``owner_user_id``.
Requests to ``/v5/`` draw injected faults from ``sandbox.faults["pinterest"]`` (``sandbox.faults_asgi``).
Behaviour, limits and wire formats are documented in ``routes``, ``analytics``, ``reporting``, ``world``, ``wire``,
``quality`` and ``spec``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response

from sandbox.faults_asgi import FaultMiddleware
from sandbox.limits import Fault
from sandbox.pinterest.routes import register
from sandbox.pinterest.spec import load_spec
from sandbox.pinterest.wire import rate_limited, server_error
from sandbox.pinterest.world import PinterestWorld
from sandbox.state import Sandbox

__all__ = ["install"]


def install(app: FastAPI, sandbox: Sandbox) -> None:
    """Serve the Pinterest side of the sandbox on ``app`` (see the module doc for what it adds)."""
    world = PinterestWorld(sandbox)
    app.state.pinterest = world
    register(app, world, load_spec())
    retry_after = sandbox.settings.faults.retry_after_seconds

    def answer(fault: Fault) -> Response:
        """An injected fault's response: a 500, or one 429 of a burst (``Retry-After`` from the fault settings)."""
        return (server_error() if fault is Fault.SERVER_ERROR else rate_limited(retry_after)).response()

    app.add_middleware(
        FaultMiddleware,
        prefix="/v5/",
        injector=sandbox.faults["pinterest"],
        rates=sandbox.settings.faults,
        answer=answer,
    )
