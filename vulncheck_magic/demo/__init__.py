"""An offline demo of the VulnCheck API v3 on a local port, with real CISA KEV and NVD data.

Start it from a shell with ``python -m vulncheck_magic.demo --port 8000``, or from Python::

    from vulncheck_magic.demo import DEMO_TOKEN, DemoServer

    with DemoServer() as server:
        ...  # send requests to server.url with DEMO_TOKEN

It serves the indexes ``cisa-kev``, ``vulncheck-kev`` and ``nist-nvd2``. The VulnCheck-only
fields of ``vulncheck-kev`` records are synthetic and each record names them in
``_demo_synthetic``. Its routes:

* ``GET /v3/index`` and ``GET /v3/index/{index}``: the index list and one page of an index.
* ``GET /v3/backup`` and ``GET /v3/backup/{index}``: the backups and their download URL,
  which points at ``GET /demo-backups/{filename}`` on the same server. That URL needs no
  token and rejects an ``Authorization`` header, as a pre-signed S3 URL does.
* ``GET /v3/purl?purl=…`` and ``POST /v3/purls``: vulnerabilities of packages, from a public
  VulnCheck sample and from the NVD configurations of a few Maven packages.
* ``GET /v3/cpe?cpe=…`` and ``GET /v3/search/cpe``: CVEs whose NVD configurations match a CPE.
* ``GET /v3/search/cve?cve=…``: the records of every index that contain a CVE.
* ``GET /v3/tags/vulncheck-c2`` and ``GET /v3/pdns/vulncheck-c2``: synthetic C2 lists made
  of documentation IP addresses and ``.example`` hostnames.
* ``GET /v3/rules/initial-access/{snort|suricata}``: a few demo detection rules.
* ``GET /v3/entitlements`` and ``GET /v3/openapi``: the demo token's entitlements and the
  demo's own OpenAPI document, which needs no token.

Every route except ``/v3/openapi`` and the backup download requires the token. Derived or invented
values are explained in ``_demo_note`` or named in ``_demo_synthetic``.
"""

from __future__ import annotations

from vulncheck_magic.demo._auth import DEMO_TOKEN
from vulncheck_magic.demo._cli import main
from vulncheck_magic.demo._http import RecordedRequest
from vulncheck_magic.demo._server import DemoServer

__all__ = ["DEMO_TOKEN", "DemoServer", "RecordedRequest", "main"]
