"""Our repair issues, all raised here: while a condition holds, deleted once it ends.

The fix flows that resolve them are Home Assistant's ``repairs`` platform
(``repairs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import hashlib
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .domain.tracker import VehicleTracker


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


# --- every repair issue of the integration is raised here --------------------

ISSUE_COMMAND_PROTOCOL = "command_protocol_required"
ISSUE_KEY_NOT_PAIRED = "key_not_paired"
ISSUE_KEY_NOT_PAIRED_PROXY = "key_not_paired_proxy"
ISSUE_LOCATION_SCOPE = "location_scope_missing"
ISSUE_MOBILE_ACCESS = "mobile_access_disabled"
ISSUE_USAGE_LIMIT = "usage_limit_exceeded"
ISSUE_VEHICLE_GONE = "vehicle_gone"
VIRTUAL_KEY_URL = "https://github.com/teslamotors/vehicle-command"
KEY_PAIRING_URL = "https://tesla.com/_ak/"
"""Followed by the application's domain: Tesla's virtual-key pairing link."""


def vehicle_gone_issue_id(entry_id: str, vin: str) -> str:
    """The repair issue of a car that left the account (its id holds no VIN)."""
    return car_issue_id(ISSUE_VEHICLE_GONE, entry_id, vin)


def format_until(timestamp: float) -> str:
    """A moment for a repair text: local date and time, to the minute."""
    return dt_util.as_local(datetime.fromtimestamp(timestamp, UTC)).strftime(
        "%Y-%m-%d %H:%M"
    )


@callback
def async_update_account_issues(
    hass: HomeAssistant, entry: ConfigEntry[Any], tracker: VehicleTracker
) -> None:
    """What only the user can change about the account and its cars, or its end.

    The token without the location scope, Tesla's monthly limit (with its
    end), and per car (named by display name) mobile access off and a car
    gone from the account's vehicle list.
    """
    entry_id, title = entry.entry_id, entry.title
    async_set_issue(
        hass,
        f"{ISSUE_LOCATION_SCOPE}_{entry_id}",
        not tracker.location_allowed,
        is_fixable=True,
        data={"entry_id": entry_id},
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_LOCATION_SCOPE,
        translation_placeholders={"title": title},
    )
    until = tracker.usage_blocked_until
    async_set_issue(
        hass,
        f"{ISSUE_USAGE_LIMIT}_{entry_id}",
        until is not None,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_USAGE_LIMIT,
        translation_placeholders={
            "title": title,
            "until": "" if until is None else format_until(until),
        },
    )
    cars = tracker.cars
    async_set_car_issues(
        hass,
        entry_id,
        {
            vin: {"vehicle": car.status.name}
            if car.access_disabled_at is not None
            else None
            for vin, car in cars.items()
        },
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_MOBILE_ACCESS,
    )
    # Sold, or the share removed: the user is offered removing it.
    async_set_car_issues(
        hass,
        entry_id,
        {
            vin: {"vehicle": car.status.name, "title": title} if car.gone else None
            for vin, car in cars.items()
        },
        data={"entry_id": entry_id},
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_VEHICLE_GONE,
    )


@callback
def async_update_command_protocol_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], *, refused: bool
) -> None:
    """A car refused an unsigned command (or accepted one again)."""
    async_set_issue(
        hass,
        f"{ISSUE_COMMAND_PROTOCOL}_{entry.entry_id}",
        refused,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_COMMAND_PROTOCOL,
        translation_placeholders={
            "title": entry.title,
            "pairing_url": KEY_PAIRING_URL,
        },
        learn_more_url=VIRTUAL_KEY_URL,
    )


@callback
def async_update_key_pairing_issue(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    unpaired_names: list[str],
    public_key: str | None = None,
) -> None:
    """Cars that need signed commands but do not know the application's key.

    ``public_key``: ours (the fix flow shows it), ``None`` with a proxy.

    With the integration's own key (``public_key``, no proxy), the issue is
    fixed by publishing that key and pairing it (``repairs.py``); with the
    user's proxy, it says how to pair the proxy's key.
    """
    placeholders = {"vehicles": ", ".join(unpaired_names)}
    if public_key is None:
        placeholders["pairing_url"] = KEY_PAIRING_URL
    async_set_issue(
        hass,
        f"{ISSUE_KEY_NOT_PAIRED}_{entry.entry_id}",
        bool(unpaired_names),
        # Our own key: the fix publishes it and guides the pairing. The
        # user's proxy holds its own key, which only they can publish.
        is_fixable=public_key is not None,
        data={"entry_id": entry.entry_id},
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_KEY_NOT_PAIRED
        if public_key is not None
        else ISSUE_KEY_NOT_PAIRED_PROXY,
        translation_placeholders=placeholders,
        learn_more_url=VIRTUAL_KEY_URL,
    )
