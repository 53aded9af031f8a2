"""Payload schemas of the six document types (CONTRACT §2), as strict pydantic v2 models.

The payload is what a participant signed, so the models describe it exactly and never
coerce: ``extra="forbid"`` (a misspelt member is an error, not silently dropped),
``strict=True`` (``"12"`` is not a number, ``true`` is not ``1``), ``frozen=True`` (a parsed
payload is a value), no NaN or infinity. Every string and list has an upper bound so that a
hostile payload costs little to refuse; the request-body limit (256 KiB) bounds the rest.

Cross-field checks (id prefix, window order, vehicle class) are reported at the member they
concern: a validator raises :func:`_located` errors whose context carries the sub-path, and
:func:`problem_errors` turns every pydantic error into an RFC 6901 JSON Pointer into the
payload *as the client sent it* (the union tags pydantic inserts into locations are dropped).

Geometry is checked structurally here and geometrically in :mod:`app.documents.geo`;
:func:`validate_payload` runs both and is what the service should call.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "CLASSES_BY_CATEGORY",
    "PAYLOAD_ADAPTER",
    "PAYLOAD_MODELS",
    "PAYLOAD_TYPES",
    "Acknowledgement",
    "AnnualDeclaration",
    "AnyPayload",
    "AreaFeature",
    "AreaProperties",
    "Cancellation",
    "Direction",
    "DocumentPayload",
    "LaunchCount",
    "LaunchSiteFeature",
    "LaunchSiteProperties",
    "MultiPolygonGeometry",
    "PayloadError",
    "PointGeometry",
    "PolygonGeometry",
    "PostLaunch",
    "PreLaunch",
    "PreLaunchUpdate",
    "Vehicle",
    "Window",
    "member",
    "parse_payload",
    "problem_errors",
    "validate_payload",
]

PAYLOAD_TYPES = (
    "pre-launch",
    "pre-launch-update",
    "cancellation",
    "post-launch",
    "acknowledgement",
    "annual-declaration",
)
GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")

# Limits that keep a hostile payload cheap; generous for any real notification.
MAX_TEXT = 4000  # remarks, reason
MAX_POLICY_TEXT = 20000  # annual-declaration policy outlines
MAX_NAME = 200
MAX_RECIPIENTS = 256
MAX_AREAS = 50
MAX_LAUNCH_SITES = 200
MAX_LAUNCH_COUNTS = 64
MAX_RING_POSITIONS = 4096  # the total per feature is bounded again in geo.MAX_VERTICES
MAX_RINGS = 64
MAX_POLYGONS = 64
MAX_RADIUS_KM = 5000.0

VehicleCategory = Literal["ballistic-missile", "space-launch-vehicle"]
GenericClass = Literal["SRBM", "MRBM", "IRBM", "ICBM", "SLBM", "SLV", "other"]
Outcome = Literal["nominal", "failure", "aborted", "unknown"]

#: Which generic classes make sense for each category; anything else is a 422.
CLASSES_BY_CATEGORY: dict[str, frozenset[str]] = {
    "ballistic-missile": frozenset({"SRBM", "MRBM", "IRBM", "ICBM", "SLBM", "other"}),
    "space-launch-vehicle": frozenset({"SLV", "other"}),
}

# [0-9] rather than \d: the regex engine is Unicode-aware and \d would admit other digits.
CODE_RE = r"^[A-Z0-9_]{3,16}$"
ID_RE = r"^[A-Z0-9_]{3,16}-[0-9]{4}-[A-Za-z0-9.]{1,32}$"
REGIME_RE = r"^[a-z0-9][a-z0-9-]{1,31}$"
# RFC 3339 §5.6 date-time; 'T' and 'Z' may be lower case (§5.6 NOTE). Only UTC is accepted.
_DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)
_UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|\+00:00)$"


def _located(code: str, message: str, *at: str | int) -> PydanticCustomError:
    """An error that :func:`problem_errors` reports at ``at`` below the validated object."""
    return PydanticCustomError(code, message, {"at": at})


def _utc_timestamp(value: Any) -> datetime:
    """Parse an RFC 3339 timestamp in UTC.

    UTC only (CONTRACT §2): a naive time is ambiguous and an offset invites comparison bugs
    between documents, so both are refused with a message that says how to fix them.
    """
    if isinstance(value, datetime):  # Python callers building models directly
        if value.tzinfo is None or value.utcoffset() != timedelta(0):
            raise PydanticCustomError("utc_timestamp", "Timestamp must be timezone-aware UTC")
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("utc_timestamp_type", "Input should be an RFC 3339 timestamp string")
    match = _DATETIME_RE.fullmatch(value) if len(value) <= 40 else None
    if match is None:
        raise PydanticCustomError(
            "utc_timestamp", "Input should be an RFC 3339 UTC timestamp such as 2026-03-01T06:00:00Z"
        )
    offset = match["offset"]
    if offset is None:
        raise PydanticCustomError(
            "utc_timestamp_naive", "Timestamp has no offset: times are UTC and end with 'Z' or '+00:00'"
        )
    if offset not in ("Z", "z", "+00:00"):
        raise PydanticCustomError(
            "utc_timestamp_offset",
            "Timestamp must be in UTC: end with 'Z' or '+00:00', not {offset}",
            {"offset": offset},
        )
    text = value[: match.start("offset")].upper()
    if "." in text:  # datetime holds microseconds: nanoseconds are cut, not refused
        head, frac = text.split(".")
        text = f"{head}.{frac[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "utc_timestamp", "Timestamp is not a valid calendar date and time"
        ) from None
    return parsed.replace(tzinfo=UTC)


UtcTimestamp = Annotated[
    datetime,
    BeforeValidator(_utc_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _UTC_PATTERN}),
]
Code = Annotated[str, Field(pattern=CODE_RE, max_length=16)]
DocumentId = Annotated[str, Field(pattern=ID_RE, max_length=54)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Coordinate = Annotated[float, Field(allow_inf_nan=False)]
# RFC 7946 §3.1.1: longitude, latitude and an optional altitude (kept, ignored).
Position = Annotated[list[Coordinate], Field(min_length=2, max_length=3)]
# Ring length, closure and validity are checked in geo.py, with better messages.
Ring = Annotated[list[Position], Field(min_length=1, max_length=MAX_RING_POSITIONS)]
PolygonCoordinates = Annotated[list[Ring], Field(min_length=1, max_length=MAX_RINGS)]


def _check_recipients(value: list[str]) -> list[str]:
    if "*" in value and len(value) > 1:
        raise PydanticCustomError("recipients_mixed", "'*' (every member) cannot be combined with codes")
    seen: set[str] = set()
    for index, code in enumerate(value):
        if code in seen:
            raise PydanticCustomError(
                "recipients_duplicate", "Duplicate recipient {code}", {"at": (index,), "code": code}
            )
        seen.add(code)
    return value


Recipients = Annotated[
    list[Annotated[str, Field(pattern=r"^(\*|[A-Z0-9_]{3,16})$", max_length=16)]],
    Field(min_length=1, max_length=MAX_RECIPIENTS),
    AfterValidator(_check_recipients),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class PointGeometry(_Strict):
    type: Literal["Point"]
    coordinates: Position


class PolygonGeometry(_Strict):
    type: Literal["Polygon"]
    coordinates: PolygonCoordinates


class MultiPolygonGeometry(_Strict):
    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[PolygonCoordinates], Field(min_length=1, max_length=MAX_POLYGONS)]


AreaGeometry = Annotated[PointGeometry | PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


class AreaProperties(_Strict):
    name: Name | None = None
    radius_km: Annotated[float, Field(gt=0, le=MAX_RADIUS_KM)] | None = None


class AreaFeature(_Strict):
    """A launch or impact area: a circle (Point + ``radius_km``), a Polygon or a MultiPolygon."""

    type: Literal["Feature"]
    geometry: AreaGeometry
    properties: AreaProperties | None = None

    @model_validator(mode="after")
    def _radius_matches_geometry(self) -> AreaFeature:
        radius = self.properties.radius_km if self.properties else None
        if self.geometry.type == "Point" and radius is None:
            raise _located(
                "radius_required", "A Point area needs properties.radius_km", "properties", "radius_km"
            )
        if self.geometry.type != "Point" and radius is not None:
            raise _located(
                "radius_forbidden", "radius_km is only allowed with a Point", "properties", "radius_km"
            )
        return self


class LaunchSiteProperties(_Strict):
    name: Name
    category: VehicleCategory


class LaunchSiteFeature(_Strict):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: LaunchSiteProperties


def _check_class(category: str, generic_class: str) -> None:
    if generic_class not in CLASSES_BY_CATEGORY[category]:
        raise PydanticCustomError(
            "class_mismatch",
            "generic_class {generic_class} does not fit category {category} (allowed: {allowed})",
            {
                "at": ("generic_class",),
                "generic_class": generic_class,
                "category": category,
                "allowed": ", ".join(sorted(CLASSES_BY_CATEGORY[category])),
            },
        )


class Vehicle(_Strict):
    category: VehicleCategory
    generic_class: GenericClass
    designation: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Vehicle:
        _check_class(self.category, self.generic_class)
        return self


class Window(_Strict):
    start: UtcTimestamp
    end: UtcTimestamp

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if not self.start < self.end:
            raise _located("window_order", "Window end must be after its start", "end")
        return self


class Direction(_Strict):
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)]
    tolerance_deg: Annotated[float, Field(ge=0, le=180)] | None = None


class LaunchCount(_Strict):
    category: VehicleCategory
    generic_class: GenericClass
    count: Annotated[int, Field(ge=0, le=100_000)]

    @model_validator(mode="after")
    def _consistent(self) -> LaunchCount:
        _check_class(self.category, self.generic_class)
        return self


class _PayloadBase(_Strict):
    type: str
    id: DocumentId
    issuer: Code
    issued_at: UtcTimestamp
    regime: Annotated[str, Field(pattern=REGIME_RE, max_length=32)]
    recipients: Recipients

    @model_validator(mode="after")
    def _identity(self) -> _PayloadBase:
        if not self.id.startswith(self.issuer + "-"):
            raise _located("id_issuer", "id must start with the issuer code followed by '-'", "id")
        if member(self, "references") == self.id:
            raise _located("self_reference", "A document cannot reference itself", "references")
        return self


class _Notification(_PayloadBase):
    vehicle: Vehicle
    window: Window
    launch_area: AreaFeature
    direction: Direction
    impact_areas: Annotated[list[AreaFeature], Field(max_length=MAX_AREAS)]
    remarks: Text | None = None


class PreLaunch(_Notification):
    """A pre-launch notification (HCoC §4(a)(iii); CONTRACT §2)."""

    type: Literal["pre-launch"]


class PreLaunchUpdate(_Notification):
    """Restates the whole notification and supersedes the version it references."""

    type: Literal["pre-launch-update"]
    references: DocumentId


class Cancellation(_PayloadBase):
    type: Literal["cancellation"]
    references: DocumentId
    reason: Text | None = None


class PostLaunch(_PayloadBase):
    """A launch report; ``references`` is absent only for a launch that was never announced."""

    type: Literal["post-launch"]
    references: DocumentId | None = None
    launched_at: UtcTimestamp
    outcome: Outcome
    vehicle: Vehicle
    launch_area: AreaFeature | None = None
    impact_areas: Annotated[list[AreaFeature], Field(max_length=MAX_AREAS)] | None = None
    remarks: Text | None = None


class Acknowledgement(_PayloadBase):
    type: Literal["acknowledgement"]
    references: DocumentId


def _check_launch_counts(value: list[LaunchCount]) -> list[LaunchCount]:
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(value):
        key = (item.category, item.generic_class)
        if key in seen:
            raise _located("launches_duplicate", "Duplicate (category, generic_class) pair", index)
        seen.add(key)
    return value


class AnnualDeclaration(_PayloadBase):
    """The yearly declaration (HCoC §4(a)(i)–(ii)) on ``year``, the year reported on."""

    type: Literal["annual-declaration"]
    year: Annotated[int, Field(ge=1957, le=2100)]
    ballistic_missile_policy: Annotated[str, Field(max_length=MAX_POLICY_TEXT)]
    slv_policy: Annotated[str, Field(max_length=MAX_POLICY_TEXT)]
    launches: Annotated[
        list[LaunchCount], Field(max_length=MAX_LAUNCH_COUNTS), AfterValidator(_check_launch_counts)
    ]
    launch_sites: Annotated[list[LaunchSiteFeature], Field(max_length=MAX_LAUNCH_SITES)]
    remarks: Text | None = None


AnyPayload = PreLaunch | PreLaunchUpdate | Cancellation | PostLaunch | Acknowledgement | AnnualDeclaration
DocumentPayload = Annotated[AnyPayload, Field(discriminator="type")]
PAYLOAD_ADAPTER: TypeAdapter[AnyPayload] = TypeAdapter(DocumentPayload)
PAYLOAD_MODELS: dict[str, type[_PayloadBase]] = {
    "pre-launch": PreLaunch,
    "pre-launch-update": PreLaunchUpdate,
    "cancellation": Cancellation,
    "post-launch": PostLaunch,
    "acknowledgement": Acknowledgement,
    "annual-declaration": AnnualDeclaration,
}


class PayloadError(ValueError):
    """A payload refused with 422; ``errors`` is the problem+json ``errors`` member (CONTRACT §8)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(f"{len(errors)} payload error(s)")
        self.errors = errors


def member(payload: BaseModel, name: str) -> Any:
    """A member only some payload types have, or ``None``.

    ``getattr(payload, name, None)`` would do, but on a pydantic model a missing attribute takes
    ``BaseModel.__getattr__``'s slow path and an exception (about 2 µs); the fields live in
    ``__dict__``.
    """
    return payload.__dict__.get(name)


def parse_payload(obj: object) -> AnyPayload:
    """Structural validation only; raises :class:`pydantic.ValidationError`."""
    return PAYLOAD_ADAPTER.validate_python(obj)


def validate_payload(obj: object) -> AnyPayload:
    """Structure *and* geometry (the two checks the service runs on submission).

    Raises :class:`PayloadError` whose ``errors`` carry JSON Pointers into ``obj``.
    """
    from app.documents import geo  # geo does not import this module; the import is lazy for clarity

    try:
        payload = parse_payload(obj)
    except ValidationError as exc:
        raise PayloadError(problem_errors(exc)) from None
    errors = geo.geo_errors(obj)  # the raw object: pointers must address what was sent
    if errors:
        raise PayloadError(errors)
    return payload


def _escape(segment: str | int) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def _client_path(loc: tuple[str | int, ...]) -> list[str | int]:
    """Drop the union tags pydantic inserts: the payload type first, the geometry type after 'geometry'."""
    path: list[str | int] = []
    for index, segment in enumerate(loc):
        if index == 0 and segment in PAYLOAD_TYPES:
            continue
        if path and path[-1] == "geometry" and segment in GEOMETRY_TYPES:
            continue
        path.append(segment)
    return path


def problem_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Convert a pydantic error into ``[{"pointer", "message"}]`` (RFC 6901 pointers, RFC 9457 §3)."""
    problems: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        path = _client_path(tuple(error["loc"]))
        ctx = error.get("ctx") or {}
        message = error["msg"]
        if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            path.append("type")
            in_geometry = len(path) >= 2 and path[-2] == "geometry"
            expected = ", ".join(GEOMETRY_TYPES if in_geometry else PAYLOAD_TYPES)
            message = f"type must be one of: {expected}"
        elif error["type"] == "extra_forbidden":
            message = "Member not allowed here"
        elif error["type"] in ("model_attributes_type", "model_type", "dict_type"):
            message = "Input should be a JSON object"
        path.extend(ctx.get("at", ()))
        problems.append({"pointer": "".join("/" + _escape(s) for s in path), "message": message})
    return problems
