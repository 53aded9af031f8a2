"""The log key file and the start-up checks that keep one log under one key."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from fastapi.testclient import TestClient
from lnx_client.core import note

from app.config import Settings
from app.log import service
from app.log.signer import KeyFileError, load_or_create_signer
from app.main import create_app


def test_key_is_created_0600_and_reloaded(settings: Settings):
    signer = load_or_create_signer(settings)
    path = settings.resolved_log_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("PRIVATE+KEY+lnx.test/log+")
    assert load_or_create_signer(settings).vkey == signer.vkey
    assert signer.name == "lnx.test/log"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_key_name_can_differ_from_origin(settings: Settings):
    named = settings.model_copy(update={"log_key_name": "lnx.test-key"})
    assert load_or_create_signer(named).name == "lnx.test-key"
    with pytest.raises(KeyFileError, match="configured name"):
        load_or_create_signer(settings)  # same file, other name


def test_unsafe_or_malformed_key_files_are_refused(settings: Settings):
    path = settings.resolved_log_key_path
    load_or_create_signer(settings)
    os.chmod(path, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_signer(settings)
    os.chmod(path, 0o600)
    path.write_text("not a key\n")
    with pytest.raises(KeyFileError, match="not a signed-note"):
        load_or_create_signer(settings)


def test_concurrent_first_starts_agree_on_one_key(settings: Settings):
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_or_create_signer(settings).vkey)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(keys) == 8 and len(set(keys)) == 1


def test_server_refuses_to_start_with_another_key(settings: Settings, tmp_path):
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/log/checkpoint").status_code == 200
    other = settings.model_copy(update={"log_key_path": tmp_path / "other-key.txt"})
    with pytest.raises(service.LogKeyMismatch), TestClient(create_app(other)):
        pass
    moved = settings.model_copy(update={"log_origin": "lnx.moved/log", "log_key_name": "lnx.test/log"})
    with pytest.raises(service.LogKeyMismatch), TestClient(create_app(moved)):
        pass


def test_verifier_key_is_served(client, settings: Settings):
    signer = load_or_create_signer(settings)
    assert client.get("/v1/log/key").text == signer.vkey
    assert note.Verifier.from_vkey(client.get("/v1/log/key").text).key_id == signer.key_id
