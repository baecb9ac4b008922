"""Timeline builders: ready-made days in the life of a simulated car."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from .model import FleetSimulator
from .vehicle import (
    HOME_WARSAW,
    WORK_WARSAW,
    Drive,
    LatLon,
    PlugIn,
    TimelineEvent,
)

SATURDAY: Final = 5


def commute(
    sim: FleetSimulator,
    vin: str,
    start_day_epoch: float,
    *,
    days: int = 5,
    home: LatLon = HOME_WARSAW,
    work: LatLon = WORK_WARSAW,
    tz: str = "Europe/Warsaw",
    leave_home: time = time(7, 30),
    leave_work: time = time(16, 30),
    drive_minutes: float = 30.0,
    plug_in_after_minutes: float = 5.0,
    weekdays_only: bool = False,
) -> list[TimelineEvent]:
    """Schedule a daily commute and return the events.

    Starting on the local day containing ``start_day_epoch``, for ``days``
    days: leave home at 07:30, drive 30 minutes to work, leave work at 16:30,
    arrive home at 17:00 and plug in at 17:05 (all local time in ``tz``).
    """
    zone = ZoneInfo(tz)
    first = datetime.fromtimestamp(start_day_epoch, zone).date()
    duration = drive_minutes * 60
    events: list[TimelineEvent] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if weekdays_only and day.weekday() >= SATURDAY:
            continue
        morning = datetime.combine(day, leave_home, tzinfo=zone).timestamp()
        evening = datetime.combine(day, leave_work, tzinfo=zone).timestamp()
        events.extend(
            (
                Drive(morning, home, work, duration, destination_name="Work"),
                Drive(evening, work, home, duration, destination_name="Home"),
                PlugIn(evening + duration + plug_in_after_minutes * 60),
            )
        )
    sim.schedule(vin, *events)
    return events


DEMO_AWAY: Final[LatLon] = (52.2522, 21.0122)
"""Where the demo car waits: 2.5 km north of the simulator's home."""


def demo(
    sim: FleetSimulator, vin: str, *, away: LatLon = DEMO_AWAY, battery: float = 48.0
) -> None:
    """A car asleep away from home, half charged, waiting to be sent home.

    ``POST /sim/vehicles/{vin}`` with ``drive_to`` (``scripts/develop`` does it
    once Home Assistant is up) brings it home, where it is plugged in. Like
    almost every Tesla since 2024 it accepts only signed commands: the
    development instance signs them itself, with the key it serves and pairs.
    """
    vehicle = sim.vehicle(vin)
    vehicle.plugged_in = False
    vehicle.charging_state = "Disconnected"
    vehicle.battery_level = battery
    vehicle.command_signing = "required"
    sim.move_to(vin, *away)
    sim.put_to_sleep(vin)
