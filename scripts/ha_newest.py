"""Run the newest test plugin on a newer Home Assistant than it was made for.

``pytest-homeassistant-custom-component`` 0.13.375 (the newest published) pins
Home Assistant 2026.10.4; the newest release is 2026.11.0. ``scripts/test``
loads this module instead of the plugin on the newest stack
(``-p no:homeassistant -p scripts.ha_newest``); it bridges three changes, each
only where the installed Home Assistant needs it, then loads the plugin:

- 2026.11 aliases ``httpx`` to ``httpx2`` when ``homeassistant`` is imported,
  and refuses once ``httpx`` is imported; the plugin imports ``respx`` (and so
  ``httpx``) first. Importing ``homeassistant`` here, before the plugin, fixes
  the order.
- ``_clear_logger_overwrites`` moved from ``homeassistant.components.logger``
  to its ``helpers`` module; the plugin imports it from the old place.
- Restored states are indexed by entity-registry id since 2026.11
  (``last_states_by_entity_registry_id``); the plugin's ``mock_restore_cache``
  fills the old ``last_states``, which nothing reads any more.

Drop this file, and the two ``-p`` options in ``scripts/test``, when a plugin
release pins the newest Home Assistant (``requirements_test_newest_ha.txt`` is
then empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import json
from typing import TYPE_CHECKING, Any

# Only these two imports run before the plugin: it patches the recorder and
# the clock before anything else of Home Assistant is imported.
import homeassistant  # noqa: F401  (before the plugin imports httpx)
from homeassistant.components import logger

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant, State
    import pytest

OVERWRITES = "_clear_logger_overwrites"
if not hasattr(logger, OVERWRITES):
    from homeassistant.components.logger import helpers as logger_helpers

    setattr(logger, OVERWRITES, getattr(logger_helpers, OVERWRITES))

pytest_plugins = ["pytest_homeassistant_custom_component.plugins"]


def _mock_restore(
    hass: HomeAssistant, states: Sequence[tuple[State, Mapping[str, Any] | None]]
) -> None:
    """Stored states as 2026.11 keeps them, indexed as its loader indexes them."""
    from homeassistant.helpers import entity_registry as er, restore_state as rs
    from homeassistant.helpers.json import JSONEncoder
    from homeassistant.util import dt as dt_util

    data = rs.RestoreStateData(hass)
    now = dt_util.utcnow()
    stored: list[dict[str, Any]] = []
    for state, extra_data in states:
        as_dict = state.as_dict()
        item: dict[str, Any] = {
            "state": {
                **as_dict,
                "attributes": json.loads(
                    json.dumps(as_dict["attributes"], cls=JSONEncoder)
                ),
            },
            "last_seen": now,
        }
        if extra_data is not None:
            item["extra_data"] = extra_data
        stored.append(item)
    if len({item["state"]["entity_id"] for item in stored}) != len(stored):
        msg = f"Duplicate entity_id? {states}"
        raise ValueError(msg)
    # What 2026.11's RestoreStateData.async_setup does, without its store: index
    # the states, and let an entity registered later claim its stored state.
    data._async_load_stored_states(stored)  # type: ignore[attr-defined]  # noqa: SLF001
    hass.bus.async_listen(
        er.EVENT_ENTITY_REGISTRY_UPDATED,
        data._async_entity_registry_entry_created,  # type: ignore[attr-defined]  # noqa: SLF001
        event_filter=getattr(rs, "_entity_registry_entry_created_filter"),  # noqa: B009
    )
    getattr(rs.async_get, "cache_clear")()  # noqa: B009
    hass.data[rs.DATA_RESTORE_STATE] = data


def mock_restore_cache(hass: HomeAssistant, states: Sequence[State]) -> None:
    """The plugin's ``mock_restore_cache`` for 2026.11's restore index."""
    _mock_restore(hass, [(state, None) for state in states])


def mock_restore_cache_with_extra_data(
    hass: HomeAssistant, states: Sequence[tuple[State, Mapping[str, Any]]]
) -> None:
    """The plugin's ``mock_restore_cache_with_extra_data`` for 2026.11."""
    _mock_restore(hass, list(states))


def pytest_configure(config: pytest.Config) -> None:
    """Once the plugin is loaded: its restore helpers for 2026.11's index."""
    from homeassistant.helpers import restore_state as rs
    from pytest_homeassistant_custom_component import common

    if hasattr(rs.RestoreStateData, "_async_entity_registry_entry_created"):
        setattr(common, "mock_restore_cache", mock_restore_cache)  # noqa: B010
        setattr(  # noqa: B010
            common,
            "mock_restore_cache_with_extra_data",
            mock_restore_cache_with_extra_data,
        )
