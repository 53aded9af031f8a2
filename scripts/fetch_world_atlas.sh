#!/usr/bin/env bash
# How the console's basemap was obtained (run once by a developer; the app never fetches it).
#
# Downloads the npm package world-atlas@2 with `npm pack` into a temporary directory and copies
# its land-110m.json (Natural Earth 1:110m land, public domain; TopoJSON by world-atlas, ISC) to
# app/console/static/. The committed file is what the console serves: no tile server, no CDN.
# After running it, compare the printed SHA-256 with the one in world-atlas-LICENSE.txt and
# update that notice if the package version changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${1:-2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "world-atlas@${VERSION}" >/dev/null && tar -xzf world-atlas-*.tgz)
cp "$tmp/package/land-110m.json" app/console/static/land-110m.json
echo "world-atlas $(node -p "require('$tmp/package/package.json').version") -> app/console/static/land-110m.json"
sha256sum app/console/static/land-110m.json
