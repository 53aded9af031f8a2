#!/usr/bin/env bash
# Installs the exchange and its test dependencies into .venv and runs the whole test suite.
# Set LNX_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres to run it on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
exec .venv/bin/python -m pytest "$@"
