"""Who reads what (CONTRACT §1, §4): every kind of reader × every read path, for a confidential
bilateral notification and for a multilateral one with an entrusted auditor.

Expected: the issuer, the addressed recipients and an entrusted auditor read in full; any other
auditor sees log-level metadata on GET and in lists and nothing on the content paths; everyone
else gets 404 everywhere -- never 403, which would tell them the document exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pytest

from tests.documents.builders import pre_launch, sign
from tests.documents.support import assert_problem, post_jws, visible_ids
from tests.fixtures import Actor

METADATA_KEYS = {
    "id",
    "type",
    "issuer",
    "regime",
    "issued_at",
    "integrated_time",
    "log_index",
    "leaf_hash",
    "access",
}


class Sees(Enum):
    FULL = "full"
    METADATA = "metadata"
    NOTHING = "nothing"


# (a) in-pk-2005 is confidential and entrusts no auditor: HCOC_AUDIT is just another auditor there.
BILATERAL = {
    "ind": Sees.FULL,
    "pak": Sees.FULL,
    "fra": Sees.NOTHING,
    "usa": Sees.NOTHING,
    "observer": Sees.NOTHING,
    "hcoc_auditor": Sees.METADATA,
    "auditor": Sees.METADATA,
    "operator": Sees.NOTHING,
}
# (b) hcoc "*": every member reads it; USA is not a member; HCOC_AUDIT is entrusted with hcoc.
MULTILATERAL = {
    "ind": Sees.FULL,
    "pak": Sees.FULL,
    "fra": Sees.FULL,
    "usa": Sees.NOTHING,
    "observer": Sees.FULL,
    "hcoc_auditor": Sees.FULL,
    "auditor": Sees.METADATA,
    "operator": Sees.NOTHING,
}
CASES = [("bilateral", reader, sees) for reader, sees in BILATERAL.items()] + [
    ("multilateral", reader, sees) for reader, sees in MULTILATERAL.items()
]


@dataclass
class Matrix:
    ids: dict[str, str]
    tokens: dict[str, str]
    readers: dict[str, Actor]


@pytest.fixture
def matrix(world) -> Matrix:  # type: ignore[no-untyped-def]
    usa = world.exchange.add("USA", regimes=("us-ru-1988",))
    bilateral = pre_launch("IND", regime="in-pk-2005", recipients=["PAK"], generic_class="SRBM")
    multilateral = pre_launch("IND", regime="hcoc", recipients=["*"])
    tokens = {}
    for payload in (bilateral, multilateral):
        tokens[payload["id"]] = sign(world.ind, payload)
        assert post_jws(world.client, world.ind, tokens[payload["id"]]).status_code == 201
    readers = {name: getattr(world, name) for name in BILATERAL if name not in ("usa", "operator")}
    return Matrix(
        ids={"bilateral": bilateral["id"], "multilateral": multilateral["id"]},
        tokens=tokens,
        readers={**readers, "usa": usa, "operator": world.operator},
    )


def assert_not_found(response) -> None:  # type: ignore[no-untyped-def]
    assert_problem(response, 404, "document-not-found")


def get_one(world, matrix: Matrix, doc_id: str, reader: Actor) -> Sees:  # type: ignore[no-untyped-def]
    response = world.client.get(f"/v1/documents/{doc_id}", headers=reader.headers)
    if response.status_code == 404:
        assert_not_found(response)
        return Sees.NOTHING
    body = response.json()
    if body["access"] == "metadata":
        assert set(body) == METADATA_KEYS  # no payload, no jws: not even empty members
        return Sees.METADATA
    assert body["jws"] == matrix.tokens[doc_id] and body["payload"]["id"] == doc_id
    return Sees.FULL


def get_raw_jws(world, matrix: Matrix, doc_id: str, reader: Actor) -> Sees:  # type: ignore[no-untyped-def]
    response = world.client.get(
        f"/v1/documents/{doc_id}", headers={**reader.headers, "accept": "application/jose"}
    )
    if response.status_code == 404:
        assert_not_found(response)
        return Sees.NOTHING
    assert response.text == matrix.tokens[doc_id]
    return Sees.FULL


def listed(world, matrix: Matrix, doc_id: str, reader: Actor) -> Sees:  # type: ignore[no-untyped-def]
    body = world.client.get("/v1/documents", params={"page_size": 1000}, headers=reader.headers).json()
    entries = {d["id"]: d for d in body["documents"]}
    if doc_id not in entries:
        return Sees.NOTHING
    if entries[doc_id]["access"] == "metadata":
        assert set(entries[doc_id]) == METADATA_KEYS
        return Sees.METADATA
    assert entries[doc_id]["jws"] == matrix.tokens[doc_id]
    return Sees.FULL


def history(world, matrix: Matrix, doc_id: str, reader: Actor) -> Sees:  # type: ignore[no-untyped-def]
    response = world.client.get(f"/v1/documents/{doc_id}/history", headers=reader.headers)
    if response.status_code == 404:
        assert_not_found(response)
        return Sees.NOTHING
    assert [d["id"] for d in response.json()["documents"]] == [doc_id]
    return Sees.FULL


def geojson(world, matrix: Matrix, doc_id: str, reader: Actor) -> Sees:  # type: ignore[no-untyped-def]
    response = world.client.get("/v1/documents.geojson", params={"active": False}, headers=reader.headers)
    assert response.status_code == 200
    shown = {f["properties"]["document_id"] for f in response.json()["features"]}
    return Sees.FULL if doc_id in shown else Sees.NOTHING


def cap(world, matrix: Matrix, doc_id: str, reader: Actor) -> Sees:  # type: ignore[no-untyped-def]
    response = world.client.get(f"/v1/documents/{doc_id}.cap", headers=reader.headers)
    if response.status_code == 404:
        assert_not_found(response)
        return Sees.NOTHING
    assert f"<identifier>{doc_id}</identifier>".encode() in response.content
    return Sees.FULL


@pytest.mark.parametrize(("case", "reader", "sees"), CASES)
def test_every_read_path(world, matrix: Matrix, case: str, reader: str, sees: Sees) -> None:
    doc_id, actor = matrix.ids[case], matrix.readers[reader]
    content = Sees.NOTHING if sees is Sees.METADATA else sees  # metadata readers get no content path

    seen = {
        path.__name__: path(world, matrix, doc_id, actor)
        for path in (get_one, listed, get_raw_jws, history, geojson, cap)
    }

    assert seen == {
        "get_one": sees,
        "listed": sees,
        "get_raw_jws": content,
        "history": content,
        "geojson": content,
        "cap": content,
    }


def test_a_missing_document_and_an_invisible_one_look_the_same(world, matrix) -> None:
    invisible = world.client.get(f"/v1/documents/{matrix.ids['bilateral']}", headers=world.fra.headers)
    missing = world.client.get("/v1/documents/IND-2026-99999", headers=world.fra.headers)

    assert invisible.status_code == missing.status_code == 404
    assert invisible.json()["type"] == missing.json()["type"]
    assert invisible.json()["title"] == missing.json()["title"]
    for path in ("/history", ".cap"):
        a = world.client.get(f"/v1/documents/{matrix.ids['bilateral']}{path}", headers=world.fra.headers)
        b = world.client.get(f"/v1/documents/IND-2026-99999{path}", headers=world.fra.headers)
        assert a.status_code == b.status_code == 404


def test_list_filters_do_not_reveal_invisible_documents(world, matrix) -> None:
    # Filtering by a confidential regime, issuer or class must not let an outsider infer anything.
    for params in ({"regime": "in-pk-2005"}, {"issuer": "IND", "class": "SRBM"}, {"status": "scheduled"}):
        assert matrix.ids["bilateral"] not in visible_ids(world.client, world.fra, **params)
        assert matrix.ids["bilateral"] not in visible_ids(world.client, world.operator, **params)
