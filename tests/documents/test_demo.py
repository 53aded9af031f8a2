"""``lnx demo --no-serve`` seeds a working exchange with sample notifications (CONTRACT §9)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli.main import app as cli
from app.config import Settings, get_settings
from app.db import utcnow
from app.main import create_app


@pytest.fixture
def demo_dir(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if backend != "sqlite":
        pytest.skip("lnx demo runs on SQLite in its data directory")
    # The command writes LNX_DATA_DIR into the environment; monkeypatch puts it back afterwards.
    monkeypatch.setenv("LNX_DATA_DIR", str(tmp_path / "unused"))
    monkeypatch.delenv("LNX_DATABASE_URL", raising=False)
    yield tmp_path / "demo"
    get_settings.cache_clear()


def run_demo(data_dir: Path) -> str:
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def demo(demo_dir: Path) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    output = run_demo(demo_dir)
    tokens = json.loads((demo_dir / "demo-tokens.json").read_text())
    with TestClient(create_app(Settings(data_dir=demo_dir, access_log=False))) as client:
        yield client, tokens, output


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_demo_is_ready_and_its_operator_token_works(demo) -> None:
    client, _tokens, output = demo

    assert client.get("/readyz").status_code == 200
    printed = re.search(r"^LNX_TOKEN=(lnx_\S+)$", output, re.MULTILINE)
    assert printed is not None, output
    participants = client.get("/v1/participants", headers=headers(printed.group(1)))
    assert participants.status_code == 200
    assert {p["code"] for p in participants.json()} >= {
        "ICC",
        "USA",
        "RUS",
        "IND",
        "PAK",
        "FRA",
        "CHN",
        "ICAO_APAC",
    }


def test_demo_documents_are_there_with_their_stories(demo) -> None:
    client, tokens, _output = demo
    year = utcnow().year

    def get(code: str, doc_id: str) -> dict:
        response = client.get(f"/v1/documents/{doc_id}", headers=headers(tokens[code]))
        assert response.status_code == 200, response.text
        return response.json()

    slv = get("FRA", f"IND-{year}-0101")
    assert slv["status"] == "scheduled"
    assert {a["issuer"] for a in slv["acknowledgements"]} == {"RUS", "FRA"}
    assert get("FRA", f"FRA-{year}-0101")["status"] == "cancelled"
    test = get("PAK", f"IND-{year}-0102")
    assert "notice.min" in {f["rule"] for f in test["findings"]}
    assert get("RUS", f"USA-{year}-0101")["status"] == "launched"
    assert get("USA", f"IND-{year}-0103")["payload"]["year"] == year - 1
    assert (
        client.get(f"/v1/documents/IND-{year}-0101.cap", headers=headers(tokens["ICAO_APAC"])).status_code
        == 200
    )
    checkpoint = client.get("/v1/log/checkpoint").text.split("\n")
    assert int(checkpoint[1]) == 11


def test_bilateral_test_notification_is_invisible_to_france(demo) -> None:
    client, tokens, _output = demo
    doc_id = f"IND-{utcnow().year}-0102"

    response = client.get(f"/v1/documents/{doc_id}", headers=headers(tokens["FRA"]))

    assert response.status_code == 404
    listed = client.get("/v1/documents", headers=headers(tokens["FRA"])).json()["documents"]
    assert doc_id not in {d["id"] for d in listed}
    assert client.get(f"/v1/documents/{doc_id}", headers=headers(tokens["PAK"])).status_code == 200


def test_demo_twice_adds_nothing(demo_dir: Path) -> None:
    first = run_demo(demo_dir)
    tokens = json.loads((demo_dir / "demo-tokens.json").read_text())

    second = run_demo(demo_dir)

    assert json.loads((demo_dir / "demo-tokens.json").read_text()) == tokens
    assert re.findall(r"LNX_TOKEN=\S+", first) == re.findall(r"LNX_TOKEN=\S+", second)
    with TestClient(create_app(Settings(data_dir=demo_dir, access_log=False))) as client:
        assert int(client.get("/v1/log/checkpoint").text.split("\n")[1]) == 11
