"""GeoJSON checks, antimeridian handling and geodesic distances (against brute force)."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon

from app.documents.geo import (
    GEOD,
    MAX_VERTICES,
    GeoError,
    _position_errors,
    _usable_position,
    feature_centre,
    feature_distance_km,
    geo_errors,
    geodesic_distance_km,
    geometry_errors,
    normalise_feature,
    to_shapely,
    trajectory_line,
)

SQUARE = [[[85, 15], [86, 15], [86, 16], [85, 16], [85, 15]]]
PACIFIC = [[[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]]]
MERIDIAN_70E = LineString([(70, 20), (70, 35)])


def polygon(coordinates: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": coordinates}


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def circle(lon: float, lat: float, radius_km: float) -> dict[str, Any]:
    return feature({"type": "Point", "coordinates": [lon, lat]}, radius_km=radius_km)


def east_of(lon: float, lat: float, km: float) -> tuple[float, float]:
    """The point ``km`` due east of (lon, lat) along the geodesic perpendicular to the meridian."""
    east_lon, east_lat, _ = GEOD.fwd(lon, lat, 90, km * 1000)
    return float(east_lon), float(east_lat)


# ----------------------------------------------------------------------------- checks


def test_valid_geometries_have_no_errors() -> None:
    assert geometry_errors(polygon(SQUARE)) == []
    assert geometry_errors({"type": "Point", "coordinates": [-180, 90, 12.5]}) == []
    assert (
        geometry_errors({"type": "MultiPolygon", "coordinates": [SQUARE, [[[0, 0], [1, 0], [1, 1], [0, 0]]]]})
        == []
    )


@pytest.mark.parametrize(
    ("geometry", "pointer", "fragment"),
    [
        ({"type": "Point", "coordinates": [180.5, 0]}, "/coordinates/0", "Longitude"),
        ({"type": "Point", "coordinates": [0, -90.01]}, "/coordinates/1", "Latitude"),
        ({"type": "Point", "coordinates": [math.nan, 0]}, "/coordinates/0", "finite"),
        ({"type": "Point", "coordinates": [0, math.inf]}, "/coordinates/1", "finite"),
        ({"type": "Point", "coordinates": [True, 0]}, "/coordinates/0", "finite"),
        ({"type": "Point", "coordinates": ["1", 0]}, "/coordinates/0", "finite"),
        ({"type": "Point", "coordinates": [1]}, "/coordinates", "position"),
        (polygon([[[0, 0], [1, 0], [0, 0]]]), "/coordinates/0", "at least 4"),
        (polygon([[[0, 0], [1, 0], [1, 1], [0, 1]]]), "/coordinates/0", "closed"),
        (polygon([[[0, 0], [1, 0], [1, 200], [0, 0]]]), "/coordinates/0/2/1", "Latitude"),
        (polygon([[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]), "/coordinates", "Self-intersection"),
        (polygon([SQUARE[0], [[0, 0], [1, 0], [1, 1], [0, 0]]]), "/coordinates", "not valid"),
        (polygon([]), "/coordinates", "non-empty"),
        (
            # a ring round the North Pole wraps the globe even in a 0..360 frame
            polygon([[[0, 80], [90, 80], [180, 80], [-90, 80], [0, 80]]]),
            "/coordinates",
            "pole",
        ),
        (
            {
                "type": "MultiPolygon",
                "coordinates": [SQUARE, [[[85.5, 15.5], [87, 15.5], [87, 17], [85.5, 15.5]]]],
            },
            "/coordinates",
            "MultiPolygon is not valid",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE, [[[0, 0], [1, 0], [1, 1]]]]},
            "/coordinates/1/0",
            "4",
        ),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "/type", "Point, Polygon or MultiPolygon"),
        ("nope", "", "object"),
    ],
)
def test_geometry_refusals(geometry: Any, pointer: str, fragment: str) -> None:
    errors = geometry_errors(geometry)
    assert errors, geometry
    assert errors[0]["pointer"] == pointer
    assert fragment in errors[0]["message"]


def test_vertex_budget() -> None:
    ring = [[0.001 * i, 0.0] for i in range(MAX_VERTICES)] + [[1, 1], [0, 0]]
    errors = geometry_errors(polygon([ring]))
    assert errors == [
        {"pointer": "/coordinates", "message": f"Too many positions (at most {MAX_VERTICES} per area)"}
    ]


def test_geo_errors_point_into_the_payload() -> None:
    unclosed = polygon([[[0, 0], [1, 0], [1, 1], [0, 1]]])
    payload = {
        "launch_area": circle(73, 25, 5),
        "impact_areas": [feature(polygon(SQUARE)), feature(polygon(SQUARE)), feature(unclosed)],
        "launch_sites": [feature({"type": "Point", "coordinates": [0, 95]})],
    }
    assert geo_errors(payload) == [
        {
            "pointer": "/impact_areas/2/geometry/coordinates/0",
            "message": "A linear ring must be closed: last position = first",
        },
        {"pointer": "/launch_sites/0/geometry/coordinates/1", "message": "Latitude must be within [-90, 90]"},
    ]


@pytest.mark.parametrize(
    "payload", [None, [], {"impact_areas": "x"}, {"launch_area": 5}, {"impact_areas": [None]}]
)
def test_geo_errors_tolerates_garbage(payload: Any) -> None:
    assert isinstance(geo_errors(payload), list)


# ------------------------------------------------------------------------ antimeridian


def test_pacific_polygon_is_accepted_and_split() -> None:
    area = feature(polygon(PACIFIC), name="Pacific")
    assert geo_errors({"impact_areas": [area]}) == []
    normalised = normalise_feature(area)
    assert normalised["properties"] == {"name": "Pacific"}
    assert normalised["geometry"]["type"] == "MultiPolygon"
    shape = to_shapely(area)
    assert isinstance(shape, MultiPolygon) and shape.is_valid
    west, east = sorted(shape.geoms, key=lambda part: part.bounds[0])
    assert west.bounds == (-180, -10, -170, 10)
    assert east.bounds == (170, -10, 180, 10)
    assert shape.area == pytest.approx(20 * 20)
    assert all(part.exterior.is_ccw for part in shape.geoms)  # RFC 7946 right-hand rule
    assert shape.contains(Point(179.5, 0)) and shape.contains(Point(-179.5, 0))
    assert not shape.contains(Point(0, 0))


def test_antimeridian_polygon_with_a_hole() -> None:
    hole = [[175, -5], [175, 5], [-175, 5], [-175, -5], [175, -5]]
    shape = to_shapely(feature(polygon([PACIFIC[0], hole])))
    assert shape.area == pytest.approx(400 - 100)
    assert not shape.contains(Point(179.9, 0))


def test_already_split_multipolygon_is_kept() -> None:
    split = normalise_feature(feature(polygon(PACIFIC)))
    assert geometry_errors(split["geometry"]) == []
    assert to_shapely(split).equals(to_shapely(feature(polygon(PACIFIC))))


def test_invalid_antimeridian_polygon_is_explained() -> None:
    bowtie = [[170, -10], [-170, 10], [-170, -10], [170, 10], [170, -10]]
    [error] = geometry_errors(polygon([bowtie]))
    assert "Self-intersection" in error["message"]


def test_to_shapely_refuses_unusable_geometry() -> None:
    with pytest.raises(GeoError) as info:
        to_shapely(feature({"type": "Point", "coordinates": [0, 99]}))
    assert info.value.errors[0]["pointer"] == "/geometry/coordinates/1"


def test_circle_is_a_geodesic_polygon() -> None:
    shape = to_shapely(circle(73, 25, 50))
    assert isinstance(shape, Polygon) and shape.is_valid
    lons, lats = np.array(shape.exterior.coords).T
    _, _, distances = GEOD.inv(np.full(lons.size, 73.0), np.full(lats.size, 25.0), lons, lats)
    assert np.allclose(distances, 50_000, atol=1e-3)
    assert to_shapely(circle(73, 25, 50), circles=False).equals(Point(73, 25))


def test_circle_across_the_antimeridian_and_round_a_pole() -> None:
    pacific = to_shapely(circle(179.9, 0, 100))
    assert isinstance(pacific, MultiPolygon) and pacific.is_valid
    assert pacific.contains(Point(-179.5, 0)) and pacific.contains(Point(179.5, 0))
    polar = to_shapely(circle(10, 85, 800))
    assert polar.is_valid and polar.bounds[3] == 90
    assert polar.contains(Point(-170, 88)) and polar.contains(Point(10, 80))
    assert not polar.contains(Point(-170, 80))


# ------------------------------------------------------------------------- distances


def _brute_force_km(
    points: list[tuple[float, float]], lines: list[LineString], step_deg: float = 0.002
) -> float:
    """Reference: the minimum of Geod.inv over dense samples of both sides (slow, obvious)."""
    samples = []
    for line in lines:
        coords = list(line.coords)
        for (x1, y1), (x2, y2) in zip(coords, coords[1:], strict=False):
            n = max(2, int(math.hypot(x2 - x1, y2 - y1) / step_deg) + 1)
            samples += list(zip(np.linspace(x1, x2, n), np.linspace(y1, y2, n), strict=True))
    sx, sy = np.array(samples).T
    best = math.inf
    for lon, lat in points:
        _, _, d = GEOD.inv(np.full(sx.size, lon), np.full(sx.size, lat), sx, sy)
        best = min(best, float(d.min()))
    return best / 1000


@pytest.mark.parametrize("km", [39, 40, 41, 69, 70, 71])
def test_distance_to_a_meridian(km: float) -> None:
    assert geodesic_distance_km(Point(*east_of(70, 27.5, km)), MERIDIAN_70E) == pytest.approx(km, abs=0.01)


def test_distance_is_zero_when_touching_or_crossing() -> None:
    assert geodesic_distance_km(Point(70, 25), MERIDIAN_70E) == 0.0
    assert geodesic_distance_km(LineString([(69, 25), (71, 25)]), MERIDIAN_70E) == 0.0


def test_distance_across_the_antimeridian() -> None:
    expected = GEOD.inv(179.9, 0, -179.9, 0)[2] / 1000
    assert geodesic_distance_km(Point(179.9, 0), LineString([(-179.9, -1), (-179.9, 1)])) == pytest.approx(
        expected, abs=0.01
    )


def test_distance_matches_brute_force_on_random_polylines() -> None:
    rng = random.Random(7)
    for _ in range(12):
        lon0, lat0 = rng.uniform(60, 80), rng.uniform(-60, 60)
        line = LineString(
            [(lon0 + rng.uniform(-1, 1), lat0 + i * 0.4 + rng.uniform(-0.1, 0.1)) for i in range(6)]
        )
        point = (lon0 + rng.choice([-1, 1]) * rng.uniform(1.5, 4), lat0 + rng.uniform(0, 2))
        fast = geodesic_distance_km(Point(point), line)
        assert fast == pytest.approx(_brute_force_km([point], [line]), abs=0.05)


def test_polygon_to_line_distance_matches_brute_force() -> None:
    square = Polygon([(70.4, 27), (70.9, 27), (70.9, 27.6), (70.4, 27.6)])
    boundary = LineString([(70, 20), (70.1, 27.3), (69.9, 35)])
    perimeter = shapely.segmentize(square.exterior, 0.005).coords
    near = boundary.intersection(shapely.box(69, 26, 71, 29))  # the part that can be nearest
    reference = _brute_force_km(list(perimeter), [near])
    assert geodesic_distance_km(square, boundary) == pytest.approx(reference, abs=0.05)
    assert geodesic_distance_km(boundary, square) == pytest.approx(reference, abs=0.05)


def test_feature_distance_subtracts_the_radius() -> None:
    lon, lat = east_of(70, 27.5, 50)
    assert feature_distance_km(circle(lon, lat, 10), MERIDIAN_70E) == pytest.approx(40, abs=0.01)
    assert feature_distance_km(circle(lon, lat, 80), MERIDIAN_70E) == 0.0
    box = feature(polygon([[[lon, 27], [lon + 1, 27], [lon + 1, 28], [lon, 28], [lon, 27]]]))
    assert feature_distance_km(box, MERIDIAN_70E) == pytest.approx(
        geodesic_distance_km(Point(lon, 28), MERIDIAN_70E), abs=0.05
    )


# ------------------------------------------------------------------------ trajectories


def test_trajectory_is_a_dense_geodesic() -> None:
    line = trajectory_line(
        circle(69.5, 27, 5), feature(polygon([[[71, 28], [72, 28], [72, 29], [71, 29], [71, 28]]]))
    )
    assert isinstance(line, LineString)
    assert line.coords[0] == (69.5, 27)
    assert line.coords[-1] == pytest.approx(
        feature_centre(feature(polygon([[[71, 28], [72, 28], [72, 29], [71, 29], [71, 28]]])))
    )
    assert line.intersects(MERIDIAN_70E)
    lons, lats = np.array(line.coords).T
    _, _, steps = GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    assert steps.max() < 5_500


def test_trajectory_across_the_antimeridian_is_split() -> None:
    line = trajectory_line(circle(175, 0, 1), circle(-175, 5, 1))
    assert isinstance(line, MultiLineString)
    assert all(-180 <= x <= 180 for part in line.geoms for x, _ in part.coords)


def test_centre_of_an_antimeridian_polygon() -> None:
    lon, lat = feature_centre(feature(polygon(PACIFIC)))
    assert abs(abs(lon) - 180) < 1e-3 and lat == pytest.approx(0, abs=1e-6)


KEYS = ["type", "geometry", "coordinates", "properties", "radius_km"]
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["launch_area", "impact_areas", "launch_sites"]), JSONISH))
def test_geo_errors_never_raise_on_garbage(payload: dict[str, Any]) -> None:
    for error in geo_errors(payload):
        assert error["pointer"].startswith("/") and error["message"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.floats(-180, 180) | st.integers(-(10**30), 10**30), min_size=2, max_size=2),
        min_size=3,
        max_size=8,
    )
)
def test_random_rings_give_errors_or_usable_shapes(ring: list[list[float]]) -> None:
    area = {"type": "Feature", "geometry": polygon([[*ring, ring[0]]]), "properties": {}}
    if not geometry_errors(area["geometry"]):
        shape = to_shapely(area)
        assert shape.is_valid and -180 <= shape.bounds[0] and shape.bounds[2] <= 180
        assert normalise_feature(area)["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_deeply_nested_coordinates_are_cheap() -> None:
    nested: Any = [0.0, 0.0]
    for _ in range(5000):
        nested = [nested]
    assert geometry_errors({"type": "Polygon", "coordinates": nested})
    assert geometry_errors({"type": "Point", "coordinates": [10**400, 0]})[0]["pointer"] == "/coordinates/0"


_COORDINATE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-200, max_value=200),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@given(st.one_of(st.lists(_COORDINATE, max_size=4), _COORDINATE, st.tuples(st.floats(), st.floats())))
def test_the_fast_position_check_agrees_with_the_detailed_one(position: Any) -> None:
    """``_usable_position`` (the valid-ring fast path) accepts exactly what reports no error."""
    assert _usable_position(position) == (not _position_errors(position, ""))
