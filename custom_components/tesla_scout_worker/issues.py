"""Our repair issues: raised while a condition holds, deleted once it ends."""

from __future__ import annotations

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
