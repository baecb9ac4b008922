"""Our charge schedules in a car: which are ours, and what ours should be.

A plan becomes up to :data:`OWN_SCHEDULES` schedules in the car, one per slot,
each with a stable id per car and slot (:func:`schedule_id_for`), every day,
repeating, at our home (:func:`schedule_windows_for`). What the car reports is
read back into a :class:`KnownSchedule` (:func:`own_schedules`): ours by id, or
by shape (:func:`written_by_us`) when the car or Tesla's proxy renumbered one,
so repeated runs change the same schedules and never pile them up. Pure: the
worker run writes, the tracker keeps what the car said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import zlib

from ..fleet import ChargeSchedule
from .geo import Home
from .plan import MAX_WINDOWS, ChargingPlan

OWN_SCHEDULES = MAX_WINDOWS
"""Charge schedules of this integration in one car, at most."""
type ScheduleWindows = tuple[tuple[int, int] | None, ...]
"""This integration's schedules in one car, by slot: (start, end) in local
minutes after midnight, or ``None`` for a slot without an enabled schedule.
Slot ``i`` is the schedule with id :func:`schedule_id_for` ``(vin, i)``, or
one of ours the car keeps under its own id (see :func:`own_schedules`)."""


def schedule_slots(windows: Sequence[tuple[int, int] | None]) -> ScheduleWindows:
    """``windows`` as exactly :data:`OWN_SCHEDULES` slots (padded with ``None``)."""
    slots = tuple(windows)[:OWN_SCHEDULES]
    return slots + (None,) * (OWN_SCHEDULES - len(slots))


@dataclass(frozen=True)
class KnownSchedule:
    """This integration's charge schedules in the car, as the car last said.

    ``windows`` holds one entry per slot (see :data:`ScheduleWindows`); a
    plan of one window uses slot 0. Taken from what the car accepted, then
    from ``charge_schedule_data`` at each read, and saved across restarts:
    "must the car be told anything?" is answered from it.
    """

    windows: ScheduleWindows
    known_at: float
    ids: tuple[int | None, ...] = ()
    """The car's own id of each slot's schedule, as last read back (``None``:
    not read back; the slot's id of :func:`schedule_id_for` is used then). A
    car or proxy may renumber what it is sent, so writes go to these ids."""
    strays: tuple[int, ...] = ()
    """The car's ids of further copies of our schedules (more than the slots
    hold): removed at the next write."""

    def __post_init__(self) -> None:
        """Always :data:`OWN_SCHEDULES` slots, of windows and of ids."""
        object.__setattr__(self, "windows", schedule_slots(self.windows))
        ids = tuple(self.ids)[:OWN_SCHEDULES]
        object.__setattr__(self, "ids", ids + (None,) * (OWN_SCHEDULES - len(ids)))
        object.__setattr__(self, "strays", tuple(self.strays))

    def car_id(self, vin: str, slot: int) -> int:
        """The id to change or remove the schedule in ``slot`` with."""
        known = self.ids[slot]
        return known if known is not None else schedule_id_for(vin, slot)

    @property
    def unconfirmed(self) -> bool:
        """A schedule was written that the car has not shown since (id unknown)."""
        return any(
            window is not None and car_id is None
            for window, car_id in zip(self.windows, self.ids, strict=True)
        )


SCHEDULE_DAYS = "All"
"""``days_of_week`` as written: every day (read back as :data:`ALL_DAYS_MASK`)."""
FIRST_ADD_CHARGE_SCHEDULE_FIRMWARE = (2024, 26)
"""``add_charge_schedule`` replaced ``set_scheduled_charging`` in 2024.26."""


def supports_charge_schedules(firmware: tuple[int, int] | None) -> bool:
    """Current firmware: charge schedules (else the older scheduled charging)."""
    return firmware is None or firmware >= FIRST_ADD_CHARGE_SCHEDULE_FIRMWARE


def minutes_after_midnight(moment: datetime, *, round_up: bool = False) -> int:
    """Local minutes after midnight, as the car's schedule wants them.

    ``round_up`` for an end time, so the window never ends early.
    """
    minutes = moment.hour * 60 + moment.minute
    if round_up and (moment.second or moment.microsecond):
        minutes += 1
    return minutes % (24 * 60)


def schedule_windows_for(plan: ChargingPlan) -> ScheduleWindows | None:
    """The schedules that follow ``plan``, by slot; ``None``: charge now."""
    if plan.reason not in ("cheapest_window", "cheapest_windows"):
        return None
    return schedule_slots(
        [
            (
                minutes_after_midnight(window.start),
                minutes_after_midnight(window.end, round_up=True),
            )
            for window in plan.windows
        ]
    )


def schedule_id_for(vin: str, slot: int = 0) -> int:
    """The stable id of this integration's charge schedule ``slot`` in one car.

    Slot 0 is the one schedule of a single-window plan (the id it always had);
    a split plan adds slots 1 and 2.
    """
    return 1_000_000 + zlib.crc32(vin.encode()) % 1_000_000 + slot


def own_schedules(
    vin: str,
    schedules: Sequence[ChargeSchedule],
    home: Home,
    known: KnownSchedule | None,
    now: float,
) -> KnownSchedule:
    """Our schedules among the car's, by slot, with the car's own ids.

    Ours by id first (the id :func:`schedule_id_for` gives the slot). A car
    (or Tesla's proxy, which gives an id of 0 the current epoch time) may keep
    a schedule under another id: one at our home to the car's float32
    precision, every day, repeating, is ours too. It goes back to the slot
    whose known window it has, else to a free slot; more copies than slots
    are strays, to be removed. So a car that renumbers never collects copies.
    """
    own_ids = {schedule_id_for(vin, slot): slot for slot in range(OWN_SCHEDULES)}
    slots: list[ChargeSchedule | None] = [None] * OWN_SCHEDULES
    renumbered: list[ChargeSchedule] = []
    for schedule in schedules:
        slot = own_ids.get(schedule.id)
        if slot is not None:
            slots[slot] = schedule
        elif written_by_us(schedule, home):
            renumbered.append(schedule)
    expected = known.windows if known is not None else schedule_slots(())
    renumbered.sort(key=lambda schedule: schedule.id)
    unplaced: list[ChargeSchedule] = []
    for schedule in renumbered:  # first back to the slot of the same window
        same = [
            slot
            for slot, held in enumerate(slots)
            if held is None and expected[slot] == _window_of(schedule)
        ]
        if same:
            slots[same[0]] = schedule
        else:
            unplaced.append(schedule)
    strays: list[int] = []
    for schedule in unplaced:
        free = [slot for slot, held in enumerate(slots) if held is None]
        if free:
            slots[free[0]] = schedule
        else:
            strays.append(schedule.id)
    return KnownSchedule(
        windows=tuple(_window_of(schedule) for schedule in slots),
        known_at=now,
        ids=tuple(schedule.id if schedule else None for schedule in slots),
        strays=tuple(strays),
    )


ALL_DAYS_MASK = 127
"""``days_of_week`` as read back: Sunday = 1 … Saturday = 64, every day 127."""


def written_by_us(schedule: ChargeSchedule, home: Home) -> bool:
    """A schedule of the shape we write: at our home, every day, repeating.

    The car keeps latitude and longitude as float32 (about 2 m of longitude
    at 180°): equal to our home within that, not to the last digit. A
    schedule made in the Tesla app takes the car's own position, which is
    never our configured home to that precision.
    """
    if schedule.one_time or schedule.latitude is None or schedule.longitude is None:
        return False
    days = schedule.days_of_week
    every_day = days == ALL_DAYS_MASK or (
        isinstance(days, str) and days.strip().lower() == "all"
    )
    return (
        every_day
        and _same_at_float32(schedule.latitude, home.latitude)
        and _same_at_float32(schedule.longitude, home.longitude)
    )


FLOAT32_MANTISSA = 2.0**-23
"""A float32's relative precision: what a stored coordinate may be off by."""


def _same_at_float32(stored: float, ours: float) -> bool:
    # Plus a micro-degree: some answers round the stored value to 6 decimals.
    return abs(stored - ours) <= abs(ours) * FLOAT32_MANTISSA + 1e-6


def _window_of(schedule: ChargeSchedule | None) -> tuple[int, int] | None:
    """An enabled schedule's (start, end); ``-1`` for no end."""
    if schedule is None or not schedule.enabled or schedule.start_time is None:
        return None
    end = schedule.end_time if schedule.end_time is not None else -1
    return schedule.start_time, end
