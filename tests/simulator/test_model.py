"""The lazy time engine: sleep, drives, charging, schedules, rate limits."""

from __future__ import annotations

import pytest

from simulator import (
    HOME_WARSAW,
    WORK_WARSAW,
    ChargeSchedule,
    CommandArgumentError,
    Drive,
    FleetSimulator,
    ManualClock,
    PlugIn,
    RateLimits,
    SimVehicle,
    Unplug,
    default_vehicle,
    distance_m,
    parse_days_of_week,
    parse_endpoints,
)
from simulator.render import vehicle_data

from .conftest import VIN, local

HOME_LAT, HOME_LON = HOME_WARSAW


def test_manual_clock() -> None:
    clock = ManualClock(100)
    assert clock() == 100
    assert clock.advance(5) == 105
    clock.set(50)
    assert clock() == 50
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)


def test_default_vehicle() -> None:
    vehicle = default_vehicle()
    assert vehicle.vin == "LRW3F7EK4NC000001"
    assert vehicle.position == HOME_WARSAW
    assert (vehicle.battery_level, vehicle.plugged_in) == (62.0, True)
    assert vehicle.charging_state == "Stopped"
    assert SimVehicle(vin="X", plugged_in=False).charging_state == "Disconnected"


def test_vehicles_and_ids(clock: ManualClock) -> None:
    sim = FleetSimulator(clock, vehicles=[], start_asleep=True)
    assert sim.vehicles == {}
    car = sim.add_vehicle(SimVehicle(vin="A"), asleep=True)
    assert (car.id, car.vehicle_id) == (100_001, 200_001)
    assert sim.find_vehicle("100001") is car
    assert sim.find_vehicle("nope") is None
    assert sim.state("A") == "asleep"
    with pytest.raises(ValueError, match="already exists"):
        sim.add_vehicle(SimVehicle(vin="A"))
    with pytest.raises(KeyError):
        sim.vehicle("nope")
    asleep = FleetSimulator(clock, start_asleep=True)
    assert asleep.state(VIN) == "asleep"


def test_idle_car_falls_asleep(sim: FleetSimulator, clock: ManualClock) -> None:
    clock.advance(899)
    assert sim.state(VIN) == "online"
    clock.advance(1)
    assert sim.state(VIN) == "asleep"
    clock.advance(3600)
    assert sim.awake_seconds(VIN) == pytest.approx(900)


def test_awake_time_caused_by_requests(sim: FleetSimulator, clock: ManualClock) -> None:
    """Only what requests add beyond the car's own 15 minutes counts as caused."""
    vehicle = sim.vehicle(VIN)
    clock.advance(600)
    sim.touch(vehicle)  # 10 min into its own 15: 10 more minutes awake
    clock.advance(3600)
    assert sim.state(VIN) == "asleep"
    assert sim.awake_seconds(VIN) == pytest.approx(1500)
    assert vehicle.awake_seconds_caused == pytest.approx(600)
    # Woken by a request: the whole time awake is caused.
    sim.request_wake(vehicle)
    clock.advance(3600)
    assert sim.awake_seconds(VIN) == pytest.approx(1500 + 900)
    assert vehicle.awake_seconds_caused == pytest.approx(600 + 900)
    # Plugged in and charging: a read while charging adds nothing; one at the
    # very end of the charge keeps it awake no longer than the car would.
    vehicle.battery_level = vehicle.charge_limit_soc - 1.0
    sim.schedule(VIN, PlugIn(clock()))
    clock.advance(60)
    sim.touch(vehicle)
    clock.advance(4 * 3600)
    assert sim.state(VIN) == "asleep"
    assert vehicle.charging_state == "Complete"
    assert vehicle.awake_seconds_caused == pytest.approx(600 + 900)
    assert sim.stats_dict()["awake_seconds_caused"][VIN] == pytest.approx(1500)
    sim.reset_stats()
    assert vehicle.awake_seconds_caused == 0.0


def test_sleep_after_and_wake_delay_are_configurable(clock: ManualClock) -> None:
    sim = FleetSimulator(clock, sleep_after=60, wake_delay=5)
    clock.advance(60)
    assert sim.state(VIN) == "asleep"
    assert sim.request_wake(sim.vehicle(VIN)) == "asleep"
    clock.advance(5)
    assert sim.state(VIN) == "online"
    clock.advance(60)
    assert sim.state(VIN) == "asleep"
    assert sim.awake_seconds(VIN) == pytest.approx(120)
    instant = FleetSimulator(clock, wake_delay=0, start_asleep=True)
    assert instant.request_wake(instant.vehicle(VIN)) == "asleep"
    assert instant.state(VIN) == "online"


def test_forced_state_and_clock_going_back(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    vehicle.forced_state = "online"
    clock.advance(7200)
    assert sim.state(VIN) == "online"
    assert sim.awake_seconds(VIN) == pytest.approx(7200)
    vehicle.forced_state = "asleep"
    assert sim.request_wake(vehicle) == "asleep"
    assert vehicle.wake_at is None
    clock.set(clock() - 3600)
    assert sim.state(VIN) == "asleep"
    assert sim.awake_seconds(VIN) == pytest.approx(7200)


def test_drive_interpolates_position_and_uses_energy(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    start = clock() + 60
    drive = Drive(start, HOME_WARSAW, WORK_WARSAW, 1800, destination_name="Work")
    sim.schedule(VIN, drive)
    vehicle = sim.vehicle(VIN)
    odometer = vehicle.odometer_km
    clock.set(start + 900)
    lat, lon = sim.position(vehicle)
    assert lat == pytest.approx((HOME_LAT + WORK_WARSAW[0]) / 2)
    assert lon == pytest.approx((HOME_LON + WORK_WARSAW[1]) / 2)
    assert vehicle.plugged_in is False
    assert vehicle.charging_state == "Disconnected"
    assert sim.state(VIN) == "online"
    km = distance_m(HOME_WARSAW, WORK_WARSAW) / 1000
    assert vehicle.odometer_km - odometer == pytest.approx(km / 2)
    assert vehicle.battery_level == pytest.approx(62 - km / 2 * 0.16 / 75 * 100)
    data = vehicle_data(sim, vehicle, ["location_data", "drive_state"])
    drive_state = data["drive_state"]
    assert drive_state["shift_state"] == "D"
    assert drive_state["speed"] == round(drive.speed_kmh / 1.609344)
    assert drive_state["heading"] == vehicle.heading
    assert 180 < drive_state["heading"] < 270  # south-west to work
    assert drive_state["active_route_destination"] == "Work"
    assert drive_state["active_route_minutes_to_arrival"] == pytest.approx(15)
    assert drive_state["power"] > 0
    clock.set(start + 1800)
    assert sim.position(vehicle) == WORK_WARSAW
    assert vehicle.battery_level == pytest.approx(62 - km * 0.16 / 75 * 100)
    # Idle from arrival: asleep 15 minutes after parking.
    clock.advance(899)
    assert sim.state(VIN) == "online"
    clock.advance(1)
    assert sim.state(VIN) == "asleep"
    assert sim.awake_seconds(VIN) == pytest.approx(60 + 1800 + 900)
    parked = vehicle_data(sim, vehicle, ["location_data"])["drive_state"]
    assert parked["shift_state"] is None
    assert parked["speed"] is None
    assert "active_route_destination" not in parked


def test_drive_validation() -> None:
    with pytest.raises(ValueError, match="positive duration"):
        Drive(0, HOME_WARSAW, WORK_WARSAW, 0)


def test_events_in_the_past_collapse_in_order(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    now = clock()
    sim.schedule(
        VIN,
        Drive(now - 7200, HOME_WARSAW, WORK_WARSAW, 1800),
        Unplug(now - 100),
    )
    vehicle = sim.vehicle(VIN)
    assert vehicle.position == WORK_WARSAW
    assert vehicle.battery_level < 62
    assert vehicle.pending == []
    assert vehicle.charging_state == "Disconnected"


def test_overlapping_drives_and_plugging_while_driving(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    start = clock() + 10
    sim.schedule(
        VIN,
        Drive(start, HOME_WARSAW, WORK_WARSAW, 1000),
        PlugIn(start + 100),
        Drive(start + 500, (52.0, 21.0), HOME_WARSAW, 600),
    )
    clock.set(start + 500)
    vehicle = sim.vehicle(VIN)
    assert vehicle.plugged_in is False  # nobody plugs in a moving car
    assert vehicle.drive is not None
    assert vehicle.drive.origin == (52.0, 21.0)
    clock.set(start + 1100)
    assert sim.position(vehicle) == HOME_WARSAW
    assert vehicle.driving is False


def test_charge_start_charges_to_the_limit(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    assert sim.execute_command(vehicle, "charge_start", {}) == (True, "")
    # 11 kW into 75 kWh: 18 % takes 13.5 kWh / 11 kW = 4418 s.
    clock.advance(3600)
    assert sim.vehicle(VIN).battery_level == pytest.approx(62 + 11 / 75 * 100)
    assert sim.state(VIN) == "online"
    data = vehicle_data(sim, vehicle, ["charge_state", "drive_state"])
    assert data["charge_state"]["minutes_to_full_charge"] == round(818 / 60)
    assert data["charge_state"]["charge_energy_added"] == pytest.approx(11)
    assert data["drive_state"]["power"] == -11
    clock.advance(818.2)
    assert vehicle.charging_state == "Charging"
    clock.advance(1)
    assert sim.vehicle(VIN).charging_state == "Complete"
    assert vehicle.battery_level == 80
    assert sim.execute_command(vehicle, "charge_start", {}) == (False, "complete")
    # Raising the limit resumes a finished charge, lowering it completes one.
    assert sim.execute_command(vehicle, "set_charge_limit", {"percent": 90}) == (
        True,
        "",
    )
    assert sim.vehicle(VIN).charging_state == "Charging"
    assert sim.execute_command(vehicle, "set_charge_limit", {"percent": 80}) == (
        True,
        "",
    )
    assert sim.vehicle(VIN).charging_state == "Complete"
    # The car sleeps 15 minutes after the charge completed.
    clock.advance(900)
    assert sim.state(VIN) == "asleep"


def test_amps_limit_power_and_zero_amps_never_finish(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    sim.execute_command(vehicle, "set_charging_amps", {"charging_amps": 0})
    sim.execute_command(vehicle, "charge_start", {})
    assert vehicle.charge_power_kw == 0
    clock.advance(36000)
    assert sim.vehicle(VIN).battery_level == 62
    assert vehicle.charging_state == "Charging"
    assert vehicle.seconds_to_limit() == float("inf")


def test_plug_in_starts_charging_unless_a_schedule_waits(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    sim.unplug(VIN)
    sim.plug_in(VIN)
    assert sim.vehicle(VIN).charging_state == "Charging"
    sim.unplug(VIN)
    sim.plug_in(VIN, auto_start=False)
    assert sim.vehicle(VIN).charging_state == "Stopped"
    sim.unplug(VIN)
    vehicle = sim.vehicle(VIN)
    vehicle.battery_level = 85
    sim.plug_in(VIN)
    assert vehicle.charging_state == "Complete"


def _schedule(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "days_of_week": "All",
        "enabled": True,
        "start_enabled": True,
        "end_enabled": True,
        "start_time": 22 * 60,
        "end_time": 6 * 60,
        "lat": HOME_LAT,
        "lon": HOME_LON,
    }
    body.update(overrides)
    return body


def test_charge_schedule_starts_and_ends(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    vehicle.battery_level = 20
    vehicle.charge_limit_soc = 100
    vehicle.charge_amps = 8  # 5.52 kW: the night is too short to fill up
    assert sim.execute_command(vehicle, "add_charge_schedule", _schedule()) == (
        True,
        "",
    )
    sim.unplug(VIN)
    sim.plug_in(VIN)
    assert vehicle.charging_state == "Stopped"  # waits for 22:00
    clock.set(local(16, 21, 59))
    assert sim.vehicle(VIN).charging_state == "Stopped"
    assert sim.state(VIN) == "asleep"
    clock.set(local(16, 22, 0))
    assert sim.vehicle(VIN).charging_state == "Charging"
    assert sim.state(VIN) == "online"
    clock.set(local(17, 6, 0))
    assert sim.vehicle(VIN).charging_state == "Stopped"
    assert vehicle.battery_level == pytest.approx(20 + 8 * 5.52 / 75 * 100)
    clock.set(local(17, 6, 15))
    assert sim.state(VIN) == "asleep"
    # Plugged in inside the window: starts at once; a short night completes.
    vehicle.charge_amps = 16
    vehicle.charge_limit_soc = 80
    sim.unplug(VIN)
    clock.set(local(17, 23, 0))
    sim.plug_in(VIN)
    assert sim.vehicle(VIN).charging_state == "Charging"
    clock.set(local(18, 6, 0))
    assert sim.vehicle(VIN).charging_state == "Complete"
    assert vehicle.battery_level == 80


def test_schedule_elsewhere_or_other_day_is_ignored(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    far = _schedule(lat=HOME_LAT + 0.01, start_time=13 * 60, end_enabled=False)
    sim.execute_command(vehicle, "add_charge_schedule", far)
    # Monday 16 June: a Sunday-only schedule does not fire.
    sunday = _schedule(days_of_week="Sunday", start_time=13 * 60, end_enabled=False)
    sim.execute_command(vehicle, "add_charge_schedule", sunday)
    sim.unplug(VIN)
    sim.plug_in(VIN)
    # The schedule here (Sundays) makes the car wait; the far one does not count.
    assert vehicle.charging_state == "Stopped"
    clock.set(local(16, 14, 0))
    assert sim.vehicle(VIN).charging_state == "Stopped"
    clock.set(local(22, 13, 0))  # Sunday
    assert sim.vehicle(VIN).charging_state == "Charging"


def test_one_time_schedule_disables_itself(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    vehicle.charge_limit_soc = 100
    sim.execute_command(
        vehicle,
        "add_charge_schedule",
        _schedule(one_time=True, start_time=13 * 60, end_enabled=False),
    )
    sim.execute_command(
        vehicle,
        "add_charge_schedule",
        _schedule(one_time=True, start_time=14 * 60, end_time=15 * 60),
    )
    clock.set(local(16, 13, 0))
    assert sim.vehicle(VIN).charging_state == "Charging"
    assert [s.enabled for s in vehicle.charge_schedules] == [False, True]
    clock.set(local(16, 15, 0))
    assert sim.vehicle(VIN).charging_state == "Stopped"
    assert [s.enabled for s in vehicle.charge_schedules] == [False, False]


def test_scheduled_charging_start_time(sim: FleetSimulator, clock: ManualClock) -> None:
    vehicle = sim.vehicle(VIN)
    assert sim.next_scheduled_charging_start(vehicle) is None
    sim.execute_command(
        vehicle, "set_scheduled_charging", {"enable": True, "time": 13 * 60}
    )
    assert sim.next_scheduled_charging_start(vehicle) == local(16, 13, 0)
    sim.unplug(VIN)
    sim.plug_in(VIN)
    assert vehicle.charging_state == "Stopped"
    charge = vehicle_data(sim, vehicle, ["charge_state"])["charge_state"]
    assert charge["scheduled_charging_start_time"] == int(local(16, 13, 0))
    assert charge["scheduled_charging_pending"] is True
    clock.set(local(16, 13, 0))
    assert sim.vehicle(VIN).charging_state == "Charging"
    assert sim.next_scheduled_charging_start(vehicle) == local(17, 13, 0)
    sim.execute_command(vehicle, "charge_stop", {})
    sim.execute_command(vehicle, "set_scheduled_charging", {"enable": False})
    assert sim.next_scheduled_charging_start(vehicle) is None
    # A full car stays complete when the start time comes.
    sim.execute_command(
        vehicle, "set_scheduled_charging", {"enable": True, "time": 14 * 60}
    )
    vehicle.battery_level = 80
    clock.set(local(16, 14, 0))
    assert sim.vehicle(VIN).charging_state == "Complete"


def test_schedule_limit_and_ids(sim: FleetSimulator, clock: ManualClock) -> None:
    vehicle = sim.vehicle(VIN)
    for _ in range(10):
        assert sim.execute_command(vehicle, "add_charge_schedule", _schedule()) == (
            True,
            "",
        )
    ids = [s.id for s in vehicle.charge_schedules]
    assert ids == list(range(int(clock()), int(clock()) + 10))
    assert sim.execute_command(vehicle, "add_charge_schedule", _schedule()) == (
        False,
        "max_schedules_reached",
    )
    # Modifying an existing one still works at the limit.
    changed = _schedule(id=ids[0], name="Night", days_of_week=5)
    assert sim.execute_command(vehicle, "add_charge_schedule", changed) == (True, "")
    assert vehicle.charge_schedules[0] == ChargeSchedule(
        id=ids[0],
        name="Night",
        days_of_week=5,
        enabled=True,
        start_enabled=True,
        start_time=1320,
        end_enabled=True,
        end_time=360,
        latitude=HOME_LAT,
        longitude=HOME_LON,
    )


@pytest.mark.parametrize(
    ("value", "mask"),
    [
        ("All", 127),
        ("Weekdays", 62),
        ("weekends", 65),
        ("Monday,Friday", 34),
        ("sun, sat", 65),
        (3, 3),
    ],
)
def test_days_of_week(value: object, mask: int) -> None:
    assert parse_days_of_week(value) == mask


@pytest.mark.parametrize("value", ["Someday", 0, 128, True, None, 1.5])
def test_bad_days_of_week(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_days_of_week(value)


@pytest.mark.parametrize(
    "body",
    [
        _schedule(days_of_week="Never"),
        _schedule(enabled="yes"),
        _schedule(start_time=1440),
        _schedule(start_time=1.5),
        _schedule(lat="52"),
        _schedule(name=5),
    ],
)
def test_bad_schedule_bodies(sim: FleetSimulator, body: dict[str, object]) -> None:
    with pytest.raises(CommandArgumentError):
        sim.execute_command(sim.vehicle(VIN), "add_charge_schedule", body)


def test_rate_limit_window(sim: FleetSimulator, clock: ManualClock) -> None:
    sim.rate_limits = RateLimits(data=2, window=10)
    assert sim.check_rate_limit(VIN, "data") is None
    clock.advance(3)
    assert sim.check_rate_limit(VIN, "data") is None
    assert sim.check_rate_limit(VIN, "data") == 7
    assert sim.check_rate_limit("other", "data") is None
    clock.advance(6.5)
    assert sim.check_rate_limit(VIN, "data") == 1
    clock.advance(0.5)
    assert sim.check_rate_limit(VIN, "data") is None


def test_parse_endpoints() -> None:
    assert parse_endpoints(None)[0] == "charge_state"
    assert "location_data" not in parse_endpoints(None)
    assert parse_endpoints(";;") == parse_endpoints(None)
    assert parse_endpoints("a; b,c") == ["a", "b", "c"]


def test_move_and_sleep_helpers(sim: FleetSimulator, clock: ManualClock) -> None:
    sim.move_to(VIN, 50.0, 19.0)
    assert sim.position(sim.vehicle(VIN)) == (50.0, 19.0)
    sim.put_to_sleep(VIN)
    assert sim.state(VIN) == "asleep"
    sim.schedule(VIN, Drive(clock(), (50.0, 19.0), HOME_WARSAW, 600))
    with pytest.raises(ValueError, match="driving"):
        sim.move_to(VIN, 1, 2)
    assert sim.utc_offset() == 7200


def test_schedule_with_new_id_end_only_and_removal(
    sim: FleetSimulator, clock: ManualClock
) -> None:
    vehicle = sim.vehicle(VIN)
    end_only = _schedule(id=7, start_enabled=False, end_time=13 * 60)
    del end_only["start_time"]
    assert sim.execute_command(vehicle, "add_charge_schedule", end_only) == (True, "")
    sim.execute_command(vehicle, "add_charge_schedule", _schedule(id=8))
    assert [s.id for s in vehicle.charge_schedules] == [7, 8]
    assert vehicle.charge_schedules[0].start_enabled is False
    # An end-only schedule lets a plugged-in car charge and stops it at the end.
    sim.unplug(VIN)
    sim.plug_in(VIN)
    assert vehicle.charging_state == "Stopped"  # the 22:00 schedule waits
    sim.execute_command(vehicle, "charge_start", {})
    clock.set(local(16, 13, 0))
    assert sim.vehicle(VIN).charging_state == "Stopped"
    assert sim.execute_command(vehicle, "remove_charge_schedule", {"id": 8}) == (
        True,
        "",
    )
    assert [s.id for s in vehicle.charge_schedules] == [7]


def test_seconds_to_limit_when_full() -> None:
    vehicle = SimVehicle(vin="X", battery_level=90, charging_state="Charging")
    assert vehicle.seconds_to_limit() == 0
    assert vehicle.range_km == 450
