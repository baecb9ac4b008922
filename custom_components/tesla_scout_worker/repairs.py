"""Repair flows: a car gone from the account is removed from its entry."""

from __future__ import annotations

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .const import CONF_VINS
from .models import TeslaScoutWorkerConfigEntry
from .runtime import async_remove_vehicle
from .worker import vehicle_gone_issue_id


class VehicleGoneRepairFlow(ConfirmRepairFlow):
    """Confirm, then drop the car from the entry (its device goes with it)."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of a car of this entry."""
        super().__init__()
        self.entry_id = entry_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Remove the car once the user confirms."""
        if user_input is not None:
            entry: TeslaScoutWorkerConfigEntry | None = (
                self.hass.config_entries.async_get_entry(self.entry_id)
            )
            if entry is not None:
                vin = next(
                    (
                        vin
                        for vin in entry.data[CONF_VINS]
                        if vehicle_gone_issue_id(entry.entry_id, vin) == self.issue_id
                    ),
                    None,
                )
                if vin is not None:
                    async_remove_vehicle(self.hass, entry, vin)
        return await super().async_step_confirm(user_input)


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """The fix flow of a fixable issue: a car gone from the account is the one."""
    return VehicleGoneRepairFlow(str((data or {}).get("entry_id")))
