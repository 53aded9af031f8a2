"""Serve ``bench.submit:bare_app`` exactly as ``lnx serve`` serves the exchange (``app.serving``).

The baseline must get the same process model and the same spreading of connections over
workers as the exchange, or the ratio would measure the difference between two ways of serving.

Usage: python bench/bare_server.py --workers N --host 127.0.0.1 --port P
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app import serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serving.serve(
        "bench.submit:bare_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # As ``lnx serve`` decides it (its --cpu-affinity option reads the same variable).
        cpu_affinity=os.environ.get("LNX_CPU_AFFINITY", "true").lower() not in ("0", "false", "no", "off"),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
