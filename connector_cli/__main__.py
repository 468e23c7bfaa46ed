"""Entry point: `python -m connector_cli`."""

from __future__ import annotations

from connector_cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
