"""An offline demo of the VulnCheck API v3 on a local port, with real CISA KEV and NVD data.

Start it from a shell with ``python -m vulncheck_magic.demo --port 8000``, or from Python::

    from vulncheck_magic.demo import DEMO_TOKEN, DemoServer

    with DemoServer() as server:
        ...  # send requests to server.url with DEMO_TOKEN

It serves the indexes ``cisa-kev``, ``vulncheck-kev`` and ``nist-nvd2``. The VulnCheck-only
fields of ``vulncheck-kev`` records are synthetic and each record names them in
``_demo_synthetic``.
"""

from __future__ import annotations

from vulncheck_magic.demo._auth import DEMO_TOKEN
from vulncheck_magic.demo._cli import main
from vulncheck_magic.demo._routes import RecordedRequest
from vulncheck_magic.demo._server import DemoServer

__all__ = ["DEMO_TOKEN", "DemoServer", "RecordedRequest", "main"]
