"""Participants: add, list, read, update, deactivate; codes checked; problems for bad input."""

from __future__ import annotations


def test_add_list_read_update_deactivate(exchange):
    client, op = exchange.client, exchange.operator.headers
    r = client.post("/v1/participants", json={"code": "IND", "name": "India", "role": "state"}, headers=op)
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/participants/IND"
    assert r.json()["active"] is True
    r = client.patch(
        "/v1/participants/IND", json={"name": "Republic of India", "contact": "npc@example.in"}, headers=op
    )
    assert r.status_code == 200 and r.json()["name"] == "Republic of India"
    assert client.get("/v1/participants/IND", headers=op).json()["contact"] == "npc@example.in"
    r = client.post("/v1/participants/IND/deactivate", headers=op)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["deactivated_at"]
    # Never deleted: still listed, DELETE is not a method of this resource.
    codes = [p["code"] for p in client.get("/v1/participants", headers=op).json()]
    assert "IND" in codes
    r = client.delete("/v1/participants/IND", headers=op)
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    inactive = client.get("/v1/participants", params={"active": "false"}, headers=op).json()
    assert [p["code"] for p in inactive] == ["IND"]


def test_deactivated_participant_tokens_stop_working(exchange):
    ind = exchange.add("IND")
    assert exchange.client.get("/v1/participants", headers=ind.headers).status_code == 200
    exchange.client.post("/v1/participants/IND/deactivate", headers=exchange.operator.headers)
    assert exchange.client.get("/v1/participants", headers=ind.headers).status_code == 401


def test_state_codes_are_iso_alpha3_and_org_codes_follow_the_contract(exchange):
    client, op = exchange.client, exchange.operator.headers
    r = client.post("/v1/participants", json={"code": "XYZ", "name": "Nowhere", "role": "state"}, headers=op)
    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"][0]["pointer"] == "/code"
    assert "ISO 3166-1" in problem["errors"][0]["message"]
    r = client.post(
        "/v1/participants", json={"code": "bad-code", "name": "Org", "role": "observer"}, headers=op
    )
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/code"
    for bad in ("WMO\n", "A,B_C", "wmo"):  # codes are joined and split with commas in some queries
        r = client.post("/v1/participants", json={"code": bad, "name": "Org", "role": "observer"}, headers=op)
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/code", bad
    r = client.post(
        "/v1/participants", json={"code": "WMO_GENEVA", "name": "WMO", "role": "observer"}, headers=op
    )
    assert r.status_code == 201


def test_bad_input_gets_problem_documents_and_changes_nothing(exchange):
    client, op = exchange.client, exchange.operator.headers
    exchange.add("FRA")
    before = client.get("/v1/participants/FRA", headers=op).json()
    cases = [
        ({"content": b"{not json", "headers": {**op, "content-type": "application/json"}}, 422),
        ({"json": {"code": "FRA", "name": "France", "role": "state"}, "headers": op}, 409),
        ({"json": {"code": "DEU", "name": "Germany", "role": "king"}, "headers": op}, 422),
        ({"json": {"code": "DEU", "name": "Germany", "role": "state", "flag": "x"}, "headers": op}, 422),
        (
            {"content": b"code=DEU", "headers": {**op, "content-type": "application/x-www-form-urlencoded"}},
            422,
        ),
    ]
    for kwargs, status in cases:
        r = client.post("/v1/participants", **kwargs)
        assert r.status_code == status, (kwargs, r.text)
        body = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert body["status"] == status and body["type"].startswith("urn:lnx:problem:")
        assert body["instance"].startswith("urn:lnx:request:")
    r = client.post(
        "/v1/participants", json={"code": "DEU", "name": "Germany", "role": "state", "flag": "x"}, headers=op
    )
    assert r.json()["errors"] == [{"pointer": "/flag", "message": "Extra inputs are not permitted"}]
    assert client.get("/v1/participants/FRA", headers=op).json() == before
    assert client.get("/v1/participants/DEU", headers=op).status_code == 404


def test_oversized_body_is_413(exchange):
    r = exchange.client.post(
        "/v1/participants",
        content=b'{"code": "' + b"A" * 300_000 + b'"}',
        headers={**exchange.operator.headers, "content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["type"] == "urn:lnx:problem:payload-too-large"


def test_unknown_participant_is_404_problem(exchange):
    r = exchange.client.get("/v1/participants/ZZZ", headers=exchange.operator.headers)
    assert r.status_code == 404 and r.json()["type"] == "urn:lnx:problem:participant-not-found"


def test_request_id_is_echoed(exchange):
    r = exchange.client.get(
        "/v1/participants/ZZZ", headers={**exchange.operator.headers, "X-Request-ID": "abc12345-test"}
    )
    assert r.headers["x-request-id"] == "abc12345-test"
    assert r.json()["instance"] == "urn:lnx:request:abc12345-test"
