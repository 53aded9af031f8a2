"""Generated submissions never produce a 500 (CONTRACT §8: "never a bare 500 for bad input").

Payloads are validly signed, so every example reaches the payload schema, the geometry checks,
the regime rules and the database rules rather than stopping at the signature. The exchange is
built once per test (a function fixture) and reused by every example: examples share its state,
which is realistic -- ids collide, chains close, references point at earlier examples' documents.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.documents.builders import follow_up, pre_launch, sign, ts
from tests.documents.support import craft, post_jws

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXPECTED = {200, 201, 400, 403, 404, 409, 413, 415, 422}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["*", "IND", "PAK", "hcoc", "in-pk-2005", "Point", "Polygon", "Feature", "SLV", "ICBM"])
    | st.sampled_from(
        ["2026-12-01T00:00:00Z", "2026-13-01T00:00:00Z", "1969-12-31T23:59:60Z", "IND-2026-0001"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)


def base_payloads(now: datetime) -> list[dict[str, Any]]:
    """One valid payload of every type (the follow-ups refer to an id that may or may not exist)."""
    vehicle = {"category": "ballistic-missile", "generic_class": "SRBM"}
    declaration = follow_up("IND", "annual-declaration", "x")
    del declaration["references"]
    declaration.update(
        year=2025,
        ballistic_missile_policy="Deterrence; tests notified.",
        slv_policy="Civil space programme.",
        launches=[{"category": "space-launch-vehicle", "generic_class": "SLV", "count": 5}],
        launch_sites=[
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [80.23, 13.72]},
                "properties": {"name": "Sriharikota", "category": "space-launch-vehicle"},
            }
        ],
    )
    return [
        pre_launch("IND", doc_id="IND-2026-F1"),
        pre_launch(
            "IND", regime="in-pk-2005", recipients=["PAK"], generic_class="SRBM", doc_id="IND-2026-F2"
        ),
        pre_launch("IND", type_="pre-launch-update", references="IND-2026-F1", doc_id="IND-2026-F3"),
        follow_up("IND", "cancellation", "IND-2026-F1", reason="weather"),
        follow_up(
            "IND",
            "post-launch",
            "IND-2026-F2",
            regime="in-pk-2005",
            recipients=["PAK"],
            launched_at=ts(now),
            outcome="nominal",
            vehicle=vehicle,
        ),
        follow_up("IND", "acknowledgement", "PAK-2026-F1", recipients=["PAK"]),
        declaration,
    ]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member and item position in a JSON value."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(paths(item, (*prefix, index)))
    return out


def mutate(payload: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    elif action == "add":
        parent.append(value)
    return out


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload = draw(st.sampled_from(base_payloads(datetime.now(UTC))))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        candidates = paths(payload)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        payload = mutate(payload, path, action, draw(json_values))
    return payload


def assert_handled(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code in EXPECTED, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


def test_mutated_payloads_never_break_the_server(world) -> None:
    # A notification for the follow-ups to refer to, and one from PAK for IND to acknowledge.
    assert (
        post_jws(world.client, world.ind, sign(world.ind, base_payloads(datetime.now(UTC))[0])).status_code
        == 201
    )
    pak = pre_launch("PAK", doc_id="PAK-2026-F1")
    assert post_jws(world.client, world.pak, sign(world.pak, pak)).status_code == 201
    statuses: set[int] = set()

    @FUZZ
    @given(payload=mutated_payloads())
    def check(payload: dict[str, Any]) -> None:
        response = post_jws(world.client, world.ind, craft(world.ind.private_jwk, payload))
        assert_handled(response)
        statuses.add(response.status_code)

    check()
    assert 422 in statuses  # the generator does reach the validators


def test_arbitrary_json_objects_never_break_the_server(world) -> None:
    @FUZZ
    @given(
        payload=st.dictionaries(
            st.sampled_from(["type", "id", "issuer", "regime", "recipients", "window", "references", "x"]),
            json_values,
        )
    )
    def check(payload: dict[str, Any]) -> None:
        assert_handled(post_jws(world.client, world.ind, craft(world.ind.private_jwk, payload)))

    check()


def test_arbitrary_bodies_never_break_the_server(world) -> None:
    token = sign(world.ind, pre_launch("IND", start=datetime.now(UTC) + timedelta(days=9)))

    @FUZZ
    @given(
        cut=st.integers(min_value=0, max_value=len(token)),
        insert=st.text(alphabet=st.characters(codec="ascii"), max_size=8),
        content_type=st.sampled_from(
            ["application/jose", "application/json", "application/jose; charset=utf-8"]
        ),
    )
    def check(cut: int, insert: str, content_type: str) -> None:
        body = token[:cut] + insert + token[cut:]
        if content_type == "application/json":
            body = '{"jws": "' + body + '"}'
        response = world.client.post(
            "/v1/documents",
            content=body.encode(),
            headers={**world.ind.headers, "content-type": content_type},
        )
        assert_handled(response)

    check()
