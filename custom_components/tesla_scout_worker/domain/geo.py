"""Great-circle distance and the home geofence (HA-free, pure)."""

from __future__ import annotations

from dataclasses import dataclass
from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance between two WGS-84 points, in metres."""
    phi1, phi2 = radians(lat1), radians(lat2)
    dphi = phi2 - phi1
    dlambda = radians(lon2 - lon1)
    a = sin(dphi / 2) ** 2 + cos(phi1) * cos(phi2) * sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))


def is_at_home(distance: float, radius: float) -> bool:
    """Inside the geofence: distance from home at most the radius."""
    return distance <= radius


@dataclass(kw_only=True)
class Home:
    """The geofence."""

    latitude: float
    longitude: float
    radius_m: float
