"""A real exchange (uvicorn in its own process on 127.0.0.1) and Debian's Chromium for the console's
browser tests.

The server gets a database of its own, cloned from the migrated template on the backend under
test, and is seeded through the HTTP API. Chromium is the system one (``/usr/bin/chromium``,
installed by ``.ci/install-chromium``), driven by Playwright; every request to a host other than
127.0.0.1 is aborted and recorded, so a test can assert that the console contacted nothing else.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.config import Settings
from tests.conftest import _Postgres
from tests.console import support
from tests.console.support import World
from tests.fixtures import Actor, Exchange, bootstrap_operator

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "console"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``uvicorn app.main:create_app --factory`` on 127.0.0.1; killed at teardown whatever happens."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
                + ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not become ready: {self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@dataclass
class LiveConsole:
    url: str
    world: World
    workdir: Path


@pytest.fixture(scope="module")
def console_database_url(
    _template: tuple[str, object], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of this module's own, at head (a clone of the session's migrated template)."""
    template, pg = _template
    if isinstance(pg, _Postgres):
        name = f"lnx_console_{uuid.uuid4().hex[:10]}"
        url = pg.create(name, template=template)
        yield url
        pg.drop(name)
    else:
        path = tmp_path_factory.mktemp("console-db") / "lnx.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"


@pytest.fixture(scope="module")
def live_console(
    console_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveConsole]:
    workdir = tmp_path_factory.mktemp("console-live")
    settings = Settings(
        database_url=console_database_url, data_dir=workdir / "data", log_origin="lnx.test/log"
    )
    operator_token = bootstrap_operator(settings)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LNX_")},
        "LNX_DATABASE_URL": console_database_url,
        "LNX_DATA_DIR": str(settings.data_dir),
        "LNX_LOG_ORIGIN": settings.log_origin,
        "LNX_ACCESS_LOG": "false",
        "LNX_RUN_WEBHOOK_WORKER": "false",
        "LNX_INTEGRATE_INTERVAL_MS": "20",
    }
    server = ServerProcess(env, workdir / "server.log")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            exchange = Exchange(
                client=http, operator=Actor(code="ICC", role="operator", token=operator_token)
            )  # type: ignore[arg-type]
            world = support.seed(exchange)
            yield LiveConsole(url=server.url, world=world, workdir=workdir)
    finally:
        server.stop()


def _chromium_or_skip() -> Path:
    """Debian's Chromium; installed here if missing (CI runs ``.ci/install-chromium`` first)."""
    if not CHROMIUM.exists():
        installer = REPO / ".ci" / "install-chromium"
        try:
            subprocess.run([str(installer)], check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"browser tests need {CHROMIUM}; it is absent and could not be installed ({exc})")
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need {CHROMIUM}; it is absent and could not be installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@dataclass
class Pages:
    """Opens browser pages in fresh contexts (one cookie jar each) and records outside requests."""

    browser: Any
    base_url: str
    outside: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def __call__(self, viewport: dict[str, int] = LAPTOP, init_script: str | None = None) -> Any:
        context = self.browser.new_context(
            base_url=self.base_url, viewport=viewport, timezone_id="Asia/Kolkata"
        )
        context.set_default_timeout(20_000)
        if init_script:
            context.add_init_script(init_script)
        context.route("**/*", self._only_this_host)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.outside.append(f"page error: {exc}"))
        return page

    def _only_this_host(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, live_console: LiveConsole) -> Iterator[Callable[..., Any]]:
    opened = Pages(browser, live_console.url)
    try:
        yield opened
    finally:
        opened.close()
    assert opened.outside == [], "the console contacted another host or raised a script error"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
