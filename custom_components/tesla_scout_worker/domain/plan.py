"""What a charging plan is: the request, its windows, the answer and its words.

The planner (:mod:`.planner`) finds the cheapest plan; this module holds what
goes in and comes out: :class:`PlanRequest` (the car and the user's wishes,
validated), :class:`ChargingPlan` with its :class:`ChargeWindow` list, and how
a plan explains itself and is summarised for people and for JSON. The worker
run, the store and the sensors read these without the cost arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any, Final, Literal

from .tariffs import require_aware, require_finite

__all__ = [
    "MAX_WINDOWS",
    "ChargeWindow",
    "ChargingPlan",
    "PlanReason",
    "PlanRequest",
]

PlanReason = Literal[
    "already_at_target",
    "cheapest_window",
    "cheapest_windows",
    "cannot_reach_target",
    "no_tariff",
]
MAX_WINDOWS: Final = 3
"""At most this many windows (charge schedules) in one plan."""

MICROS_PER_HOUR: Final = 3_600_000_000


@dataclass(frozen=True, kw_only=True)
class PlanRequest:
    """What the planner needs to know about the car and the user's wishes.

    Levels are state of charge in percent (0–100), ``capacity_kwh`` the usable
    battery capacity, ``charger_power_kw`` the power drawn from the grid while
    charging, ``efficiency`` the share of grid energy that reaches the battery
    (0 < e ≤ 1). ``now`` and ``departure`` are timezone-aware. Invalid values
    raise ``ValueError`` with a message naming the field.
    """

    now: datetime
    battery_level: float
    target_level: float
    capacity_kwh: float
    charger_power_kw: float
    efficiency: float = 0.9
    departure: datetime

    def __post_init__(self) -> None:
        """Validate the request."""
        require_aware(self.now, "now")
        require_aware(self.departure, "departure")
        for name in (
            "battery_level",
            "target_level",
            "capacity_kwh",
            "charger_power_kw",
            "efficiency",
        ):
            require_finite(getattr(self, name), name)
        for name in ("battery_level", "target_level"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(
                    f"{name} must be between 0 and 100 %, got {getattr(self, name)}"
                )
        if self.capacity_kwh <= 0:
            raise ValueError(f"capacity_kwh must be positive, got {self.capacity_kwh}")
        if self.charger_power_kw <= 0:
            raise ValueError(
                f"charger_power_kw must be positive, got {self.charger_power_kw}"
            )
        if not 0 < self.efficiency <= 1:
            raise ValueError(f"efficiency must be in (0, 1], got {self.efficiency}")
        if self.departure.astimezone(UTC) < self.now.astimezone(UTC):
            raise ValueError(
                f"departure {self.departure.isoformat()} is before "
                f"now {self.now.isoformat()}"
            )

    @property
    def energy_kwh(self) -> float:
        """Energy drawn from the grid to reach the target (0 when at target)."""
        gap = max(0.0, self.target_level - self.battery_level)
        return gap / 100 * self.capacity_kwh / self.efficiency

    @property
    def duration(self) -> timedelta:
        """Charging time at full power, rounded up to the microsecond."""
        hours = self.energy_kwh / self.charger_power_kw
        return timedelta(microseconds=math.ceil(hours * MICROS_PER_HOUR))


@dataclass(frozen=True, kw_only=True)
class ChargeWindow:
    """One window of a plan: when, how much energy, at what cost."""

    start: datetime
    end: datetime
    energy_kwh: float
    cost: float | None

    @property
    def average_price(self) -> float | None:
        """Cost per kWh over the window."""
        if self.cost is None or self.energy_kwh <= 0:
            return None
        return self.cost / self.energy_kwh

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "energy_kwh": round(self.energy_kwh, 3),
            "cost": _round(self.cost, 2),
            "average_price": _round(self.average_price, 4),
        }


@dataclass(frozen=True, kw_only=True)
class ChargingPlan:
    """The planner's answer.

    ``start``/``end`` bound the single charging window (``None`` when no
    charging is needed). ``energy_kwh`` is drawn from the grid, ``cost`` is its
    price over the window (``None`` without prices), ``average_price`` the cost
    per kWh, ``cost_if_now`` the cost of charging at once from ``now``.
    ``feasible`` is false when the target cannot be reached by departure.
    ``reason`` is one of ``already_at_target``, ``cheapest_window``,
    ``cheapest_windows`` (several windows), ``cannot_reach_target`` or
    ``no_tariff``. ``departure`` echoes the request; ``prices_until`` is set
    when the forecast ended before departure and the window was chosen among
    the known prices only. ``windows`` lists the charging windows in time
    order (one unless split; none without charging): ``start`` is the first
    one's start, ``end`` the last one's end. ``cost_single_window`` is the
    best single window's cost, kept when a split plan beat it.
    """

    start: datetime | None
    end: datetime | None
    energy_kwh: float
    duration: timedelta
    cost: float | None
    average_price: float | None
    cost_if_now: float | None
    feasible: bool
    reason: PlanReason
    departure: datetime | None = None
    prices_until: datetime | None = None
    windows: tuple[ChargeWindow, ...] = ()
    cost_single_window: float | None = None

    def __post_init__(self) -> None:
        """A plan with a start has at least its one window."""
        if not self.windows and self.start is not None and self.end is not None:
            window = ChargeWindow(
                start=self.start,
                end=self.end,
                energy_kwh=self.energy_kwh,
                cost=self.cost,
            )
            object.__setattr__(self, "windows", (window,))

    @property
    def saving(self) -> float | None:
        """What the plan saves against charging at once, when both are known."""
        if self.cost is None or self.cost_if_now is None:
            return None
        return self.cost_if_now - self.cost

    @property
    def saving_vs_single_window(self) -> float | None:
        """What splitting saves against the best single window."""
        if self.cost is None or self.cost_single_window is None:
            return None
        return self.cost_single_window - self.cost

    @property
    def explanation(self) -> str:
        """A short English sentence naming the window, energy and cost."""
        if self.start is None or self.end is None:
            return "The battery is already at or above the target; no charging needed."
        window = (
            f"{self.energy_kwh:.1f} kWh from {_clock(self.start)} "
            f"to {_clock(self.end)} ({_span(self.duration)})"
        )
        if self.reason == "no_tariff":
            return f"No price information; charging now: {window}."
        if self.reason == "cheapest_windows":
            return self._split_explanation()
        cost = "" if self.cost is None else f", cost {self.cost:.2f}"
        if self.reason == "cannot_reach_target":
            before = "" if self.departure is None else f" ({_clock(self.departure)})"
            return (
                f"The target cannot be reached before departure{before}; "
                f"charging as soon as possible: {window}{cost}."
            )
        text = f"Cheapest window: {window}"
        if self.average_price is not None:
            text += f" at {self.average_price:.3f}/kWh on average"
        return f"{text}{cost}{self._against_now()}{self._known_until()}."

    def _against_now(self) -> str:
        """``, saving … against charging now (…)`` when both costs are known."""
        if self.saving is None or self.cost_if_now is None:
            return ""
        return (
            f", saving {self.saving:.2f} against charging now ({self.cost_if_now:.2f})"
        )

    def _known_until(self) -> str:
        """``; prices known only until …`` when the forecast ended early."""
        if self.prices_until is None:
            return ""
        return f"; prices known only until {_clock(self.prices_until)}"

    def _split_explanation(self) -> str:
        parts = []
        for window in self.windows:
            text = (
                f"{_clock(window.start)}–{_clock(window.end)[-5:]} "
                f"({window.energy_kwh:.1f} kWh"
            )
            if window.average_price is not None:
                text += f" at {window.average_price:.3f}/kWh"
            parts.append(text + ")")
        text = (
            f"Cheapest {len(self.windows)} windows: {', '.join(parts[:-1])} and "
            f"{parts[-1]}; {self.energy_kwh:.1f} kWh in "
            f"{_span(self.duration)}"
        )
        if self.cost is not None:
            text += f", cost {self.cost:.2f}"
        text += self._against_now()
        if (
            self.saving_vs_single_window is not None
            and self.cost_single_window is not None
        ):
            text += (
                f" and {self.saving_vs_single_window:.2f} against the best single"
                f" window ({self.cost_single_window:.2f})"
            )
        return f"{text}{self._known_until()}."

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary (ISO times, rounded numbers)."""
        return {
            "reason": self.reason,
            "feasible": self.feasible,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "departure": _iso(self.departure),
            "energy_kwh": round(self.energy_kwh, 3),
            "duration_minutes": round(self.duration.total_seconds() / 60, 1),
            "cost": _round(self.cost, 2),
            "average_price": _round(self.average_price, 4),
            "cost_if_now": _round(self.cost_if_now, 2),
            "saving": _round(self.saving, 2),
            "prices_until": _iso(self.prices_until),
            "windows": [window.as_dict() for window in self.windows],
            "cost_single_window": _round(self.cost_single_window, 2),
            "saving_vs_single_window": _round(self.saving_vs_single_window, 2),
            "explanation": self.explanation,
        }


def _iso(value: datetime | None) -> str | None:
    """Format an optional datetime as ISO 8601 to the second."""
    return None if value is None else value.isoformat(timespec="seconds")


def _round(value: float | None, digits: int) -> float | None:
    """Round an optional number (and turn ``-0.0`` into ``0.0``)."""
    return None if value is None else round(value, digits) + 0.0


def _clock(value: datetime) -> str:
    """Format a datetime for people, to the nearest minute: ``2025-05-14 22:00``."""
    rounded = (value.astimezone(UTC) + timedelta(seconds=30)).astimezone(value.tzinfo)
    return rounded.strftime("%Y-%m-%d %H:%M")


def _span(value: timedelta) -> str:
    """Format a duration as ``3 h 02 min`` (rounded to the minute)."""
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"
