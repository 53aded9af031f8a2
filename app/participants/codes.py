"""Participant codes: ISO 3166-1 alpha-3 for states (the list ships as data), a pattern for organisations."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

__all__ = ["ORG_CODE_RE", "is_state_code", "state_codes", "check_code_for_role", "ROLES"]

ROLES = ("state", "observer", "auditor", "operator")
ORG_CODE_RE = re.compile(r"^[A-Z0-9_]{3,16}$")


@lru_cache(maxsize=1)
def _alpha3() -> frozenset[str]:
    text = resources.files("app.participants").joinpath("data/iso3166_alpha3.csv").read_text("utf-8")
    return frozenset(row["alpha3"] for row in csv.DictReader(text.splitlines()))


def is_state_code(code: str) -> bool:
    return code in _alpha3()


def state_codes() -> frozenset[str]:
    """Every code a state may have (ISO 3166-1 alpha-3, as shipped)."""
    return _alpha3()


def check_code_for_role(code: str, role: str) -> str | None:
    """Why ``code`` cannot be used for ``role``, or None when it can."""
    if role == "state":
        if not is_state_code(code):
            return "a state's code must be an ISO 3166-1 alpha-3 code (e.g. IND)"
        return None
    if not ORG_CODE_RE.fullmatch(code):  # fullmatch: "$" alone would let a trailing newline through
        return "an organisation's code must be 3-16 of A-Z, 0-9 and _"
    return None
