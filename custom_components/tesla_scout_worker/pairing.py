"""Which cars lack the application's key for signed commands: one repair says so.

Told by a worker run or a user's command that a car refused our key, by a
signed command a car accepted, by the check at each start (one
``fleet_status``), and by the repair flow's own check (``repairs.py``).
"""

from __future__ import annotations

import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .const import LOGGER
from .domain.tracker import VehicleTracker
from .fleet import TeslaFleetError, UsageLimitExceededError
from .fleet.keys import public_key_pem
from .issues import async_update_key_pairing_issue


class KeyPairing:
    """The cars of one entry that do not know the key, and their repair."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], tracker: VehicleTracker
    ) -> None:
        """Nothing known to be unpaired yet."""
        self.hass = hass
        self.entry = entry
        self.tracker = tracker
        self._unpaired: dict[str, str] = {}
        """VIN → name of the cars whose virtual key is not paired."""

    @property
    def unpaired_cars(self) -> dict[str, str]:
        """The cars known not to have the application's key, VIN → name."""
        return dict(self._unpaired)

    async def async_check(self) -> None:
        """Once per start: warn when a car needs signed commands but lacks our key.

        One ``fleet_status`` request (billed as data); failures only log, the
        worker's own 403 handling still raises the repair issue.
        """
        client = self.tracker.client
        vins = list(self.tracker.cars)
        if self.tracker.usage_blocked(time.time()):
            return  # Billed, and Tesla refuses paid requests this month.
        try:
            status = await client.fleet_status(vins)
        except UsageLimitExceededError as err:
            self.tracker.note_usage_limit(err, time.time())
            return
        except TeslaFleetError as err:
            LOGGER.debug("fleet_status unavailable: %s", type(err).__name__)
            return
        for vin in vins:
            self.async_note(vin, paired=status.knows_key(vin))

    @callback
    def async_note(self, vin: str, *, paired: bool) -> None:
        """Whether the car knows the application's key: the repair names the others."""
        if paired:
            self._unpaired.pop(vin, None)
        else:
            self._unpaired[vin] = self.tracker.car(vin).status.name
        key = self.tracker.client.signing_key
        async_update_key_pairing_issue(
            self.hass,
            self.entry,
            sorted(self._unpaired.values()),
            None if key is None else public_key_pem(key),
        )
