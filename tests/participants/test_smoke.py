def test_operator_lists_participants(exchange):
    exchange.add("IND", regimes=("hcoc",))
    r = exchange.client.get("/v1/participants", headers=exchange.operator.headers)
    assert r.status_code == 200
    assert [p["code"] for p in r.json()] == ["ICC", "IND"]
