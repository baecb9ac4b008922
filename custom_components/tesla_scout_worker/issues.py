"""Our repair issues: raised while a condition holds, deleted once it ends."""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN


@callback
def async_set_issue(
    hass: HomeAssistant, issue_id: str, present: bool, **create_kwargs: Any
) -> None:
    """Create (or update) issue ``issue_id`` when ``present``; else delete it.

    ``create_kwargs`` go to :func:`ir.async_create_issue` (``is_fixable``,
    ``severity``, ``translation_key``, …); deleting an absent issue is a no-op.
    """
    if present:
        ir.async_create_issue(hass, DOMAIN, issue_id, **create_kwargs)
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def car_issue_id(kind: str, entry_id: str, vin: str) -> str:
    """One car's issue of ``kind``: a digest of the VIN, never the VIN itself."""
    digest = hashlib.sha256(vin.encode()).hexdigest()[:16]
    return f"{kind}_{entry_id}_{digest}"


@callback
def async_set_car_issues(
    hass: HomeAssistant,
    entry_id: str,
    cars: Mapping[str, Mapping[str, str] | None],
    **create_kwargs: Any,
) -> None:
    """Each car's issue of one kind (its ``translation_key``): open, or closed.

    ``cars`` maps a VIN to the issue's placeholders while its condition holds,
    to ``None`` once it does not.
    """
    kind = create_kwargs["translation_key"]
    for vin, placeholders in cars.items():
        async_set_issue(
            hass,
            car_issue_id(kind, entry_id, vin),
            placeholders is not None,
            translation_placeholders=placeholders,
            **create_kwargs,
        )
