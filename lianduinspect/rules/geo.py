"""Distances on the Earth and the Liandu district's bounding box."""

from __future__ import annotations

import math

__all__ = ["EARTH_RADIUS_M", "LIANDU_BOX", "haversine_m", "inside_liandu"]

# The IUGG mean radius. Over the few kilometres that matter here the sphere errs by well under
# 0.5 %, far less than a phone's GPS accuracy.
EARTH_RADIUS_M = 6_371_008.8

# (south, north, west, east) in degrees: a box around Liandu with some margin, not its border.
LIANDU_BOX = (28.2, 28.7, 119.6, 120.1)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in metres between two WGS-84 points in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # Rounding can push a a hair above 1 for antipodal points; asin would then raise.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def inside_liandu(lat: float, lon: float) -> bool:
    """Tell whether a point lies in Liandu's bounding box (edges included)."""
    south, north, west, east = LIANDU_BOX
    return south <= lat <= north and west <= lon <= east
