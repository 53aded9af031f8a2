"""Running the shipped deployment pieces here, without Docker: nginx from Debian, `lnx` processes.

Everything binds 127.0.0.1 on free ports, lives in a temporary directory and is stopped by the
caller's ``finally`` blocks (each process in its own session, so a kill reaches its children).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "lnx.conf"

__all__ = [
    "REPO",
    "DEPLOY",
    "NGINX_CONF",
    "free_port",
    "nginx_binary",
    "self_signed_certificate",
    "render_site",
    "write_nginx_main",
    "Process",
    "start_nginx",
    "lnx",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A P-256 certificate for 127.0.0.1 and localhost, valid for a day: ``(cert.pem, key.pem)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lnx test exchange")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _replace(text: str, old: str, new: str, count: int) -> str:
    found = text.count(old)
    if found != count:
        raise AssertionError(
            f"deploy/nginx/lnx.conf changed: expected {count} x {old!r}, found {found}; update the test"
        )
    return text.replace(old, new)


def render_site(upstreams: list[str], https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx/lnx.conf with only addresses and certificate paths changed (asserted, not guessed)."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    servers = "".join(f"    server {u} max_fails=1 fail_timeout=5s;\n" for u in upstreams)
    text = _replace(
        text,
        "    server web1:8000 max_fails=1 fail_timeout=5s;\n    server web2:8000 max_fails=1 fail_timeout=5s;\n",
        servers,
        1,
    )
    text = _replace(text, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{https_port} ssl http2;\n", 1)
    text = _replace(text, "    listen [::]:443 ssl http2;\n", "", 1)
    text = _replace(text, "    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n", 1)
    text = _replace(text, "    listen [::]:80;\n", "", 1)
    text = _replace(text, "/etc/nginx/certs/fullchain.pem", str(cert), 1)
    text = _replace(text, "/etc/nginx/certs/privkey.pem", str(key), 1)
    return text


def write_nginx_main(prefix: Path, site: str) -> Path:
    """A complete nginx.conf under ``prefix``: every path (pid, logs, temp files) inside it."""
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "lnx.conf").write_text(site, encoding="utf-8")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/lnx.conf;
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


@dataclass
class Process:
    """A child process in its own session, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def start(self) -> Process:
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            assert self.proc is not None
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self, grace_s: float = 15) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; never raises (used in finally blocks)."""
        if not self.alive:
            return
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace_s)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def wait_http(self, url: str, *, timeout: float = 60, verify: object = True) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise AssertionError(f"{self.name} exited:\n{self.output()[-4000:]}")
            try:
                if httpx.get(url, timeout=2, verify=verify).status_code == 200:  # type: ignore[arg-type]
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready at {url}:\n{self.output()[-4000:]}")
            time.sleep(0.2)


def start_nginx(binary: str, prefix: Path, conf: Path) -> Process:
    """nginx in the foreground (``daemon off``) with its own prefix; the config is tested first."""
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise AssertionError(f"nginx -t refused the configuration:\n{check.stderr}")
    return Process(
        "nginx", [*argv, "-g", "daemon off;"], dict(os.environ), prefix / "logs" / "stdout.log"
    ).start()


def lnx(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run an ``lnx`` command as an operator would (``python -m app.cli.main``, same interpreter)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
