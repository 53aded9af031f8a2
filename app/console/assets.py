"""The console's static files (CSS, JS, the basemap), served from the installed package.

Only files in :data:`FILES` are served, read once per process: no path from the URL ever reaches
the file system. URLs carry a content hash (``?v=``) so browsers may cache them for good.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["FILES", "StaticFile", "get", "url_for"]

FILES: dict[str, str] = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "map.js": "text/javascript; charset=utf-8",
    "sign.js": "text/javascript; charset=utf-8",
    "verify.js": "text/javascript; charset=utf-8",
    "land-110m.json": "application/json",
    "world-atlas-LICENSE.txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


@cache
def get(name: str) -> StaticFile | None:
    """The named file, or ``None`` if it is not one the console serves."""
    media_type = FILES.get(name)
    if media_type is None:
        return None
    body = resources.files("app.console.static").joinpath(name).read_bytes()
    return StaticFile(body=body, media_type=media_type, etag=hashlib.sha256(body).hexdigest()[:16])


def url_for(name: str) -> str:
    """``/console/static/<name>?v=<content hash>``."""
    file = get(name)
    if file is None:
        raise KeyError(name)
    return f"/console/static/{name}?v={file.etag}"
