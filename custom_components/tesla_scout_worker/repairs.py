"""Repair flows: the fixes a user can start from a repair issue."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant


class SignInAgainFlow(ConfirmRepairFlow):
    """Confirm, then sign in with Tesla again (the reauth flow).

    Tesla's consent page asks again for the permissions the token lacks
    (``prompt_missing_scopes``), such as the vehicle location.
    """

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of one config entry."""
        super().__init__()
        self.entry_id = entry_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Start the sign-in once the user confirms."""
        if user_input is not None and (
            entry := self.hass.config_entries.async_get_entry(self.entry_id)
        ):
            entry.async_start_reauth(self.hass)
        return await super().async_step_confirm(user_input)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """The fix of a fixable issue: every one of ours is a new sign-in."""
    return SignInAgainFlow(str((data or {}).get("entry_id", "")))
