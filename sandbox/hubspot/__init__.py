"""The HubSpot half of the sandbox: an emulator of the CRM API calls pin2deal makes.

``install(app, sandbox)`` builds the in-memory CRM from ``sandbox.dataset`` (``state.py``, ``store.py``) and adds
- the CRM endpoints with HubSpot's paths and shapes (``api.py``; the search in ``search.py``),
- the edge in front of them: seeded faults, bearer-token auth, HubSpot's rate limits (``edge.py``),
- the ``/_sandbox/hubspot/...`` mutations for tests and incident reproduction (``mutations.py``).
The state is ``app.state.hubspot`` (a :class:`~sandbox.hubspot.state.HubSpotState`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox.hubspot.api import install_api
from sandbox.hubspot.edge import install_edge
from sandbox.hubspot.mutations import install_mutations
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.wire import HubSpotError


def install(app: FastAPI, sandbox: Any) -> None:
    """Serve ``sandbox.dataset``'s HubSpot world on ``app`` (see the package docstring)."""
    state = HubSpotState(sandbox.dataset, sandbox.now, search_index_lag=sandbox.settings.search_index_lag)
    app.state.hubspot = state

    @app.exception_handler(HubSpotError)
    async def hubspot_error(request: Request, error: HubSpotError) -> Response:
        return error.response()

    install_api(app, state)
    install_mutations(app, state)
    install_edge(app, sandbox, sandbox.dataset.config["hubspot_token"])


__all__ = ["HubSpotState", "install"]
