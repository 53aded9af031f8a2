"""docs/configuration.md documents every setting of ``app.config.Settings`` with its true default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _rows() -> dict[str, str]:
    """Table rows of the doc by the ``LNX_*`` variable in their first cell."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`(LNX_[A-Z0-9_]+)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def _rendered(default: Any) -> str:
    """How the doc writes a default: as one would type it into the environment variable."""
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, list):
        return json.dumps([int(v) if isinstance(v, float) and v.is_integer() else v for v in default])
    return str(default)


FIELDS = sorted(Settings.model_fields.items())


@pytest.mark.parametrize("name,field", FIELDS, ids=[name for name, _ in FIELDS])
def test_every_setting_is_documented_with_its_default(name: str, field: Any) -> None:
    env = f"LNX_{name.upper()}"
    rows = _rows()
    assert env in rows, f"{env} ({name}) is missing from docs/configuration.md: add a row for it"
    cells = [c.strip() for c in rows[env].strip().strip("|").split("|")]
    assert len(cells) == 3, f"the row of {env} needs three cells: variable, default, meaning"
    assert cells[1].strip("`") == _rendered(field.default), (
        f"docs/configuration.md gives {env} the default {cells[1]}, "
        f"but app/config.py has {_rendered(field.default)!r}"
    )
    assert len(cells[2]) > 10, f"say what {env} means"


def test_the_doc_names_no_setting_that_does_not_exist() -> None:
    known = {f"LNX_{name.upper()}" for name in Settings.model_fields}
    # Variables of the "Other variables" table are read by commands' options, not by Settings.
    stale = set(_rows()) - known - _command_variables()
    assert not stale, f"docs/configuration.md documents settings that no longer exist: {sorted(stale)}"


def _command_variables() -> set[str]:
    """The ``LNX_*`` environment variables that options of the ``lnx`` commands read."""
    import typer

    from app.cli.main import app as cli

    found: set[str] = set()
    commands: list[Any] = [typer.main.get_command(cli)]
    while commands:
        command = commands.pop()
        commands.extend(getattr(command, "commands", {}).values())  # a group's subcommands
        for param in command.params:
            names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
            found.update(name for name in names if name.startswith("LNX_"))
    return found


def test_every_variable_of_a_command_option_is_documented() -> None:
    missing = _command_variables() - set(_rows()) - {f"LNX_{name.upper()}" for name in Settings.model_fields}
    assert not missing, f"docs/configuration.md does not document {sorted(missing)}"
