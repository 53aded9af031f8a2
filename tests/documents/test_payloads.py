"""Payload schemas: every structural refusal with its JSON Pointer, strictness, fuzzing."""

from __future__ import annotations

import copy
import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.documents.payloads import (
    PAYLOAD_MODELS,
    PAYLOAD_TYPES,
    PayloadError,
    PreLaunch,
    parse_payload,
    problem_errors,
    validate_payload,
)

CIRCLE = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [73.0, 25.0]},
    "properties": {"radius_km": 5},
}
SQUARE = {
    "type": "Feature",
    "geometry": {"type": "Polygon", "coordinates": [[[85, 15], [86, 15], [86, 16], [85, 16], [85, 15]]]},
    "properties": {"name": "Bay of Bengal box"},
}
COMMON = {
    "id": "IND-2026-0014",
    "issuer": "IND",
    "issued_at": "2026-03-01T06:00:00Z",
    "regime": "in-pk-2005",
    "recipients": ["PAK"],
}
VEHICLE = {"category": "ballistic-missile", "generic_class": "SRBM", "designation": "Prithvi-II"}

EXAMPLES: dict[str, dict[str, Any]] = {
    "pre-launch": {
        "type": "pre-launch",
        **COMMON,
        "vehicle": VEHICLE,
        "window": {"start": "2026-03-05T00:00:00Z", "end": "2026-03-09T00:00:00Z"},
        "launch_area": CIRCLE,
        "direction": {"azimuth_deg": 135, "tolerance_deg": 10},
        "impact_areas": [SQUARE],
        "remarks": "test flight",
    },
    "pre-launch-update": {
        "type": "pre-launch-update",
        **COMMON,
        "id": "IND-2026-0015",
        "references": "IND-2026-0014",
        "vehicle": VEHICLE,
        "window": {"start": "2026-03-06T00:00:00Z", "end": "2026-03-10T00:00:00Z"},
        "launch_area": SQUARE,
        "direction": {"azimuth_deg": 0},
        "impact_areas": [],
    },
    "cancellation": {"type": "cancellation", **COMMON, "id": "IND-2026-16", "references": "IND-2026-0014"},
    "post-launch": {
        "type": "post-launch",
        **COMMON,
        "id": "IND-2026-A.17",
        "launched_at": "2026-03-07T04:12:00.250Z",
        "outcome": "nominal",
        "vehicle": VEHICLE,
    },
    "acknowledgement": {
        "type": "acknowledgement",
        **COMMON,
        "id": "PAK-2026-3",
        "issuer": "PAK",
        "recipients": ["IND"],
        "references": "IND-2026-0014",
    },
    "annual-declaration": {
        "type": "annual-declaration",
        **COMMON,
        "id": "IND-2027-D1",
        "regime": "hcoc",
        "recipients": ["*"],
        "year": 2026,
        "ballistic_missile_policy": "Credible minimum deterrence.",
        "slv_policy": "Civil space programme.",
        "launches": [
            {"category": "ballistic-missile", "generic_class": "SRBM", "count": 3},
            {"category": "space-launch-vehicle", "generic_class": "SLV", "count": 0},
        ],
        "launch_sites": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [80.23, 13.72]},
                "properties": {"name": "Sriharikota", "category": "space-launch-vehicle"},
            }
        ],
    },
}


def example(kind: str = "pre-launch") -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[kind])


def pointers(obj: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse_payload(obj)
    return [e["pointer"] for e in problem_errors(info.value)]


@pytest.mark.parametrize("kind", PAYLOAD_TYPES)
def test_every_type_parses_and_round_trips(kind: str) -> None:
    payload = parse_payload(example(kind))
    assert isinstance(payload, PAYLOAD_MODELS[kind])
    assert parse_payload(payload.model_dump(mode="json")) == payload
    assert parse_payload(payload.model_dump(mode="json", exclude_none=True)) == payload


def test_timestamps_are_utc_aware_datetimes() -> None:
    payload = parse_payload(example())
    assert isinstance(payload, PreLaunch)
    assert payload.issued_at == datetime(2026, 3, 1, 6, tzinfo=UTC)
    assert payload.model_dump(mode="json")["issued_at"] == "2026-03-01T06:00:00Z"


def test_models_are_frozen() -> None:
    payload = parse_payload(example())
    with pytest.raises(ValidationError):
        payload.id = "IND-2026-9"  # type: ignore[misc]


def _set(path: str, value: Any) -> Any:
    """A mutation that sets (or with value=DELETE removes) the member at a /-separated path."""

    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        node: Any = obj
        for part in parents:
            node = node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


DELETE = object()

REFUSALS = [
    # common members
    ("pre-launch", "id", "IND2026-1", "/id"),
    ("pre-launch", "id", "PAK-2026-1", "/id"),  # prefix must be the issuer
    ("pre-launch", "id", "IND-26-1", "/id"),
    ("pre-launch", "id", "IND-2026-" + "1" * 33, "/id"),
    ("pre-launch", "id", "IND-2026-a_b", "/id"),
    ("pre-launch", "id", "IND-２０２６-1", "/id"),  # non-ASCII digits
    ("pre-launch", "id", "IND-2026-1\n", "/id"),
    ("pre-launch", "issuer", "ind", "/issuer"),
    ("pre-launch", "issuer", "IN", "/issuer"),
    ("pre-launch", "issuer", "A" * 17, "/issuer"),
    ("pre-launch", "regime", "HCOC", "/regime"),
    ("pre-launch", "regime", "-hcoc", "/regime"),
    ("pre-launch", "regime", "h", "/regime"),
    ("pre-launch", "issued_at", "2026-03-01T06:00:00", "/issued_at"),
    ("pre-launch", "issued_at", "2026-03-01T06:00:00+05:30", "/issued_at"),
    ("pre-launch", "issued_at", "2026-03-01T06:00:00-00:00", "/issued_at"),
    ("pre-launch", "issued_at", "2026-02-30T06:00:00Z", "/issued_at"),
    ("pre-launch", "issued_at", "2026-03-01 06:00:00Z", "/issued_at"),
    ("pre-launch", "issued_at", 1772344800, "/issued_at"),
    ("pre-launch", "issued_at", "2026-03-01T06:00:00Z\n", "/issued_at"),
    ("pre-launch", "issued_at", "2026-03-01T24:00:00Z", "/issued_at"),
    ("pre-launch", "issued_at", "2026-03-01T23:59:60Z", "/issued_at"),  # leap seconds: not representable
    ("pre-launch", "recipients", [], "/recipients"),
    ("pre-launch", "recipients", ["*", "PAK"], "/recipients"),
    ("pre-launch", "recipients", ["PAK", "CHN", "PAK"], "/recipients/2"),
    ("pre-launch", "recipients", ["pak"], "/recipients/0"),
    ("pre-launch", "recipients", "PAK", "/recipients"),
    ("pre-launch", "recipients", [f"C{i:03d}" for i in range(257)], "/recipients"),
    ("pre-launch", "type", DELETE, "/type"),
    ("pre-launch", "type", "prelaunch", "/type"),
    ("pre-launch", "surprise", 1, "/surprise"),
    ("pre-launch", "references", "IND-2026-0001", "/references"),  # forbidden for pre-launch
    ("annual-declaration", "references", "IND-2026-0001", "/references"),
    ("pre-launch-update", "references", DELETE, "/references"),
    ("cancellation", "references", DELETE, "/references"),
    ("acknowledgement", "references", DELETE, "/references"),
    ("cancellation", "references", "IND-2026-16", "/references"),  # itself
    ("cancellation", "reason", "x" * 4001, "/reason"),
    # vehicle
    ("pre-launch", "vehicle/category", "cruise-missile", "/vehicle/category"),
    ("pre-launch", "vehicle/generic_class", "SLV", "/vehicle/generic_class"),
    ("post-launch", "vehicle/category", "space-launch-vehicle", "/vehicle/generic_class"),
    ("pre-launch", "vehicle/designation", "", "/vehicle/designation"),
    ("pre-launch", "vehicle/designation", "x" * 129, "/vehicle/designation"),
    # window and direction
    ("pre-launch", "window/end", "2026-03-05T00:00:00Z", "/window/end"),
    ("pre-launch", "window/end", "2026-03-04T00:00:00Z", "/window/end"),
    ("pre-launch", "window/start", "2026-03-05T00:00:00+01:00", "/window/start"),
    ("pre-launch", "window/start", DELETE, "/window/start"),
    ("pre-launch", "direction/azimuth_deg", 360, "/direction/azimuth_deg"),
    ("pre-launch", "direction/azimuth_deg", -0.5, "/direction/azimuth_deg"),
    ("pre-launch", "direction/azimuth_deg", "90", "/direction/azimuth_deg"),  # strict: no coercion
    ("pre-launch", "direction/azimuth_deg", True, "/direction/azimuth_deg"),
    ("pre-launch", "direction/azimuth_deg", float("nan"), "/direction/azimuth_deg"),
    ("pre-launch", "direction/tolerance_deg", 180.5, "/direction/tolerance_deg"),
    ("pre-launch", "remarks", "x" * 4001, "/remarks"),
    # areas
    ("pre-launch", "launch_area/properties/radius_km", DELETE, "/launch_area/properties/radius_km"),
    ("pre-launch", "launch_area/properties/radius_km", 0, "/launch_area/properties/radius_km"),
    ("pre-launch", "launch_area/properties/radius_km", 5001, "/launch_area/properties/radius_km"),
    ("pre-launch", "launch_area/properties", None, "/launch_area/properties/radius_km"),
    ("pre-launch", "impact_areas/0/properties/radius_km", 3, "/impact_areas/0/properties/radius_km"),
    ("pre-launch", "impact_areas/0/properties/colour", "red", "/impact_areas/0/properties/colour"),
    ("pre-launch", "impact_areas/0/geometry/type", "LineString", "/impact_areas/0/geometry/type"),
    ("pre-launch", "impact_areas/0/geometry/type", DELETE, "/impact_areas/0/geometry/type"),
    (
        "pre-launch",
        "impact_areas/0/geometry/coordinates/0/2/1",
        "16",
        "/impact_areas/0/geometry/coordinates/0/2/1",
    ),
    (
        "pre-launch",
        "impact_areas/0/geometry/coordinates/0/2",
        [86],
        "/impact_areas/0/geometry/coordinates/0/2",
    ),
    ("pre-launch", "impact_areas/0/geometry/coordinates", [], "/impact_areas/0/geometry/coordinates"),
    ("pre-launch", "impact_areas/0/type", "FeatureCollection", "/impact_areas/0/type"),
    ("pre-launch", "impact_areas", [SQUARE] * 51, "/impact_areas"),
    (
        "pre-launch",
        "launch_area/geometry/coordinates",
        [73.0, 25.0, 0.0, 1.0],
        "/launch_area/geometry/coordinates",
    ),
    # post-launch and annual declaration
    ("post-launch", "outcome", "success", "/outcome"),
    ("post-launch", "launched_at", DELETE, "/launched_at"),
    ("annual-declaration", "year", 1956, "/year"),
    ("annual-declaration", "year", 2101, "/year"),
    ("annual-declaration", "year", 2026.0, "/year"),
    ("annual-declaration", "launches/0/count", -1, "/launches/0/count"),
    ("annual-declaration", "launches/0/count", True, "/launches/0/count"),
    ("annual-declaration", "launches/1/generic_class", "ICBM", "/launches/1/generic_class"),
    (
        "annual-declaration",
        "launches/1",
        {"category": "ballistic-missile", "generic_class": "SRBM", "count": 1},
        "/launches/1",
    ),
    ("annual-declaration", "launch_sites/0/properties/name", DELETE, "/launch_sites/0/properties/name"),
    (
        "annual-declaration",
        "launch_sites/0/properties/category",
        "both",
        "/launch_sites/0/properties/category",
    ),
    (
        "annual-declaration",
        "launch_sites/0/geometry",
        SQUARE["geometry"],
        ("/launch_sites/0/geometry/type", "/launch_sites/0/geometry/coordinates/0"),
    ),
    ("annual-declaration", "slv_policy", DELETE, "/slv_policy"),
]


@pytest.mark.parametrize(("kind", "path", "value", "pointer"), REFUSALS, ids=lambda v: str(v)[:40])
def test_structural_refusal_points_at_the_member(
    kind: str, path: str, value: Any, pointer: str | tuple[str, ...]
) -> None:
    obj = example(kind)
    _set(path, value)(obj)
    assert pointers(obj) == ([pointer] if isinstance(pointer, str) else list(pointer))


@pytest.mark.parametrize("value", [[], "x", 5, None])
def test_non_object_payload_points_at_the_root(value: object) -> None:
    assert pointers(value) == [""]


def test_pointer_escapes_tilde_and_slash() -> None:
    obj = example()
    obj["a/b~c"] = 1
    assert pointers(obj) == ["/a~1b~0c"]


def test_several_errors_are_all_reported() -> None:
    obj = example()
    obj["regime"] = "X"
    obj["window"]["end"] = obj["window"]["start"]
    obj["impact_areas"][0]["geometry"]["type"] = "Circle"
    assert sorted(pointers(obj)) == ["/impact_areas/0/geometry/type", "/regime", "/window/end"]


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-03-01T06:00:00Z",
        "2026-03-01t06:00:00z",
        "2026-03-01T06:00:00+00:00",
        "2026-03-01T06:00:00.123456789Z",
    ],
)
def test_accepted_utc_forms(stamp: str) -> None:
    obj = example()
    obj["issued_at"] = stamp
    assert parse_payload(obj).issued_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_messages_say_how_to_fix_a_timestamp() -> None:
    obj = example()
    obj["issued_at"] = "2026-03-01T06:00:00+05:30"
    with pytest.raises(ValidationError) as info:
        parse_payload(obj)
    assert "UTC" in problem_errors(info.value)[0]["message"]
    obj["issued_at"] = "2026-03-01T06:00:00"
    with pytest.raises(ValidationError) as info:
        parse_payload(obj)
    assert "no offset" in problem_errors(info.value)[0]["message"]


def test_post_launch_references_are_optional() -> None:
    obj = example("post-launch")
    assert parse_payload(obj).references is None  # type: ignore[union-attr]
    obj["references"] = "IND-2026-0014"
    assert parse_payload(obj).references == "IND-2026-0014"  # type: ignore[union-attr]


def test_validate_payload_adds_geometry_errors_with_pointers() -> None:
    obj = example()
    obj["impact_areas"][0]["geometry"]["coordinates"][0][1] = [186, 15]
    with pytest.raises(PayloadError) as info:
        validate_payload(obj)
    assert info.value.errors[0]["pointer"] == "/impact_areas/0/geometry/coordinates/0/1/0"
    assert isinstance(validate_payload(example()), PreLaunch)


def test_validate_payload_reports_structure_first() -> None:
    obj = example()
    obj["id"] = "nope"
    with pytest.raises(PayloadError) as info:
        validate_payload(obj)
    assert [e["pointer"] for e in info.value.errors] == ["/id"]


# ------------------------------------------------------------------------- hypothesis

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _resolve_parent(obj: Any, pointer: str) -> bool:
    """Whether every segment but the last of ``pointer`` exists in ``obj``."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node = obj
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def mutated_examples(draw: st.DrawFn) -> dict[str, Any]:
    """A valid example with one member replaced by random JSON: reaches the deep validators."""
    obj = example(draw(st.sampled_from(PAYLOAD_TYPES)))
    path = draw(st.sampled_from(_paths(obj)[1:]))
    node: Any = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = draw(JSONISH)
    return obj


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        JSONISH, st.dictionaries(st.sampled_from(["type", "id", "window", "x"]), JSONISH), mutated_examples()
    )
)
def test_fuzz_only_raises_validation_errors(obj: Any) -> None:
    try:
        parse_payload(obj)
    except ValidationError as exc:
        for problem in problem_errors(exc):
            assert problem["pointer"] == "" or problem["pointer"].startswith("/")
            assert _resolve_parent(obj, problem["pointer"]), problem
    try:
        validate_payload(obj)
    except PayloadError as exc:
        assert exc.errors


CODES = st.from_regex(r"\A[A-Z][A-Z0-9_]{2,15}\Z")
SERIALS = st.from_regex(r"\A[A-Za-z0-9.]{1,32}\Z")
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))


@st.composite
def valid_pre_launches(draw: st.DrawFn) -> dict[str, Any]:
    issuer = draw(CODES)
    start = draw(MOMENTS)
    end = start + draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)))
    lon = draw(st.floats(-180, 180))
    lat = draw(st.floats(-90, 90))
    category = draw(st.sampled_from(["ballistic-missile", "space-launch-vehicle"]))
    generic_class = draw(
        st.sampled_from(["SLV", "other"] if category != "ballistic-missile" else ["ICBM", "other"])
    )
    return {
        "type": draw(st.sampled_from(["pre-launch", "pre-launch-update"])),
        "id": f"{issuer}-{draw(st.integers(0, 9999)):04d}-{draw(SERIALS)}",
        "issuer": issuer,
        "issued_at": draw(MOMENTS).isoformat().replace("+00:00", "Z"),
        "regime": draw(st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,31}\Z")),
        "recipients": draw(st.just(["*"]) | st.lists(CODES, min_size=1, max_size=5, unique=True)),
        "vehicle": {"category": category, "generic_class": generic_class},
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "launch_area": {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"radius_km": draw(st.floats(0.001, 5000))},
        },
        "direction": {"azimuth_deg": draw(st.floats(0, 360, exclude_max=True))},
        "impact_areas": [],
    }


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(valid_pre_launches())
def test_valid_generated_payloads_round_trip(obj: dict[str, Any]) -> None:
    if obj["type"] == "pre-launch-update":
        obj["references"] = obj["id"] + "0" if len(obj["id"].split("-")[2]) < 32 else obj["id"][:-1]
    payload = validate_payload(obj)
    dumped = payload.model_dump(mode="json", exclude_none=True)
    assert validate_payload(dumped) == payload
    assert dumped["window"]["start"].endswith("Z")


# ---------------------------------------------------------------------- JSON Schemas


def _export_module() -> Any:
    path = Path(__file__).resolve().parents[2] / "scripts" / "export_schemas.py"
    spec = importlib.util.spec_from_file_location("export_schemas", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_schemas_are_up_to_date() -> None:
    module = _export_module()
    rendered = module.render()
    assert set(rendered) == {f"{kind}.json" for kind in PAYLOAD_TYPES} | {"document-payload.json"}
    for name, text in rendered.items():
        path = module.OUT_DIR / name
        assert path.read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python scripts/export_schemas.py"
        )
    assert module.main(["--check"]) == 0


@pytest.mark.parametrize("kind", PAYLOAD_TYPES)
def test_schema_describes_the_strict_model(kind: str) -> None:
    schema = json.loads(_export_module().render()[f"{kind}.json"])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["type"]["const"] == kind
    assert set(schema["required"]) >= {"type", "id", "issuer", "issued_at", "regime", "recipients"}
    assert schema["properties"]["issued_at"]["format"] == "date-time"
