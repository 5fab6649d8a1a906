"""Great-circle distances and the Liandu box, checked with literals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lianduinspect.rules.geo import EARTH_RADIUS_M, haversine_m, inside_liandu

LIANDU_CENTRE = (28.45, 119.92)  # the demo data's centre, in the old town of Lishui
LISHUI_GOVERNMENT = (28.4676, 119.9229)  # 丽水市人民政府
HANGZHOU_WEST_LAKE = (30.2741, 120.1551)
BEIJING_TIANANMEN = (39.9042, 116.4074)
SHANGHAI_PEOPLES_SQUARE = (31.2304, 121.4737)


def test_same_point_is_zero_metres_apart() -> None:
    assert haversine_m(*LIANDU_CENTRE, *LIANDU_CENTRE) == 0.0


def test_one_hundredth_degree_of_latitude_is_about_1112_m() -> None:
    assert haversine_m(28.45, 119.92, 28.46, 119.92) == pytest.approx(1111.95, abs=0.01)


def test_one_hundredth_degree_of_longitude_in_liandu_is_about_978_m() -> None:
    # cos(28.45°) shrinks a degree of longitude to 0.879 of a degree of latitude.
    assert haversine_m(28.45, 119.92, 28.45, 119.93) == pytest.approx(977.66, abs=0.01)


def test_degree_of_longitude_on_the_equator_is_about_111_km() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195.08, abs=0.01)


def test_equator_to_pole_is_a_quarter_circumference() -> None:
    assert haversine_m(0, 0, 90, 0) == pytest.approx(math.pi / 2 * EARTH_RADIUS_M)


def test_antipodes_are_half_a_circumference_apart() -> None:
    assert haversine_m(10, 20, -10, -160) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_lishui_government_is_about_2_km_from_the_liandu_centre() -> None:
    # Flat-earth check: 0.0176° north is 1957 m, 0.0029° east is 283 m; hypotenuse 1977 m.
    assert haversine_m(*LIANDU_CENTRE, *LISHUI_GOVERNMENT) == pytest.approx(1_977, abs=5)


def test_hangzhou_to_lishui_is_about_200_km() -> None:
    assert haversine_m(*HANGZHOU_WEST_LAKE, *LISHUI_GOVERNMENT) == pytest.approx(202_130, abs=100)


def test_beijing_to_shanghai_is_about_1067_km() -> None:
    assert haversine_m(*BEIJING_TIANANMEN, *SHANGHAI_PEOPLES_SQUARE) == pytest.approx(1_067_300, abs=500)


latitudes = st.floats(min_value=-90, max_value=90)
longitudes = st.floats(min_value=-180, max_value=180)


@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric_and_bounded(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    d = haversine_m(lat1, lon1, lat2, lon2)
    assert d == pytest.approx(haversine_m(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0 <= d <= math.pi * EARTH_RADIUS_M + 1e-6


@pytest.mark.parametrize(
    ("lat", "lon"),
    [LIANDU_CENTRE, LISHUI_GOVERNMENT, (28.2, 119.6), (28.7, 120.1)],
    ids=["centre", "government", "south-west-corner", "north-east-corner"],
)
def test_points_in_liandu_are_inside(lat: float, lon: float) -> None:
    assert inside_liandu(lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [HANGZHOU_WEST_LAKE, (28.14, 120.29), (28.45, 119.59), (28.71, 119.92), (0.0, 0.0),
     (119.92, 28.45), (math.nan, 119.92)],
    ids=["hangzhou", "qingtian", "west-of-box", "north-of-box", "null-island", "swapped", "nan"],
)
def test_points_outside_liandu_are_outside(lat: float, lon: float) -> None:
    assert not inside_liandu(lat, lon)
