"""Run the demo API: ``python -m vulncheck_magic.demo --port 8000``."""

from __future__ import annotations

from vulncheck_magic.demo._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
