"""Static checks of ``deploy/``: what can be verified here without a Docker engine or systemd.

``docker compose config`` needs an engine; instead the compose file is parsed (with PyYAML when
it is installed) and its structure checked. nginx's own ``-t`` checks the shipped config.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from tests.deploy.support import (
    DEPLOY,
    NGINX_CONF,
    nginx_binary,
    render_site,
    self_signed_certificate,
    write_nginx_main,
)

OTHER_VARIABLES = {"LNX_LIMIT_CONCURRENCY", "LNX_LOG_VKEY", "LNX_DB_PASSWORD", "LNX_IMAGE"}
"""Variables that are not Settings fields: CLI options' envvars and compose interpolation."""


def _compose() -> dict:  # type: ignore[type-arg]
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: the compose file is not parsed")
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_has_the_services_of_the_deployment() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web1", "web2", "worker", "nginx"}
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["migrate"]["command"] == ["lnx", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web1", "web2"):
        web = services[name]
        assert web["command"][:4] == ["lnx", "serve", "--host", "0.0.0.0"]
        assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert web["secrets"][0]["source"] == "lnx_log_key"
    assert services["worker"]["command"] == ["lnx", "worker"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("migrate", "web1", "web2", "worker"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert services[name]["env_file"] == "lnx.env"
    nginx = services["nginx"]
    assert "./nginx/lnx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert {d: c["condition"] for d, c in nginx["depends_on"].items()} == {
        "web1": "service_healthy",
        "web2": "service_healthy",
    }
    assert compose["secrets"]["lnx_log_key"]["file"] == "./secrets/log-key.txt"
    assert compose["networks"]["backend"]["internal"] is True
    # Only nginx publishes ports; the servers and the database stay on the internal network.
    assert [n for n, s in services.items() if s.get("ports")] == ["nginx"]


def test_compose_upstreams_match_the_nginx_config() -> None:
    services = _compose()["services"]
    conf = NGINX_CONF.read_text(encoding="utf-8")
    upstream = re.search(r"upstream lnx_servers \{(.*?)\}", conf, re.S)
    assert upstream is not None
    hosts = re.findall(r"server (\S+?):8000", upstream.group(1))
    assert hosts == ["web1", "web2"] and all(h in services for h in hosts)


def test_dockerfile_is_multi_stage_non_root_and_healthchecked() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert stages[0].startswith("${PYTHON_IMAGE} AS builder")
    assert "build-essential" in stages[0] and "build-essential" not in stages[1]
    final = stages[1]
    assert "COPY --from=builder /opt/lnx /opt/lnx" in final
    user = re.search(r"^USER (\S+)", final, re.M)
    assert user is not None and not user.group(1).startswith(("root", "0"))
    assert "HEALTHCHECK" in final and "/readyz" in final
    assert re.search(r'^CMD \["lnx", "serve", "--host", "0.0.0.0"', final, re.M)


def test_nginx_config_streams_the_feed_and_caps_bodies_like_the_app() -> None:
    conf = NGINX_CONF.read_text(encoding="utf-8")

    def location(path: str) -> str:
        match = re.search(r"location = " + re.escape(path) + r" \{(.*?)\n    \}", conf, re.S)
        assert match is not None, path
        return match.group(1)

    for path in ("/v1/stream", "/v1/feed"):
        block = location(path)
        assert "proxy_buffering off;" in block
        timeout = re.search(r"proxy_read_timeout (\d+)([smh]);", block)
        assert timeout is not None
        seconds = int(timeout.group(1)) * {"s": 1, "m": 60, "h": 3600}[timeout.group(2)]
        assert seconds > Settings.model_fields["max_feed_wait_s"].default + 15
    match = re.search(r"client_max_body_size (\d+)k;", conf)
    assert match is not None and int(match.group(1)) * 1024 == Settings.model_fields["max_body_bytes"].default
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert f"proxy_set_header {header} " in conf
    assert "return 404" in location("/metrics")


def test_nginx_accepts_the_shipped_config(tmp_path: Path) -> None:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (.ci/system-deps installs it)")
    cert, key = self_signed_certificate(tmp_path)
    site = render_site(["127.0.0.1:18001", "127.0.0.1:18002"], 18443, 18080, cert, key)
    conf = write_nginx_main(tmp_path / "nginx", site)
    done = subprocess.run(
        [
            binary,
            "-t",
            "-p",
            str(tmp_path / "nginx"),
            "-c",
            str(conf),
            "-e",
            str(tmp_path / "nginx" / "logs" / "e.log"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return parser


def test_systemd_units() -> None:
    server, worker = _unit("lnx.service"), _unit("lnx-worker.service")
    assert server["Service"]["ExecStart"].startswith("/opt/lnx/bin/lnx serve --host 127.0.0.1")
    assert worker["Service"]["ExecStart"] == "/opt/lnx/bin/lnx worker"
    for unit in (server, worker):
        assert unit["Service"]["User"] == "lnx"
        assert unit["Service"]["EnvironmentFile"] == "/etc/lnx/lnx.env"
        assert unit["Service"]["NoNewPrivileges"] == "true"
        assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_env_example_names_only_real_settings() -> None:
    known = {f"LNX_{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES
    names = re.findall(r"^(LNX_[A-Z0-9_]+)=", (DEPLOY / "lnx.env.example").read_text(encoding="utf-8"), re.M)
    assert names and not set(names) - known, set(names) - known


def test_env_example_loads_the_same_from_a_shell(tmp_path: Path) -> None:
    """systemd, docker compose and ``. lnx.env`` must all read it; the shell is the strictest."""
    script = (
        "set -a; . deploy/lnx.env.example; exec python -c "
        '"from app.config import Settings; s = Settings(); print(s.metrics_allow, s.run_webhook_worker)"'
    )
    done = subprocess.run(
        ["sh", "-c", script],
        cwd=DEPLOY.parent,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.1/32'] False"
