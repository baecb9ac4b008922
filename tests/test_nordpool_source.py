"""A user with only the core Nord Pool integration gets a plan from its action."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.tesla_scout_worker.const import (
    CONF_NORDPOOL_AREA,
    CONF_NORDPOOL_ENTRY,
    CONF_TARIFF,
)

from . import load_json_fixture, pass_time, setup
from .conftest import VIN
from .fake_fleet import FakeFleet
from .test_nordpool_core import shifted

pytestmark = pytest.mark.usefixtures("warsaw_evening")

NORDPOOL_OPTIONS = {
    CONF_TARIFF: "nordpool",
    CONF_NORDPOOL_ENTRY: "nordpool-entry-id",
    CONF_NORDPOOL_AREA: "PL",
}


@pytest.fixture
def answers() -> dict[date, dict[str, Any]]:
    """What the action answers, by delivery day: 2 and 3 December (PLN/MWh)."""
    day_ahead = load_json_fixture("nordpool_core_action_15min.json")  # 3 December
    return {date(2026, 12, 2): shifted(day_ahead, -1), date(2026, 12, 3): day_ahead}


@pytest.fixture
def nordpool(
    hass: HomeAssistant, answers: dict[date, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The core integration's action; the calls it got."""
    calls: list[dict[str, Any]] = []

    async def get_prices_for_date(call: ServiceCall) -> dict[str, Any]:
        calls.append(dict(call.data))
        asked = date.fromisoformat(str(call.data["date"]))
        if asked not in answers:
            raise ServiceValidationError("no prices yet")  # as before 13:00 CET
        return dict.fromkeys(call.data["areas"], answers[asked]["PL"])

    hass.services.async_register(
        "nordpool",
        "get_prices_for_date",
        get_prices_for_date,
        # The core integration's schema: the currencies Nord Pool offers.
        schema=vol.Schema(
            {
                vol.Required("config_entry"): str,
                vol.Required("date"): str,
                vol.Optional("areas"): [str],
                vol.Optional("currency"): vol.In(["DKK", "EUR", "NOK", "PLN", "SEK"]),
            }
        ),
        supports_response=SupportsResponse.ONLY,
    )
    return calls


@pytest.mark.usefixtures("car")
async def test_a_plan_from_the_core_nordpool_integration(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    nordpool: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True, options=NORDPOOL_OPTIONS)

    # Today and tomorrow, for the chosen entry and area.
    assert [(c["config_entry"], c["date"], c["areas"]) for c in nordpool] == [
        ("nordpool-entry-id", "2026-12-02", ["PL"]),
        ("nordpool-entry-id", "2026-12-03", ["PL"]),
    ]
    run = worker.last_run(VIN)
    assert run is not None
    assert run.result == "applied"
    assert fleet.count("add_charge_schedule") == 1
    plan = run.plan
    assert plan is not None
    assert plan.reason == "cheapest_window"
    assert plan.start is not None
    assert plan.end is not None
    assert plan.cost is not None
    # 3 h 2 min in the cheap night of 2–3 December, not at the evening peak.
    start = dt_util.as_local(plan.start)
    assert datetime(2026, 12, 2, 23, 0, tzinfo=start.tzinfo) <= start
    assert dt_util.as_local(plan.end) <= datetime(
        2026, 12, 3, 7, 0, tzinfo=start.tzinfo
    )
    # Prices per kWh: about 0.4 PLN in the night, not 400.
    assert 0.2 < plan.cost / plan.energy_kwh < 0.6

    # Both days are known: a second run asks Nord Pool nothing.
    await pass_time(hass, freezer, timedelta(minutes=11))
    await worker.async_request_run(VIN, "action", force=True)
    assert len(nordpool) == 2


@pytest.mark.usefixtures("car")
async def test_before_the_day_ahead_is_out_it_asks_again_later(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    nordpool: list[dict[str, Any]],
    answers: dict[date, dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    del answers[date(2026, 12, 3)]  # the day ahead is not out yet
    worker = await setup(hass, mock_config_entry, smart=True, options=NORDPOOL_OPTIONS)
    assert [c["date"] for c in nordpool] == ["2026-12-02", "2026-12-03"]

    await pass_time(hass, freezer, timedelta(minutes=11))
    await worker.async_request_run(VIN, "action", force=True)
    assert len(nordpool) == 2  # asked 11 minutes ago
    await pass_time(hass, freezer, timedelta(minutes=20))
    await worker.async_request_run(VIN, "action", force=True)
    assert [c["date"] for c in nordpool][2:] == ["2026-12-02", "2026-12-03"]


@pytest.mark.usefixtures("car")
async def test_without_the_nordpool_integration_nothing_is_sent(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
) -> None:
    """No such action (not installed): no price is known, so no command."""
    worker = await setup(hass, mock_config_entry, smart=True, options=NORDPOOL_OPTIONS)
    run = worker.last_run(VIN)
    assert run is not None
    assert (run.result, run.reason) == ("no_action", "no_tariff")
    assert fleet.count("add_charge_schedule") == fleet.count("charge_start") == 0


@pytest.mark.usefixtures("car")
async def test_a_run_without_prices_runs_when_nord_pool_has_them(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    nordpool: list[dict[str, Any]],
    answers: dict[date, dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Home Assistant started before Nord Pool had loaded: no prices, no command."""
    known = dict(answers)
    answers.clear()
    worker = await setup(hass, mock_config_entry, smart=True, options=NORDPOOL_OPTIONS)
    run = worker.last_run(VIN)
    assert run is not None
    assert run.reason == "no_tariff"
    assert fleet.count("add_charge_schedule") == 0

    answers.update(known)  # Nord Pool has loaded
    await pass_time(hass, freezer, timedelta(minutes=31))
    run = worker.last_run(VIN)
    assert run is not None
    assert (run.result, run.trigger) == ("applied", "init")
    assert fleet.count("add_charge_schedule") == 1

    # Both days known: the half-hourly check asks nothing more today.
    asked = len(nordpool)
    await pass_time(hass, freezer, timedelta(minutes=31))
    assert len(nordpool) == asked


@pytest.mark.usefixtures("car")
async def test_tomorrows_prices_replan_a_car_plugged_in_at_home(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    nordpool: list[dict[str, Any]],
    answers: dict[date, dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    """At 10:00 only today is known; tomorrow's prices move the plan to the night."""
    freezer.move_to("2026-12-02 10:00:00+01:00")
    tomorrow = answers.pop(date(2026, 12, 3))
    worker = await setup(hass, mock_config_entry, smart=True, options=NORDPOOL_OPTIONS)
    first = worker.last_run(VIN)
    assert first is not None
    assert first.plan is not None
    assert first.plan.prices_until is not None  # planned on today's prices only
    assert fleet.count("add_charge_schedule") == 1

    # Nothing new for hours: checked every 30 minutes, no new run.
    await pass_time(hass, freezer, timedelta(minutes=31))
    await pass_time(hass, freezer, timedelta(minutes=31))
    assert worker.last_run(VIN) is first

    # Published around 13:00, with a windy night: cheaper than today's noon.
    for entry in tomorrow["PL"]:
        if "T01:" <= entry["start"][10:14] <= "T04:":
            entry["price"] = 100.0
    answers[date(2026, 12, 3)] = tomorrow
    for _ in range(5):
        await pass_time(hass, freezer, timedelta(minutes=31))
    run = worker.last_run(VIN)
    assert run is not first
    assert run is not None
    assert run.plan is not None
    assert run.plan.prices_until is None
    assert run.plan.start is not None
    assert dt_util.as_local(run.plan.start).date() == date(2026, 12, 3)
    assert fleet.count("add_charge_schedule") == 2


@pytest.mark.usefixtures("car")
@pytest.mark.parametrize(
    ("currency", "asked"), [("PLN", ["PLN", "PLN"]), ("USD", [None, None])]
)
async def test_prices_are_asked_for_in_home_assistants_currency(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    nordpool: list[dict[str, Any]],
    currency: str,
    asked: list[str | None],
) -> None:
    """PLN costs even if the Nord Pool entry shows EUR; USD is not offered."""
    hass.config.currency = currency
    worker = await setup(hass, mock_config_entry, smart=True, options=NORDPOOL_OPTIONS)
    assert [call.get("currency") for call in nordpool] == asked
    run = worker.last_run(VIN)
    assert run is not None
    assert run.result == "applied"
