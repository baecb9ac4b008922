"""When the scout looks again, and when it may ask a car for live data (HA-free).

Three rules keep the scout cheap without making it slow:

* **Never keep a parked car awake.** A car falls asleep only after about 15
  minutes without live-data requests, so once it is seen parked the scout sends
  it no ``vehicle_data`` for :data:`PARKED_QUIET_S` (state checks only) —
  TeslaMate's proven rule.
* **Look often only when it matters.** A car asleep at home cannot arrive home
  without first leaving, and a trip keeps it online for its drive plus about
  15 minutes after parking: checks every :data:`HOME_ASLEEP_S` still see every
  trip of five minutes or more (with a presence entity, which announces trips,
  every :data:`HOME_ASLEEP_PRESENCE_S`). A car navigating is looked at once,
  just after its own ETA (at least every :data:`NAV_RECHECK_S`); one driving
  toward home without navigation about halfway to its estimated arrival;
  otherwise every ``scout_interval``.
* **Read only what can be new.** A car plugged in at home is read every
  :data:`HOME_IDLE_RECHECK_S`, hourly while it charges; one that woke up
  (for a drive, or its own charge schedule) once at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PARKED_QUIET_S = 21 * 60.0
"""No live data for this long after a parked observation (at least 20 min)."""

HOME_IDLE_RECHECK_S = 30 * 60.0
"""A car online and plugged in at home is read at most this often."""

HOME_CHARGING_RECHECK_S = 60 * 60.0
"""…and one charging at home at most this often: it keeps charging until its
schedule or limit ends it, and it cannot leave without being unplugged first
(a departure then is seen within this time)."""

MIN_INTERVAL_S = 60.0
"""Never check more often than once a minute."""

AWAY_DRIVING_INTERVAL_S = 5 * 60.0
"""A car driving but not toward home: check every five minutes at most."""

HOME_ASLEEP_S = 20 * 60.0
"""Every car asleep at home: at most this long between checks (no presence)."""

HOME_ASLEEP_PRESENCE_S = 60 * 60.0
"""Every car asleep at home and a presence entity announcing trips."""

MAX_INTERVAL_S = 120 * 60.0

NAV_ARRIVAL_MARGIN_S = 30.0
"""A car navigating is looked at this long after its own ETA."""

NAV_RECHECK_S = 60 * 60.0
"""…but at least this often on a long trip (plans change, and so do ETAs)."""

MPH_TO_MPS = 0.44704


@dataclass(frozen=True, kw_only=True)
class VehicleOutlook:
    """What the policy needs to know about one vehicle after a cycle."""

    online: bool
    at_home: bool | None
    driving: bool
    distance_m: float | None = None
    previous_distance_m: float | None = None
    speed_mph: float | None = None
    minutes_to_arrival: float | None = None
    destination_is_home: bool = False

    @property
    def approaching_home(self) -> bool:
        """Driving and either navigating home or getting closer."""
        if not self.driving or self.at_home:
            return False
        if self.destination_is_home:
            return True
        return (
            self.distance_m is not None
            and self.previous_distance_m is not None
            and self.distance_m < self.previous_distance_m
        )

    def navigation_eta_s(self) -> float | None:
        """Seconds to the navigation's destination (home or not), if navigating."""
        if self.minutes_to_arrival is None or self.minutes_to_arrival < 0:
            return None
        return self.minutes_to_arrival * 60

    def seconds_to_home(self) -> float | None:
        """Best estimate of the time until it is home, if it is approaching."""
        if not self.approaching_home:
            return None
        if self.destination_is_home and self.minutes_to_arrival is not None:
            return self.minutes_to_arrival * 60
        if self.distance_m is not None and self.speed_mph:
            return self.distance_m / (self.speed_mph * MPH_TO_MPS)
        return None


def may_fetch_live_data(
    parked_seen_at: float | None,
    now: float,
    *,
    last_data_at: float | None = None,
    idle_at_home: bool = False,
    charging_at_home: bool = False,
    woke_up: bool = False,
) -> bool:
    """Whether the scout may send ``vehicle_data`` to an online car now.

    A car that has just woken up is read once: something woke it (a drive, its
    own charge schedule). A parked car is left alone for
    :data:`PARKED_QUIET_S` so it can fall asleep. A car plugged in at home
    (``idle_at_home``: parked or charging) cannot arrive home and tells little
    new: it is read at most every :data:`HOME_IDLE_RECHECK_S`, and every
    :data:`HOME_CHARGING_RECHECK_S` while it charges (``charging_at_home``).
    """
    if woke_up:
        return True
    if parked_seen_at is not None and now - parked_seen_at < PARKED_QUIET_S:
        return False
    if last_data_at is None or not (idle_at_home or charging_at_home):
        return True
    recheck = HOME_CHARGING_RECHECK_S if charging_at_home else HOME_IDLE_RECHECK_S
    return now - last_data_at >= recheck


def next_interval(
    vehicles: Iterable[VehicleOutlook],
    base_interval_s: float,
    *,
    retry_after_s: float | None = None,
    presence_tracked: bool = False,
) -> float:
    """Seconds until the next scout cycle.

    The shortest need wins: a car approaching home is checked about halfway to
    its expected arrival (so arrival is seen within minutes), a car driving
    elsewhere every five minutes, and when every car is asleep at home the
    checks thin out (see the module docstring). A ``Retry-After`` from Tesla
    always postpones the next check.
    """
    outlooks = list(vehicles)
    wanted: list[float] = []
    for outlook in outlooks:
        if outlook.driving and (navigated := outlook.navigation_eta_s()) is not None:
            # The car's own ETA: one look just after it, not ever closer guesses.
            wanted.append(min(navigated + NAV_ARRIVAL_MARGIN_S, NAV_RECHECK_S))
        elif outlook.driving:
            eta = outlook.seconds_to_home()
            if eta is not None:
                wanted.append(min(base_interval_s, eta / 2))
            elif outlook.approaching_home:
                wanted.append(min(base_interval_s, AWAY_DRIVING_INTERVAL_S / 2))
            else:
                wanted.append(min(base_interval_s, AWAY_DRIVING_INTERVAL_S))
        else:
            wanted.append(base_interval_s)
    interval = min(wanted) if wanted else base_interval_s
    if outlooks and all(o.at_home and not o.online for o in outlooks):
        home_asleep = HOME_ASLEEP_PRESENCE_S if presence_tracked else HOME_ASLEEP_S
        interval = max(interval, home_asleep)
    interval = min(max(interval, MIN_INTERVAL_S), max(MAX_INTERVAL_S, base_interval_s))
    if retry_after_s is not None:
        interval = max(interval, retry_after_s)
    return interval


FAILED_CHECK_RETRY_S = (60.0, 120.0, 300.0, 600.0)
"""After a failed state check, the next one comes this soon (by failures in a
row): state checks are free, and a check that failed once (a 5xx, a reset)
mostly answers the next minute. A ``Retry-After`` still wins."""


def failed_check_interval(
    failures: int, normal_s: float, retry_after_s: float | None = None
) -> float:
    """Seconds until the next check after ``failures`` failed ones in a row."""
    index = min(max(failures, 1), len(FAILED_CHECK_RETRY_S)) - 1
    interval = min(FAILED_CHECK_RETRY_S[index], normal_s)
    if retry_after_s is not None:
        interval = max(interval, retry_after_s)
    return max(interval, MIN_INTERVAL_S)
