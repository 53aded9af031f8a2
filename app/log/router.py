"""HTTP routes of the log (contract §6). Reads are public; registering witnesses needs the operator.

Hot read paths answer pre-built bytes (no pydantic): checkpoints and keys as text, proofs and
entries as orjson, tiles as octet streams. Query parameters are parsed here, strictly, so that a
malformed number is a 400 problem document rather than a schema error.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import APIRouter, Depends, Request, Response
from lnx_client.core import tiles
from lnx_client.core.entry import format_integrated_time
from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.deps import OperatorDep, ReadSessionDep, SessionDep
from app.errors import BadRequest, UnsupportedMediaType
from app.log import service, witnesses
from app.log.schemas import CosignatureAccepted, WitnessCreate, WitnessOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/log", tags=["log"])
T = TypeVar("T")

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
OCTETS = "application/octet-stream"
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=60"
KEY_CACHE = "public, max-age=86400"

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


def _number(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    if not _DECIMAL.fullmatch(raw) or int(raw) > service.MAX_INDEX:
        raise BadRequest(f"{name} must be a decimal integer between 0 and 2^63-1", code="invalid-parameter")
    return int(raw)


def _required(name: str, raw: str | None) -> int:
    value = _number(name, raw)
    if value is None:
        raise BadRequest(f"the query parameter {name} is required", code="missing-parameter")
    return value


def _json(body: bytes, cache: str = NO_CACHE) -> Response:
    return Response(body, media_type=JSON, headers={"Cache-Control": cache})


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


async def _read(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(session, *args)`` in one read-only transaction in a worker thread.

    The hot reads are async routes making this one thread hop; a sync route with a session
    dependency makes three (dependency set-up, route, tear-down), which under load cost more
    than the queries themselves.
    """
    factory: sessionmaker[Session] = request.app.state.sessionmaker

    def run() -> T:
        for session in session_scope(factory, read_only=True):
            result = fn(session, *args)
        return result

    return await anyio.to_thread.run_sync(run)


@router.get("/checkpoint", response_class=Response, responses={200: {"content": {TEXT: {}}}})
async def get_checkpoint(request: Request, size: str | None = None) -> Response:
    """The newest signed checkpoint (or the one of ``size``) with its witness cosignatures."""
    text = await _read(request, service.checkpoint_text, _number("size", size))
    return Response(text, media_type=TEXT, headers={"Cache-Control": NO_CACHE})


@router.get("/key", response_class=Response, responses={200: {"content": {TEXT: {}}}})
async def get_key(request: Request) -> Response:
    """The log's verifier key string ``<name>+<key id>+<base64 key>`` (C2SP signed-note)."""
    return Response(request.app.state.log_verifier_key, media_type=TEXT, headers={"Cache-Control": KEY_CACHE})


def _inclusion_body(session: Session, index: int | None, leaf_hash: bytes | None, size: int | None) -> bytes:
    if leaf_hash is not None:
        proof = service.proof_by_leaf_hash(session, leaf_hash, size)
    else:
        assert index is not None
        proof = service.inclusion_proof(session, index, size)
    body: dict[str, Any] = {
        "index": proof.index,
        "size": proof.size,
        "leaf_hash": proof.leaf_hash.hex(),
        "hashes": _b64(proof.hashes),
    }
    if proof.checkpoint is not None:
        body["checkpoint"] = proof.checkpoint
    return orjson.dumps(body)


@router.get("/proof/inclusion", response_class=Response)
async def get_inclusion_proof(
    request: Request, index: str | None = None, leaf_hash: str | None = None, size: str | None = None
) -> Response:
    """RFC 9162 inclusion proof of an entry (by ``index`` or hex ``leaf_hash``) in a published tree."""
    tree_size = _number("size", size)
    if (index is None) == (leaf_hash is None):
        raise BadRequest("give exactly one of index and leaf_hash", code="invalid-parameter")
    if leaf_hash is not None and not _HEX32.fullmatch(leaf_hash):
        raise BadRequest("leaf_hash must be 64 hex digits", code="invalid-parameter")
    raw_hash = bytes.fromhex(leaf_hash) if leaf_hash is not None else None
    body = await _read(request, _inclusion_body, _number("index", index), raw_hash, tree_size)
    # Against an explicit size the answer can never change; against "the newest" it can.
    return _json(body, NO_CACHE if tree_size is None else IMMUTABLE)


def _consistency_body(session: Session, first: int, second: int) -> bytes:
    proof = service.consistency_proof(session, first, second)
    return orjson.dumps({"first": proof.first, "second": proof.second, "hashes": _b64(proof.hashes)})


@router.get("/proof/consistency", response_class=Response)
async def get_consistency_proof(
    request: Request, first: str | None = None, second: str | None = None
) -> Response:
    """RFC 9162 consistency proof between two published checkpoint sizes."""
    body = await _read(request, _consistency_body, _required("first", first), _required("second", second))
    return _json(body, IMMUTABLE)


def _entries_body(session: Session, start: int, end: int | None) -> bytes:
    return orjson.dumps(
        [
            {
                "index": e.index,
                "leaf_hash": e.leaf_hash.hex(),
                "leaf_data": e.leaf_data.decode("utf-8", "replace"),
                "integrated_time": format_integrated_time(e.integrated_time),
            }
            for e in service.entries(session, start, end)
        ]
    )


@router.get("/entries", response_class=Response)
async def get_entries(request: Request, start: str | None = None, end: str | None = None) -> Response:
    """Entries ``[start, end)`` of the signed tree, at most 1000 per page."""
    return _json(await _read(request, _entries_body, _required("start", start), _number("end", end)))


def _tile_bytes(session: Session, kind: int | str, index: int, width: int) -> bytes:
    if kind == "entries":
        return service.entry_bundle(session, index, width)
    return service.tile(session, int(kind), index, width)


@router.get("/tile/{path:path}", response_class=Response, responses={200: {"content": {OCTETS: {}}}})
async def get_tile(path: str, request: Request) -> Response:
    """C2SP tlog-tiles: ``tile/<L>/<N>[.p/<W>]`` hash tiles and ``tile/entries/<N>[.p/<W>]`` bundles."""
    try:
        kind, index, width = tiles.parse_tile_path("tile/" + path)
    except ValueError as exc:
        raise BadRequest("not a C2SP tlog-tiles path", code="invalid-tile-path") from exc
    full = width == tiles.TILE_WIDTH
    cache = request.app.state.log_tiles
    data = cache.get((kind, index)) if full else None
    if data is None:
        data = await _read(request, _tile_bytes, kind, index, width)
        if full:
            cache.put((kind, index), data)
    return Response(
        data, media_type=OCTETS, headers={"Cache-Control": IMMUTABLE if full else PARTIAL_TILE_CACHE}
    )


# ---------------------------------------------------------------- witnesses


def _witness_out(session: Session, witness: Any) -> WitnessOut:
    return WitnessOut(
        name=witness.name,
        vkey=witness.vkey,
        participant=witness.participant_code,
        active=witness.active,
        created_at=witness.created_at,
        latest_cosigned_size=witnesses.latest_cosigned_size(session, witness.name),
    )


@router.get("/witnesses", response_model=list[WitnessOut])
def list_witnesses(session: ReadSessionDep) -> Any:
    """The witnesses whose cosignatures the log collects."""
    return [_witness_out(session, w) for w in witnesses.list_witnesses(session)]


@router.post("/witnesses", status_code=201, response_model=WitnessOut)
def register_witness(body: WitnessCreate, session: SessionDep, _op: OperatorDep, response: Response) -> Any:
    """Register a witness's cosignature key (operator)."""
    witness = witnesses.register_witness(
        session, body.vkey, name=body.name, participant_code=body.participant
    )
    response.headers["Location"] = f"/v1/log/witnesses/{witness.name}"
    return _witness_out(session, witness)


@router.post("/witnesses/{name:path}/deactivate", response_model=WitnessOut)
def deactivate_witness(name: str, session: SessionDep, _op: OperatorDep) -> Any:
    """Stop accepting a witness's cosignatures (operator); stored ones are still served."""
    return _witness_out(session, witnesses.deactivate_witness(session, name))


async def _note_body(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "text/plain":
        raise UnsupportedMediaType(
            "send the cosigned checkpoint note as text/plain", code="unsupported-media-type"
        )
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body must be UTF-8", code="malformed-note") from exc


@router.post(
    "/cosignatures", response_model=CosignatureAccepted, responses={200: {"model": CosignatureAccepted}}
)
def post_cosignature(
    body: Annotated[str, Depends(_note_body)], session: SessionDep, response: Response
) -> Any:
    """A witness sends the checkpoint note carrying its cosignature (text/plain; no token: the signature authenticates)."""
    result = witnesses.add_cosignatures(session, body)
    response.status_code = 201 if result.stored else 200
    return CosignatureAccepted(
        checkpoint_size=result.checkpoint_size, stored=result.stored, already_stored=result.already_stored
    )
