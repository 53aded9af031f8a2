#!/usr/bin/env bash
# Installs the exchange into .venv and starts the demo exchange on SQLite (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/lnx demo "$@"
