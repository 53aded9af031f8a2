"""A small exchange for the console's tests, built through the HTTP API, and helpers to sign in.

``seed`` works with any client that speaks the API (a ``TestClient`` or an ``httpx.Client`` to a
live server): IND and PAK in ``hcoc`` and ``in-pk-2005``, FRA in ``hcoc``, RESEARCH an auditor
entrusted with nothing; notifications in the next 30 days from IND (hcoc) and FRA (hcoc), one
beyond them (on the map, not on the timeline), and the IND→PAK bilateral notification that no
third state may ever see.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lnx_client.core import jws as core_jws

from tests.documents import builders
from tests.fixtures import Actor, Exchange

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    exchange: Exchange
    ind: Actor
    pak: Actor
    fra: Actor
    research: Actor
    ind_hcoc: str
    fra_hcoc: str
    bilateral: str
    later: str

    @property
    def client(self) -> Any:
        return self.exchange.client


def submit(client: Any, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    response = builders.submit(client, actor, payload)
    assert response.status_code == 201, response.text
    return response.json()


def seed(exchange: Exchange) -> World:
    ind = exchange.add("IND", regimes=("hcoc", "in-pk-2005"))
    pak = exchange.add("PAK", regimes=("hcoc", "in-pk-2005"))
    fra = exchange.add("FRA", regimes=("hcoc",))
    research = exchange.add("RESEARCH", "auditor", key=None, scopes="read")
    now = datetime.now(UTC)
    client = exchange.client
    ind_hcoc = submit(
        client,
        ind,
        builders.pre_launch(
            "IND",
            start=now + timedelta(days=5),
            launch=builders.point(80.23, 13.72, 8, "Sriharikota"),
            impacts=[builders.box(86.0, 8.0), builders.box(92.0, 2.0, 1.0)],
        ),
    )["id"]
    fra_hcoc = submit(
        client,
        fra,
        builders.pre_launch(
            "FRA",
            start=now + timedelta(days=12),
            launch=builders.point(-52.77, 5.23, 10, "Kourou"),
            impacts=[builders.box(-40.0, 8.0, 1.5)],
        ),
    )["id"]
    bilateral_payload = builders.pre_launch(
        "IND",
        regime="in-pk-2005",
        recipients=["PAK"],
        start=now + timedelta(days=4),
        days=1,
        generic_class="SRBM",
        launch=builders.point(79.0, 21.0, 5, "Inland range"),
        impacts=[builders.box(86.5, 19.5, 0.4)],
    )
    bilateral = submit(client, ind, bilateral_payload)["id"]
    later = submit(
        client,
        ind,
        builders.pre_launch(
            "IND",
            start=now + timedelta(days=45),
            launch=builders.point(80.23, 13.72, 8, "Sriharikota"),
            impacts=[builders.box(84.0, 4.0)],
        ),
    )["id"]
    return World(exchange, ind, pak, fra, research, ind_hcoc, fra_hcoc, bilateral, later)


def acknowledgement(actor: Actor, references: str, recipient: str, regime: str = "hcoc") -> dict[str, Any]:
    return builders.follow_up(
        actor.code, "acknowledgement", references, regime=regime, recipients=[recipient]
    )


def lnx_sign(actor: Actor, payload: dict[str, Any], workdir: Path) -> str:
    """A JWS made the way a National Point of Contact makes one: ``lnx sign`` (the core's signer if
    this checkout's CLI has no client commands yet)."""
    key = workdir / f"{actor.code}.jwk.json"
    key.write_text(json.dumps(actor.private_jwk))
    payload_file = workdir / f"{payload['id']}.json"
    payload_file.write_text(json.dumps(payload))
    if importlib.util.find_spec("app.cli.client_commands") is None:
        return core_jws.sign_compact(payload, core_jws.JwkSigner(actor.private_jwk))
    out = workdir / f"{payload['id']}.jws"
    command = [sys.executable, "-c", "from app.cli.main import app; app()", "sign", str(payload_file)]
    subprocess.run(
        [*command, "--key", str(key), "--out", str(out)], check=True, capture_output=True, timeout=60
    )
    return out.read_text().strip()


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: Any, token: str, **headers: str) -> Any:
    """Sign in through the form, as a browser does; returns the POST's response (a 303)."""
    form = client.get("/console/login")
    assert form.status_code == 200, form.text
    return client.post(
        "/console/login",
        data={"csrf_token": csrf_of(form.text), "token": token, "next": "/console/"},
        headers=headers,
        follow_redirects=False,
    )
