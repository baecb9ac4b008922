"""Base entities: one device per vehicle, one service device per account."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DOMAIN
from .models import TeslaScoutWorkerConfigEntry


class TeslaScoutWorkerAccountEntity(Entity):
    """An entity of the account (tokens, request accounting)."""

    _attr_has_entity_name = True

    def __init__(
        self, entry: TeslaScoutWorkerConfigEntry, description: EntityDescription
    ) -> None:
        """Key the entity by the account's unique id."""
        self.entity_description = description
        self.entry = entry
        account_id = entry.unique_id or entry.entry_id
        self._attr_unique_id = f"{account_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, account_id)},
            name=entry.title,
            manufacturer="Tesla",
            model="Fleet API account",
            entry_type=DeviceEntryType.SERVICE,
        )
