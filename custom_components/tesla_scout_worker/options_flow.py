"""The options flow: home, scouting and worker timing, proxy, charging, sharing."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback

from .flow_schemas import errors_in_view
from .options_schema import (
    OPTION_KEYS,
    async_validate_options,
    options_form_values,
    options_schema,
)

PROXY_URL_EXAMPLE: Final = "https://192.168.1.10:4443"
"""Shown in the options form (hassfest keeps URLs out of the strings)."""


class OptionsFlowHandler(OptionsFlow):
    """Home position, scouting and worker timing, command proxy, token sharing."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and validate the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options, errors = await async_validate_options(self.hass, user_input)
            if not errors:
                kept = {
                    key: value
                    for key, value in self.config_entry.options.items()
                    if key not in OPTION_KEYS
                }
                return self._async_save_and_reload({**kept, **options})
        schema, errors = errors_in_view(options_schema(), errors)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                user_input or options_form_values(self.hass, self.config_entry.options),
            ),
            errors=errors,
            description_placeholders={"proxy_example": PROXY_URL_EXAMPLE},
        )

    @callback
    def _async_save_and_reload(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Store the options and reload the entry when they changed.

        No update listener: Home Assistant 2026.12 refuses update listeners on
        entries whose reauth and reconfigure flows reload them, and
        ``OptionsFlowWithReload`` is newer than our minimum (2025.4). So the
        flow stores the options itself and schedules the reload; the options
        flow manager then finds them unchanged and does nothing more.
        """
        entry = self.config_entry
        if self.hass.config_entries.async_update_entry(entry, options=options) and (
            entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY)
        ):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_create_entry(data=options)
