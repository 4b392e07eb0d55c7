"""``python -m tests.market …``: the same as ``fleetops paper-exchange …`` (kept for old command lines)."""

from __future__ import annotations

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.argv = ["fleetops", "paper-exchange", *sys.argv[1:]]
    main()
