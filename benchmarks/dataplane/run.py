#!/usr/bin/env python3
"""The data-plane comparison of kmeshctl (see README.md here): a thin wrapper around
`kmeshctl bench dataplane` that writes into this repository's benchmarks/results/<date>/.

    sudo .venv/bin/python benchmarks/dataplane/run.py            # full run (~13 min)
    sudo .venv/bin/python benchmarks/dataplane/run.py --duration 3 --repeats 1   # smoke

Any `kmeshctl bench dataplane` option may be given (--paths, --loads, --repeats, ...).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(REPO_ROOT / "benchmarks" / "results" / date.today().isoformat())]
    sys.argv = ["kmeshctl", "bench", "dataplane", *args]
    from kmeshctl.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
