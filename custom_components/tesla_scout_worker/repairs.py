"""Repair flows: the fixes a user can start from a repair issue.

Three of our issues are fixable: a token without the location scope (sign in
again), a car gone from the account (remove it from the entry), and cars that
do not know the key for signed commands (publish the key, register its domain,
pair it: ``key_steps.py``, the config flow's steps).
"""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import CONF_API_BASE_URL, CONF_VINS
from .issues import ISSUE_KEY_NOT_PAIRED, ISSUE_VEHICLE_GONE, vehicle_gone_issue_id
from .key_steps import CONF_PAIR_LATER, KeyForm, async_pair_check
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


class KeyPairingRepairFlow(RepairsFlow):
    """Publish the key and register its domain, then pair it with the cars."""

    def __init__(self, entry_id: str) -> None:
        """Fix the pairing of one config entry's cars."""
        super().__init__()
        self.entry_id = entry_id
        self._key_form: KeyForm | None = None
        self._domain: str | None = None

    def _entry(self) -> TeslaScoutWorkerConfigEntry | None:
        entry: TeslaScoutWorkerConfigEntry | None = (
            self.hass.config_entries.async_get_entry(self.entry_id)
        )
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        return entry

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Start with the key's domain."""
        return await self.async_step_virtual_key()

    async def async_step_virtual_key(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """The application's domain: host the public key there and register it."""
        if (entry := self._entry()) is None:
            return self.async_abort(reason="not_loaded")
        if self._key_form is None:
            self._key_form = await KeyForm.async_create(
                self.hass, entry.data, entry.data[CONF_API_BASE_URL]
            )
        form = self._key_form
        if user_input is not None:
            self._domain = await form.async_submit(user_input)
            if form.skipped:
                return self.async_abort(reason="pair_later")
            if self._domain is not None:
                return await self.async_step_pair()
        shown = await form.async_form(self.add_suggested_values_to_schema, user_input)
        unpaired = entry.runtime_data.worker.pairing.unpaired_cars
        shown["description_placeholders"] = {
            **shown["description_placeholders"],
            "vehicles": ", ".join(unpaired.values()),
        }
        return self.async_show_form(**shown)

    async def async_step_pair(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Show the pairing link; check the cars until each has the key."""
        if (entry := self._entry()) is None:
            return self.async_abort(reason="not_loaded")
        if user_input is not None and user_input.get(CONF_PAIR_LATER):
            return self.async_abort(reason="pair_later")
        pairing = entry.runtime_data.worker.pairing
        if not (cars := pairing.unpaired_cars):
            return self.async_create_entry(data={})  # paired meanwhile
        check = await async_pair_check(
            entry.runtime_data.client, cars, submitted=user_input is not None
        )
        if check.unpaired is not None:
            for vin in cars:
                pairing.async_note(vin, paired=vin not in check.unpaired)
        if check.done:
            return self.async_create_entry(data={})
        return self.async_show_form(**check.form(self._domain))


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """The fix of one of our fixable issues, by its kind."""
    entry_id = str((data or {}).get("entry_id", ""))
    if issue_id.startswith(f"{ISSUE_VEHICLE_GONE}_"):
        return VehicleGoneRepairFlow(entry_id)
    if issue_id.startswith(f"{ISSUE_KEY_NOT_PAIRED}_"):
        return KeyPairingRepairFlow(entry_id)
    return SignInAgainFlow(entry_id)
