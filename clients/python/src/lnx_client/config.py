"""Profiles: where an exchange is and how to reach it, in ``~/.config/lnx/config.toml``.

::

    default_profile = "ind"

    [profiles.ind]
    url = "https://lnx.example"
    token = "lnx_..."
    key = "/home/npc/.config/lnx/ind.jwk.json"    # private signing key (JWK)
    log_key = "lnx.example/log+1a2b3c4d+AQ..."     # the log's verifier key, from out of band

The file is found at ``$LNX_CONFIG``, else ``$XDG_CONFIG_HOME/lnx/config.toml``, else
``~/.config/lnx/config.toml``. Settings resolve as: explicit value (a command-line flag) >
environment (``LNX_URL``, ``LNX_TOKEN``, ``LNX_KEY``, ``LNX_LOG_KEY``) > the profile
(``--profile`` / ``$LNX_PROFILE`` / ``default_profile``) > defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_URL", "Profile", "config_dir", "config_path", "load_config", "resolve_profile"]

DEFAULT_URL = "http://127.0.0.1:8000"
_ENV = {"url": "LNX_URL", "token": "LNX_TOKEN", "key": "LNX_KEY", "log_key": "LNX_LOG_KEY"}


@dataclass(frozen=True, slots=True)
class Profile:
    name: str | None
    url: str
    token: str | None = None
    key: str | None = None
    log_key: str | None = None


def config_path() -> Path:
    """The configuration file (it need not exist)."""
    explicit = os.environ.get("LNX_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return config_dir() / "config.toml"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/lnx`` or ``~/.config/lnx`` (the directory of ``$LNX_CONFIG`` if set)."""
    explicit = os.environ.get("LNX_CONFIG")
    if explicit:
        return Path(explicit).expanduser().parent
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "lnx"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed configuration (empty if the file does not exist)."""
    path = path or config_path()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}


def resolve_profile(name: str | None = None, **explicit: str | None) -> Profile:
    """The effective settings (see the module docstring); ``explicit`` holds flag values."""
    config = load_config()
    chosen = name or os.environ.get("LNX_PROFILE") or config.get("default_profile")
    profiles = config.get("profiles", {})
    if chosen is not None and chosen not in profiles:
        raise KeyError(f"no profile {chosen!r} in {config_path()}")
    section: dict[str, Any] = profiles.get(chosen, {}) if chosen else {}
    values: dict[str, str | None] = {}
    for field_name, env in _ENV.items():
        value = explicit.get(field_name) or os.environ.get(env) or section.get(field_name)
        values[field_name] = str(value) if value is not None else None
    return Profile(
        name=chosen,
        url=values["url"] or DEFAULT_URL,
        token=values["token"],
        key=values["key"],
        log_key=values["log_key"],
    )
