"""Repair flows: the fixes a user can start from a repair issue.

Two of our issues are fixable: a token without the location scope (sign in
again) and a car gone from the account (remove it from the entry).
"""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .const import CONF_VINS
from .issues import ISSUE_VEHICLE_GONE, vehicle_gone_issue_id
from .models import TeslaScoutWorkerConfigEntry
from .runtime import async_remove_vehicle


class _EntryRepairFlow(ConfirmRepairFlow):
    """A confirm-then-fix flow for an issue of one config entry."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of one config entry."""
        super().__init__()
        self.entry_id = entry_id


class SignInAgainFlow(_EntryRepairFlow):
    """Confirm, then sign in with Tesla again (the reauth flow).

    Tesla's consent page asks again for the permissions the token lacks
    (``prompt_missing_scopes``), such as the vehicle location.
    """

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Start the sign-in once the user confirms."""
        if user_input is not None and (
            entry := self.hass.config_entries.async_get_entry(self.entry_id)
        ):
            entry.async_start_reauth(self.hass)
        return await super().async_step_confirm(user_input)


class VehicleGoneRepairFlow(_EntryRepairFlow):
    """Confirm, then drop the car from the entry (its device goes with it)."""

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
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """The fix of one of our fixable issues, by its kind."""
    entry_id = str((data or {}).get("entry_id", ""))
    if issue_id.startswith(f"{ISSUE_VEHICLE_GONE}_"):
        return VehicleGoneRepairFlow(entry_id)
    return SignInAgainFlow(entry_id)
