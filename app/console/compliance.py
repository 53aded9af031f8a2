"""The compliance page's data: the report of ``app.reports`` for one year, when that domain has it.

The console does not compute compliance itself: it shows what ``GET /v1/reports/compliance``
answers, by calling the reports service the route calls. Until that service exists in this
installation the page says so instead of inventing figures.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.service import Principal

__all__ = ["compliance_report", "REPORT_FUNCTIONS"]

REPORT_FUNCTIONS = ("compliance_report", "compliance")
"""Names under which ``app.reports.service`` may offer the report."""


def _report_function() -> Any | None:
    try:
        module = importlib.import_module("app.reports.service")
    except ModuleNotFoundError as exc:
        if exc.name and "app.reports.service".startswith(exc.name):
            return None
        raise
    for name in REPORT_FUNCTIONS:
        function = getattr(module, name, None)
        if callable(function):
            return function
    return None


def _plain(value: Any) -> Any:
    """A report as plain JSON-like data, whatever the service returns (model, dataclass, dict)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def compliance_report(session: Session, principal: Principal, year: int, now: datetime) -> Any | None:
    """The year's compliance report as the reports service gives it to this principal, or ``None``."""
    function = _report_function()
    if function is None:
        return None
    offered = {"session": session, "principal": principal, "year": year, "now": now}
    arguments: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if name in offered:
            arguments[name] = offered[name]
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            return None  # a signature this console does not know how to call
    return _plain(function(**arguments))
