"""The state every emulated API of one server shares: its world, its clock and its fault streams.

Apart from ``sandbox.app`` (which builds the server from the API packages) so that those packages can name it
without importing the app that imports them.
"""

from __future__ import annotations

import datetime as dt

from sandbox.dataset import Dataset
from sandbox.limits import FaultInjector
from sandbox.settings import SandboxSettings


class Sandbox:
    """Shared state of one server: its world, its clock ("today") and one fault stream per API."""

    def __init__(self, settings: SandboxSettings, dataset: Dataset) -> None:
        self.settings = settings
        self.dataset = dataset
        self.today: dt.date = settings.today or dataset.today
        self.faults = {
            api: FaultInjector(settings.faults, seed=settings.seed * 1000 + offset)
            for offset, api in enumerate(("hubspot", "pinterest"))
        }

    def now(self) -> dt.datetime:
        """The sandbox's current instant: noon UTC of its "today" plus the wall clock's seconds past noon."""
        wall = dt.datetime.now(dt.UTC)
        return dt.datetime.combine(self.today, wall.time(), tzinfo=dt.UTC)
