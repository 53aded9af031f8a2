"""Real processes for the feed tests: ``lnx worker`` and ``uvicorn app.main:create_app`` servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import Settings

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LNX_")}
    env.update(
        {
            "LNX_DATABASE_URL": settings.resolved_database_url,
            "LNX_DATA_DIR": str(settings.data_dir),
            "LNX_LOG_ORIGIN": settings.log_origin,
            "LNX_ACCESS_LOG": "false",
            "LNX_RATE_LIMIT_PER_MINUTE": "0",
            "LNX_LOG_LEVEL": "WARNING",
            "LNX_WEBHOOK_ALLOW_PRIVATE": "true",
        }
    )
    env.update(extra)
    return env


class Proc:
    """A child process with its output in a log file (shown when it misbehaves)."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def ensure_stopped(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_worker(env: dict[str, str], log_path: Path, *args: str) -> Proc:
    return Proc([sys.executable, "-m", "app.cli.main", "worker", *args], env, log_path)


def start_server(env: dict[str, str], log_path: Path, port: int) -> Proc:
    return Proc(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env,
        log_path,
    )


def wait_ready(proc: Proc, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise AssertionError(f"the server exited:\n{proc.output()}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not become ready:\n{proc.output()}")
