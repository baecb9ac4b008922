"""Buttons: a forced token refresh (rate limit applies)."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .entity import TeslaScoutWorkerAccountEntity
from .models import TeslaScoutWorkerConfigEntry

PARALLEL_UPDATES = 1

REFRESH_TOKEN = ButtonEntityDescription(
    key="refresh_token",
    translation_key="refresh_token",
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the buttons of an account."""
    async_add_entities([RefreshTokenButton(entry, REFRESH_TOKEN)])


class RefreshTokenButton(TeslaScoutWorkerAccountEntity, ButtonEntity):
    """Refresh the access token now; refused within a minute of the last try."""

    async def async_press(self) -> None:
        """Refresh; a refusal says when the next attempt is allowed."""
        await self.entry.runtime_data.tokens.async_force_refresh()
