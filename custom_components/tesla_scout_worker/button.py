"""Buttons: a forced worker run per car; a forced token refresh (rate-limited)."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .domain.car import WorkerTrigger
from .entity import TeslaScoutWorkerAccountEntity, TeslaScoutWorkerVehicleEntity
from .fleet.tokens import TOKEN_ERRORS
from .models import TeslaScoutWorkerConfigEntry
from .tokens import token_error_to_ha

PARALLEL_UPDATES = 1

RUN_WORKER = ButtonEntityDescription(key="run_worker", translation_key="run_worker")
REFRESH_TOKEN = ButtonEntityDescription(
    key="refresh_token",
    translation_key="refresh_token",
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: TeslaScoutWorkerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of an account and its vehicles."""
    scout = entry.runtime_data.scout
    async_add_entities(
        RunWorkerButton(scout, vin, RUN_WORKER) for vin in scout.tracker.cars
    )
    async_add_entities([RefreshTokenButton(entry, REFRESH_TOKEN)])


class RunWorkerButton(TeslaScoutWorkerVehicleEntity, ButtonEntity):
    """Run the worker now for this car (the cooldown does not apply)."""

    async def async_press(self) -> None:
        """Run the worker, forced."""
        await self.worker.async_request_run(self.vin, WorkerTrigger.BUTTON, force=True)


class RefreshTokenButton(TeslaScoutWorkerAccountEntity, ButtonEntity):
    """Refresh the access token now; refused within a minute of the last try."""

    async def async_press(self) -> None:
        """Refresh; a refusal says when the next attempt is allowed."""
        try:
            await self.entry.runtime_data.tokens.async_force_refresh()
        except TOKEN_ERRORS as err:
            raise token_error_to_ha(err) from err
