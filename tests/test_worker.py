"""Tests for the worker: triggers, cooldown, the wake rule, schedules and entities."""

from __future__ import annotations

from datetime import time, timedelta
import json
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.tesla_scout_worker.const import (
    CONF_COMMAND_PROXY_URL,
    CONF_EXTRA_OFFPEAK_DATES,
    CONF_MAX_CHARGE_WINDOWS,
    CONF_PRICE_ATTRIBUTE,
    CONF_PRICE_ENTITY,
    CONF_SPLIT_MIN_SAVING,
    CONF_TARIFF,
    DOMAIN,
    EVENT_TYPE,
)
from custom_components.tesla_scout_worker.domain.schedules import schedule_id_for

from . import (
    async_store_settings,
    pass_time,
    quarter_hour_forecast,
    setup,
    start_charging,
)
from .conftest import TOKEN_URL, VIN, token_data
from .fake_fleet import UNAVAILABLE, FakeCar, FakeFleet

PROXY = "https://proxy.local:4443"

pytestmark = pytest.mark.usefixtures("warsaw_evening")


@pytest.fixture
def events(hass: HomeAssistant) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    @callback
    def listener(event: Event) -> None:
        if event.data["type"] == "worker_finished":
            seen.append(dict(event.data))

    hass.bus.async_listen(EVENT_TYPE, listener)
    return seen


def time_module_now() -> float:
    return dt_util.utcnow().timestamp()


COMPONENT = Path(__file__).parent.parent / "custom_components" / DOMAIN


def assert_placeholders_given(issue: ir.IssueEntry) -> None:
    """Every placeholder of the issue's English text has a value."""
    english = json.loads(
        (COMPONENT / "translations" / "en.json").read_text(encoding="utf-8")
    )["issues"][issue.translation_key]
    # A fixable issue's text is its fix flow's: only the title is the issue's.
    text = english["title"] + english.get("description", "")
    wanted = set(re.findall(r"\{(\w+)\}", text))
    assert wanted == set(issue.translation_placeholders or {})


async def test_init_run_plans_without_commands_when_smart_charging_is_off(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    await setup(hass, mock_config_entry)
    assert events == [
        {
            "type": "worker_finished",
            "config_entry_id": mock_config_entry.entry_id,
            "vin": VIN,
            "result": "planned",
            "trigger": "init",
        }
    ]
    assert fleet.count("add_charge_schedule") == 0
    start = hass.states.get("sensor.test_planned_charge_start")
    assert start is not None
    # 40 % → 80 % of 75 kWh at 90 %: 33.3 kWh, 3 h 2 min at 11 kW: G12 from 22:00.
    assert start.state == "2026-12-02T21:00:00+00:00"
    end = hass.states.get("sensor.test_planned_charge_end")
    assert end is not None
    assert end.state.startswith("2026-12-03T00:01")


async def test_smart_charging_writes_the_cars_schedule_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    assert [e["result"] for e in events] == ["applied"]
    (schedule,) = car.charge_schedules
    assert schedule["id"] == schedule_id_for(VIN)
    # 22:00 to 01:01:49, the end rounded up to the minute.
    assert (schedule["start_time"], schedule["end_time"]) == (22 * 60, 60 + 2)

    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.commands == ()
    assert run.result == "planned"
    assert len(car.charge_schedules) == 1
    assert fleet.count("add_charge_schedule") == 1
    assert fleet.count("wake") == 0


async def test_cooldown_skips_silently_unless_forced(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry)
    calls = len(fleet.calls)
    freezer.tick(timedelta(minutes=5))
    assert await worker.async_request_run(VIN, "arrived_home") is None
    assert len(fleet.calls) == calls
    assert len(events) == 1
    assert await worker.async_request_run(VIN, "action", force=True) is not None
    freezer.tick(timedelta(minutes=11))
    assert await worker.async_request_run(VIN, "arrived_home") is not None
    assert [e["trigger"] for e in events] == ["init", "action", "arrived_home"]


async def test_asleep_car_is_not_woken_without_need(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    car.state = "asleep"
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    # Same plan as the schedule written at init: nothing to tell the car.
    assert run.woke is False
    assert fleet.count("wake") == 0
    assert run.result == "planned"
    worker.tracker.set_settings(VIN, smart_charging=False)
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert fleet.count("wake") == 0


async def test_asleep_car_is_woken_once_when_a_command_is_needed(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    proxy = FakeFleet(PROXY)
    proxy.cars = fleet.cars
    proxy.install(aioclient_mock)
    worker = await setup(
        hass, mock_config_entry, smart=True, options={CONF_COMMAND_PROXY_URL: PROXY}
    )
    assert proxy.count("add_charge_schedule") == 1
    car.state = "asleep"
    car.wakes_after = 2
    freezer.tick(timedelta(minutes=30))
    # Leaving at 23:00 moves the window: the car's schedule must change.
    worker.tracker.set_settings(VIN, departure=time(23))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.woke is True
    assert fleet.count("wake") == 1
    assert proxy.count("wake") == 0
    assert proxy.count("add_charge_schedule") == 2
    assert fleet.count("add_charge_schedule") == 0
    assert run.result == "applied"


async def test_car_that_does_not_wake_is_an_error(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    car.state = "asleep"
    car.wakes_after = 100
    worker.tracker.set_settings(VIN, departure=time(23))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.result == "error"
    assert run.error == "VehicleUnavailableError"
    assert fleet.count("wake") == 1
    assert events[-1]["result"] == "error"


async def test_charging_outside_the_plan_is_stopped(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    car.charging_state = "Charging"
    await setup(hass, mock_config_entry, smart=True)
    assert fleet.count("add_charge_schedule") == 1
    assert fleet.count("charge_stop") == 1


async def test_unreachable_target_charges_at_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    car.battery_level = 10
    car.charge_limit_soc = 100
    worker = await setup(hass, mock_config_entry, smart=True)
    worker.tracker.set_settings(VIN, departure=time(19))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.plan is not None
    assert run.plan.reason == "cannot_reach_target"
    assert run.commands == ("charge_start",)


async def test_old_firmware_uses_scheduled_charging(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    car.firmware = "2023.44.30.8 06f534d46010"
    worker = await setup(hass, mock_config_entry, smart=True)
    assert fleet.count("set_scheduled_charging") == 1
    assert fleet.count("add_charge_schedule") == 0
    assert ("set_scheduled_charging", {"enable": True, "time": 22 * 60}) in fleet.bodies
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.commands == ()


READS = frozenset({"list", "record", "data", "fleet_status"})


def sent(fleet: FakeFleet) -> list[str]:
    """Every request but the reads and handshakes: the wakes and the commands."""
    return [kind for kind, _ in fleet.calls if kind not in READS | {"handshake"}]


async def test_refused_schedule_falls_back(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    """A car that refuses ``add_charge_schedule`` gets ``set_scheduled_charging``.

    Once, with the plan's start (G12 from 22:00), enabled; the refused command
    is not tried again; the run is applied and the car is known to hold that
    start, so the next run sends nothing.
    """
    fleet.fail_next("add_charge_schedule", 404, {"error": "unknown command"})
    worker = await setup(hass, mock_config_entry, smart=True)
    assert sent(fleet) == ["add_charge_schedule", "set_scheduled_charging"]
    # The refused request has no body here (fail_next answers before recording).
    assert [body for body in fleet.bodies if body[0] not in READS] == [
        ("set_scheduled_charging", {"enable": True, "time": 22 * 60})
    ]
    run = worker.last_run(VIN)
    assert run is not None
    assert (run.trigger, run.result, run.error) == ("init", "applied", None)
    assert run.commands == ("set_scheduled_charging",)
    assert [e["result"] for e in events] == ["applied"]
    schedule = worker.tracker.car(VIN).schedule
    assert schedule is not None
    first, *others = schedule.windows
    assert first is not None
    assert first[0] == 22 * 60
    assert others == [None] * len(others)
    assert hass.states.get("sensor.test_planned_charge_start").state == (  # type: ignore[union-attr]
        "2026-12-02T21:00:00+00:00"
    )
    # What the car holds is the plan: the next run sends nothing.
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert (run.result, run.commands) == ("planned", ())
    assert sent(fleet) == ["add_charge_schedule", "set_scheduled_charging"]


async def test_signed_commands_needed_raise_a_repair_issue(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.fail_next(
        "add_charge_schedule",
        403,
        {"error": "Tesla Vehicle Command Protocol required, please refer to the docs"},
    )
    worker = await setup(hass, mock_config_entry, smart=True)
    issue_id = f"command_protocol_required_{mock_config_entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "command_protocol_required"
    assert_placeholders_given(issue)
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.result == "applied"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_a_key_the_car_does_not_know_is_a_repair_until_it_is_paired(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Signed in-process, refused for an unpaired key: a repair naming the car.

    Not retried (only the owner can pair it), said in words to a user's
    command, and gone once the car accepts a signed command.
    """
    fleet.unpaired.add(VIN)
    worker = await setup(hass, mock_config_entry, smart=True)
    run = worker.last_run(VIN)
    assert run is not None
    assert (run.result, run.error, run.commands) == ("error", "key_not_paired", ())
    assert fleet.count("add_charge_schedule") == 0
    issue_id = f"key_not_paired_{mock_config_entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["vehicles"] == "Test"
    assert (
        issue_registry.async_get_issue(
            DOMAIN, f"command_protocol_required_{mock_config_entry.entry_id}"
        )
        is None
    )
    with pytest.raises(HomeAssistantError) as err:
        await start_charging(hass)
    assert err.value.translation_key == "key_not_paired"
    assert fleet.count("charge_start") == 0

    # The owner pairs the key in the Tesla app: the next command is accepted.
    fleet.unpaired.discard(VIN)
    await start_charging(hass)
    assert fleet.count("charge_start") == 1
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_failsafe_runs_daily(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup(hass, mock_config_entry)
    freezer.move_to("2026-12-03 00:00:00+01:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert [e["trigger"] for e in events] == ["init", "failsafe"]


async def test_price_sensor_tariff(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    hourly = [
        {
            "start": f"2026-12-{day:02d}T{hour:02d}:00:00+01:00",
            "end": (
                f"2026-12-{day + (hour == 23):02d}T{(hour + 1) % 24:02d}:00:00+01:00"
            ),
            "value": 0.2 if (day, hour) == (3, 2) else 0.9,
        }
        for day in (2, 3)
        for hour in range(24)
    ]
    hass.states.async_set(
        "sensor.nordpool",
        "0.9",
        {"raw_today": hourly[:24], "raw_tomorrow": hourly[24:]},
    )
    worker = await setup(
        hass,
        mock_config_entry,
        options={CONF_TARIFF: "price_entity", CONF_PRICE_ENTITY: "sensor.nordpool"},
    )
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.reason == "cheapest_window"
    assert plan.start is not None
    assert plan.end is not None
    # The window covers the cheap hour 02:00-03:00 (earliest such window).
    assert plan.start.isoformat() <= "2026-12-03T02:00:00+01:00"
    assert plan.end.isoformat() >= "2026-12-03T03:00:00+01:00"


async def test_price_sensor_with_a_named_attribute(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(
        hass,
        mock_config_entry,
        smart=True,
        options={
            CONF_TARIFF: "price_entity",
            CONF_PRICE_ENTITY: "sensor.prices",
            CONF_PRICE_ATTRIBUTE: "forecast",
        },
    )
    # No sensor yet: nothing sent, waiting for prices.
    assert [e["result"] for e in events] == ["no_action"]
    hass.states.async_set(
        "sensor.prices",
        "0.9",
        {"forecast": quarter_hour_forecast({"2026-12-03T03": 0.2})},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.reason == "cheapest_window"
    assert plan.start is not None
    assert plan.start.isoformat() <= "2026-12-03T03:00:00+01:00"
    assert [e["result"] for e in events] == ["no_action", "applied"]

    # Another attribute changing is no new forecast; the named one is.
    hass.states.async_set(
        "sensor.prices",
        "0.9",
        {"forecast": quarter_hour_forecast({"2026-12-03T03": 0.2}), "raw_today": []},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(events) == 2
    freezer.tick(timedelta(minutes=15))  # past the cooldown
    hass.states.async_set(
        "sensor.prices",
        "0.9",
        {"forecast": quarter_hour_forecast({"2026-12-03T01": 0.2})},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(events) == 3
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.start is not None
    assert plan.start.isoformat() <= "2026-12-03T01:00:00+01:00"


async def test_split_plan_from_the_options(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    """Two cheap hours apart: with split plans on, two schedules, both shown."""
    forecast = quarter_hour_forecast({"2026-12-03T01": 0.2, "2026-12-03T04": 0.25})
    hass.states.async_set("sensor.prices", "0.9", {"forecast": forecast})
    worker = await setup(
        hass,
        mock_config_entry,
        smart=True,
        options={
            CONF_TARIFF: "price_entity",
            CONF_PRICE_ENTITY: "sensor.prices",
            CONF_PRICE_ATTRIBUTE: "forecast",
            CONF_MAX_CHARGE_WINDOWS: 2,
            CONF_SPLIT_MIN_SAVING: 0.5,
        },
    )
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.reason == "cheapest_windows"
    ids = sorted(s["id"] for s in car.charge_schedules)
    assert ids == [schedule_id_for(VIN), schedule_id_for(VIN, 1)]
    start = hass.states.get("sensor.test_planned_charge_start")
    end = hass.states.get("sensor.test_planned_charge_end")
    assert start is not None
    assert end is not None
    # 3 hours to charge: both cheap hours, and an hour at the dear price
    # beside one of them (where is a tie).
    windows = [
        (dt_util.parse_datetime(w["start"]), dt_util.parse_datetime(w["end"]))
        for w in start.attributes["windows"]
    ]
    assert len(windows) == 2
    for hour in ("01", "04"):
        cheap = dt_util.parse_datetime(f"2026-12-03T{hour}:00:00+01:00")
        assert any(begin <= cheap < end for begin, end in windows)  # type: ignore[operator]
    # The sensors span the plan: the first start, the last end.
    assert dt_util.parse_datetime(start.state) == windows[0][0]
    assert dt_util.parse_datetime(end.state) == windows[-1][1]
    assert start.attributes["saving_vs_single_window"] > 0.5


async def test_extra_off_peak_days_in_g12w(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    # Wednesday 17:00 is peak in G12w, unless the user made today off-peak.
    options = {CONF_TARIFF: "g12w", CONF_EXTRA_OFFPEAK_DATES: ["2026-12-02"]}
    worker = await setup(hass, mock_config_entry, options=options)
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.start is not None
    assert plan.start.isoformat() == "2026-12-02T17:00:00+01:00"
    assert plan.saving == 0

    hass.config_entries.async_update_entry(
        mock_config_entry,
        options={**mock_config_entry.options, CONF_EXTRA_OFFPEAK_DATES: []},
    )
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.start is not None
    assert plan.start.isoformat() == "2026-12-02T22:00:00+01:00"
    assert plan.saving is not None
    assert plan.saving > 0


async def test_missing_price_sensor_means_no_action(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    """SPEC §6: no tariff known is no command (never "charge at once").

    Smart charging is on and the car is online, plugged in at home: only the
    missing price stops the worker. When the prices come, it plans again.
    """
    worker = await setup(
        hass,
        mock_config_entry,
        smart=True,
        options={
            CONF_TARIFF: "price_entity",
            CONF_PRICE_ENTITY: "sensor.none",
            CONF_PRICE_ATTRIBUTE: "forecast",
        },
    )
    plan = worker.current_plan(VIN)
    assert plan is not None
    assert plan.reason == "no_tariff"
    run = worker.last_run(VIN)
    assert run is not None
    assert (run.trigger, run.result, run.reason) == ("init", "no_action", "no_tariff")
    assert run.commands == ()
    assert sent(fleet) == []
    assert [e["result"] for e in events] == ["no_action"]
    assert car.charging_state == "Stopped"

    # The price sensor appears: planned and applied, on the cheapest hour.
    hass.states.async_set(
        "sensor.none",
        "0.9",
        {"forecast": quarter_hour_forecast({"2026-12-03T03": 0.2})},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sent(fleet) == ["add_charge_schedule"]
    assert [e["result"] for e in events] == ["no_action", "applied"]


async def test_charging_switch_and_charge_limit(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    await start_charging(hass)
    assert hass.states.get("switch.test_charging").state == "on"  # type: ignore[union-attr]
    await hass.services.async_call(
        "switch", "turn_off", {ATTR_ENTITY_ID: "switch.test_charging"}, blocking=True
    )
    assert fleet.count("charge_stop") == 1
    car.state = "asleep"
    await hass.services.async_call(
        "number",
        "set_value",
        {ATTR_ENTITY_ID: "number.test_charge_limit", "value": 90},
        blocking=True,
    )
    assert fleet.count("wake") == 1
    assert car.charge_limit_soc == 90
    assert hass.states.get("number.test_charge_limit").state == "90"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "body", "key"),
    [
        (
            403,
            {"error": "Tesla Vehicle Command Protocol required"},
            "command_protocol_required",
        ),
        (
            200,
            {"response": {"result": False, "reason": "disconnected"}},
            "command_failed",
        ),
        (503, None, "cannot_reach_tesla"),
    ],
)
async def test_command_errors_are_translated(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    status: int,
    body: dict[str, Any] | None,
    key: str,
) -> None:
    await setup(hass, mock_config_entry)
    fleet.fail_next("charge_start", status, body)
    with pytest.raises(HomeAssistantError) as err:
        await start_charging(hass)
    assert err.value.translation_key == key


async def test_sleeping_car_that_stays_asleep(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await setup(hass, mock_config_entry)
    car.state = "asleep"
    car.wakes_after = 100
    with pytest.raises(HomeAssistantError) as err:
        await start_charging(hass)
    assert err.value.translation_key == "vehicle_asleep"


async def test_settings_are_restored_and_changed(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await async_store_settings(
        hass, mock_config_entry.entry_id, [VIN], departure="06:15:00"
    )
    worker = await setup(hass, mock_config_entry)
    assert worker.tracker.car(VIN).settings.smart_charging is True
    assert worker.tracker.car(VIN).settings.departure.isoformat() == "06:15:00"
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: "time.test_departure_time", "time": "08:30:00"},
        blocking=True,
    )
    await hass.services.async_call(
        "switch",
        "turn_off",
        {ATTR_ENTITY_ID: "switch.test_smart_charging"},
        blocking=True,
    )
    assert worker.tracker.car(VIN).settings.departure.isoformat() == "08:30:00"
    assert worker.tracker.car(VIN).settings.smart_charging is False
    assert hass.states.get("time.test_departure_time").state == "08:30:00"  # type: ignore[union-attr]


async def test_bad_restored_departure_keeps_the_default(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    await async_store_settings(
        hass, mock_config_entry.entry_id, [VIN], departure="unknown"
    )
    worker = await setup(hass, mock_config_entry)
    assert worker.tracker.car(VIN).settings.departure.isoformat() == "07:00:00"
    # The entity is there, shows the default and still takes a new value.
    state = hass.states.get("time.test_departure_time")
    assert state is not None
    assert state.state == "07:00:00"
    await hass.services.async_call(
        "time",
        "set_value",
        {ATTR_ENTITY_ID: "time.test_departure_time", "time": "06:45:00"},
        blocking=True,
    )
    assert worker.tracker.car(VIN).settings.departure.isoformat() == "06:45:00"
    assert hass.states.get("time.test_departure_time").state == "06:45:00"  # type: ignore[union-attr]


async def test_run_worker_button_and_actions(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
) -> None:
    await setup(hass, mock_config_entry)
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: "button.test_run_worker"}, blocking=True
    )
    response = await hass.services.async_call(
        DOMAIN,
        "run_worker",
        {"config_entry_id": mock_config_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert response == {"results": {VIN: "skipped"}}
    response = await hass.services.async_call(
        DOMAIN,
        "run_worker",
        {"config_entry_id": mock_config_entry.entry_id, "vin": VIN, "force": True},
        blocking=True,
        return_response=True,
    )
    assert response == {"results": {VIN: "planned"}}
    assert [e["trigger"] for e in events] == ["init", "button", "action"]

    plan = await hass.services.async_call(
        DOMAIN,
        "get_charging_plan",
        {"config_entry_id": mock_config_entry.entry_id, "vin": VIN},
        blocking=True,
        return_response=True,
    )
    assert plan is not None
    assert plan["smart_charging"] is False
    assert plan["departure_time"] == "07:00:00"
    details: dict[str, Any] = dict(plan)
    assert details["plan"]["reason"] == "cheapest_window"
    assert details["last_run"]["trigger"] == "action"

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_charging_plan",
            {"config_entry_id": mock_config_entry.entry_id, "vin": "X" * 17},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "vehicle_not_in_entry"


async def test_unpaired_key_raises_a_repair_issue(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.unpaired = {VIN}
    worker = await setup(hass, mock_config_entry)
    issue_id = f"key_not_paired_{mock_config_entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    # The fix publishes the integration's own key (``test_key_repair.py``).
    assert issue.is_fixable
    assert issue.translation_placeholders == {"vehicles": "Test"}
    assert_placeholders_given(issue)
    assert fleet.count("fleet_status") == 1

    fleet.unpaired = set()
    await worker.pairing.async_check()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_key_pairing_check_failure_is_quiet(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    issue_registry: ir.IssueRegistry,
) -> None:
    fleet.unpaired.add(VIN)
    fleet.fail_next("fleet_status", 500, None)
    await setup(hass, mock_config_entry)
    # The check ran (once) and failed: no repair, and no error for the user.
    assert fleet.count("fleet_status") == 1
    assert not issue_registry.issues


async def test_rate_limit_stops_worker_reads_but_plans(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=5))  # the init run's read is no longer fresh
    fleet.fail_next("data", 429, {"error": "rate limited"}, {"Retry-After": "600"})
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.requests == 2  # a free state check, then the read Tesla refused
    assert run.plan is not None
    reads = fleet.count("data")

    # Within Retry-After: no read at all, not even to wake the car for a new plan.
    worker.tracker.set_settings(VIN, departure=time(23))
    freezer.tick(timedelta(minutes=5))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.requests == 0
    assert run.result == "planned"
    assert fleet.count("data") == reads
    assert fleet.count("wake") == 0

    # A command the user asks for is still sent.
    await start_charging(hass)
    assert fleet.count("charge_start") == 1


async def test_a_rate_limited_state_check_plans_without_reading(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    reads = fleet.count("data")
    fleet.fail_next("record", 429, {"error": "rate limited"}, {"Retry-After": "60"})
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.result == "planned"
    assert fleet.count("data") == reads
    assert worker.tracker.retry_at is not None


async def test_a_car_that_falls_asleep_between_check_and_read(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    fleet.fail_next("data", 408, UNAVAILABLE)
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    # The schedule written at init is known: nothing to tell, nobody woken.
    assert run.reason == "schedule_up_to_date"
    assert fleet.count("wake") == 0
    assert worker.tracker.car(VIN).status.state == "asleep"


async def test_a_written_schedule_is_taken_as_written_without_a_paid_read_back(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    freezer: FrozenDateTimeFactory,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    written = worker.tracker.car(VIN).schedule
    assert written is not None
    # The user deleted our schedule in the Tesla app; the car says so.
    worker.tracker.note_schedule(VIN, (), time_module_now())
    reads = fleet.count("data")
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.commands == ("add_charge_schedule",)
    # Setup's read is still fresh, and nothing is read back after the write.
    assert fleet.count("data") == reads
    known = worker.tracker.car(VIN).schedule
    assert known is not None
    assert known.windows == written.windows


async def test_a_command_to_a_car_that_fell_asleep_wakes_it_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    # Fresh data says awake, but the car fell asleep just now.
    car.state = "asleep"
    worker.tracker.set_settings(VIN, departure=time(23))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.result == "applied"
    assert run.woke is True
    assert fleet.count("wake") == 1
    assert run.commands == ("add_charge_schedule",)


async def test_a_token_that_cannot_be_refreshed_ends_the_run_recorded(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    aioclient_mock.post(TOKEN_URL, status=502, text="<html>Bad gateway</html>")
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.result == "error"
    assert run.error == "TokenRefreshFailedError"
    assert events[-1]["result"] == "error"
    assert events[-1]["trigger"] == "action"
    assert worker.last_run(VIN) is run


def token_endpoint(aioclient_mock: AiohttpClientMocker, refusal: Any) -> list[Any]:
    """Tesla's token endpoint: ``refusal`` until the list returned is emptied."""
    refusals = [refusal]

    async def answer(
        method: str, url: URL, data: dict[str, Any]
    ) -> AiohttpClientMockResponse:
        if refusals:
            status, body = refusals[0]
            return AiohttpClientMockResponse(method, url, status=status, json=body)
        return AiohttpClientMockResponse(
            method,
            url,
            json={"access_token": "fresh", "refresh_token": "r2", "expires_in": 28800},
        )

    aioclient_mock.post(TOKEN_URL, side_effect=answer)
    return refusals


async def test_a_run_whose_token_was_not_refreshed_is_retried(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    """The token endpoint's blip is transient: the run is tried again."""
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    refusals = token_endpoint(aioclient_mock, (503, {"error": "unavailable"}))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.error == "TokenRefreshFailedError"
    refusals.clear()

    await pass_time(hass, freezer, timedelta(minutes=15))

    actions = [e["result"] for e in events if e["trigger"] == "action"]
    assert actions[0] == "error"
    assert len(actions) == 2
    assert actions[1] != "error"


async def test_a_run_whose_login_is_lost_is_not_retried(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    events: list[dict[str, Any]],
) -> None:
    """Tesla refused the refresh token: only the user can help, no retry."""
    worker = await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    token_endpoint(aioclient_mock, (401, {"error": "login_required"}))
    run = await worker.async_request_run(VIN, "action", force=True)
    assert run is not None
    assert run.error == "LoginRequiredError"

    for _ in range(3):
        await pass_time(hass, freezer, timedelta(minutes=61))

    assert [e["result"] for e in events if e["trigger"] == "action"] == ["error"]


@pytest.mark.parametrize(
    ("refusal", "kind", "key"),
    [
        ((503, {"error": "unavailable"}), HomeAssistantError, "token_refresh_failed"),
        ((401, {"error": "login_required"}), ConfigEntryAuthFailed, "login_required"),
    ],
    ids=["failed", "login_required"],
)
async def test_a_command_without_a_token_says_why(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    refusal: tuple[int, dict[str, str]],
    kind: type[HomeAssistantError],
    key: str,
) -> None:
    """The user is told of the token, not of an unreachable Tesla."""
    await setup(hass, mock_config_entry, smart=True)
    freezer.tick(timedelta(minutes=30))
    hass.config_entries.async_update_entry(
        mock_config_entry,
        data={**mock_config_entry.data, "token": token_data(expires_in=-1)},
    )
    token_endpoint(aioclient_mock, refusal)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "switch",
            "turn_on",
            {ATTR_ENTITY_ID: "switch.test_charging"},
            blocking=True,
        )
    assert type(err.value) is kind
    assert err.value.translation_key == key
    assert fleet.count("charge_start") == 0


async def test_a_run_that_failed_on_a_transient_error_is_retried(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    # Tesla answers the schedule with 503 at setup and at the first retry.
    fleet.fail_next("add_charge_schedule", 503, "<html>Service Unavailable</html>")
    fleet.fail_next("add_charge_schedule", 503, "<html>Service Unavailable</html>")
    await setup(hass, mock_config_entry, smart=True)
    assert [(e["result"], e["trigger"]) for e in events] == [("error", "init")]

    await pass_time(hass, freezer, timedelta(minutes=14))
    assert len(events) == 1  # not before 15 minutes

    await pass_time(hass, freezer, timedelta(minutes=1))
    assert [(e["result"], e["trigger"]) for e in events][1:] == [("error", "init")]

    # The second retry, an hour later, gets through; then no more retries.
    await pass_time(hass, freezer, timedelta(minutes=60))
    assert [e["result"] for e in events] == ["error", "error", "applied"]
    assert fleet.count("add_charge_schedule") == 3
    await pass_time(hass, freezer, timedelta(hours=3))
    assert len(events) == 3


async def test_retries_give_up_and_never_retry_what_needs_the_user(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fleet: FakeFleet,
    car: FakeCar,
    events: list[dict[str, Any]],
    freezer: FrozenDateTimeFactory,
) -> None:
    for _ in range(5):
        fleet.fail_next("add_charge_schedule", 500, None)
    await setup(hass, mock_config_entry, smart=True)
    for _ in range(4):
        await pass_time(hass, freezer, timedelta(minutes=61))
    # The run and two retries; then it waits for its next trigger.
    assert [e["result"] for e in events] == ["error"] * 3

    # Signed commands needed: the user must act, so no retry.
    fleet.faults.clear()
    fleet.fail_next(
        "add_charge_schedule",
        403,
        {"error": "Tesla Vehicle Command Protocol required, please refer to the docs"},
    )
    await hass.services.async_call(
        DOMAIN,
        "run_worker",
        {"config_entry_id": mock_config_entry.entry_id, "force": True},
        blocking=True,
    )
    await pass_time(hass, freezer, timedelta(hours=2))
    assert [e["result"] for e in events] == ["error"] * 4
