"""The client distribution stands alone: its dependencies, its public surface, its typing marker."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import lnx_client

from tests.conftest import REPO_ROOT

CLIENT = REPO_ROOT / "clients" / "python"


def test_depends_only_on_httpx_cryptography_pydantic() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = sorted(dep.split(">")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"])
    assert project["name"] == "lnx-client"
    assert names == ["cryptography", "httpx", "pydantic"]


def test_importing_the_client_pulls_in_no_server_code() -> None:
    code = (
        "import sys, lnx_client, lnx_client.audit, lnx_client.witness, lnx_client.config\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'app', 'fastapi', 'sqlalchemy', 'starlette',"
        " 'typer', 'uvicorn', 'alembic', 'shapely', 'joserfc'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_public_surface_is_explicit() -> None:
    assert lnx_client.__all__ == sorted(lnx_client.__all__)
    for name in lnx_client.__all__:
        assert hasattr(lnx_client, name), name
    assert (CLIENT / "src" / "lnx_client" / "py.typed").is_file()


def test_sdist_carries_the_core_and_py_typed(tmp_path: Path) -> None:
    """Built with setuptools' PEP 517 backend, as ``pip install clients/python`` does."""
    source = tmp_path / "lnx-client"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    code = f"import setuptools.build_meta as b; print(b.build_sdist({str(tmp_path)!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=source, check=True, timeout=120, capture_output=True, text=True
    )
    sdist = tmp_path / out.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {
        "src/lnx_client/py.typed",
        "src/lnx_client/core/jws.py",
        "src/lnx_client/core/merkle.py",
        "src/lnx_client/client.py",
        "README.md",
        "pyproject.toml",
    } <= names
    assert not any(n.startswith("app/") for n in names)
