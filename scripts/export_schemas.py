"""Write the JSON Schemas (draft 2020-12) of the document payloads to ``docs/schemas/``.

One file per payload type (CONTRACT §2) and ``document-payload.json`` for the union on
``type``, generated from the pydantic models so that the published schema cannot drift from
what the server enforces; ``tests/documents/test_payloads.py`` fails when they are stale.
Cross-field rules (id prefix = issuer, window start < end, class fits category, geometry
validity) are not expressible in JSON Schema and are documented in the descriptions.

Usage: ``python scripts/export_schemas.py`` (write) or ``--check`` (exit 1 when stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from app.documents.payloads import PAYLOAD_ADAPTER, PAYLOAD_MODELS  # noqa: E402

__all__ = ["OUT_DIR", "main", "render"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
OUT_DIR = ROOT / "docs" / "schemas"
CROSS_FIELD = (
    "Also checked by the server, beyond this schema: id starts with the issuer code; "
    "references differs from id; recipients are unique and '*' stands alone; window.start < window.end; "
    "generic_class fits the vehicle category; a Point area has properties.radius_km, other areas do not; "
    "timestamps are UTC ('Z' or '+00:00'); GeoJSON coordinates are in range, rings closed and polygons "
    "valid (RFC 7946), antimeridian crossings allowed."
)


def _document(schema: dict[str, Any], title: str) -> str:
    described = {"$schema": DRAFT, "title": title, **schema}
    described["$comment"] = CROSS_FIELD
    return json.dumps(described, indent=2, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """File name -> exact file text of every schema."""
    files = {
        f"{kind}.json": _document(model.model_json_schema(), kind) for kind, model in PAYLOAD_MODELS.items()
    }
    files["document-payload.json"] = _document(PAYLOAD_ADAPTER.json_schema(), "document-payload")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/schemas is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT_DIR / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(
            "stale schemas: " + ", ".join(stale) + " (run python scripts/export_schemas.py)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
