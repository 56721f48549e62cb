"""Build the compressed data files that the embedded demo API serves.

Reads the CISA KEV catalog (``cisa-kev/known_exploited_vulnerabilities.json``) and the NVD
CVE API 2.0 ``cve`` objects (``nvd2/CVE-*.json``, one bare object per file) from a data
folder, and writes into ``vulncheck_magic/demo/data/``:

* ``cisa-kev.json.gz``: the CISA catalog unchanged (the demo reshapes it when it loads);
* ``nvd2.json.gz``: a JSON list of the NVD ``cve`` objects, ordered by CVE id.

The gzip header carries no timestamp, so rebuilding from the same input gives identical
bytes. Run from anywhere::

    python scripts/build_demo_data.py [DATA_DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPOSITORY_ROOT.parent / "shared" / "data"
OUTPUT_DIR = REPOSITORY_ROOT / "vulncheck_magic" / "demo" / "data"

KEV_FILE = Path("cisa-kev") / "known_exploited_vulnerabilities.json"
NVD_GLOB = "nvd2/CVE-*.json"


def read_kev_catalog(data_dir: Path) -> dict[str, Any]:
    """Read the CISA catalog and check that its record count matches its ``count`` field."""
    catalog: dict[str, Any] = json.loads((data_dir / KEV_FILE).read_text(encoding="utf-8"))
    records = catalog.get("vulnerabilities")
    if not isinstance(records, list):
        raise ValueError(f"{data_dir / KEV_FILE}: missing the 'vulnerabilities' list")
    if catalog.get("count") != len(records):
        raise ValueError(
            f"{data_dir / KEV_FILE}: 'count' is {catalog.get('count')!r} "
            f"but the catalog holds {len(records)} records"
        )
    return catalog


def read_nvd_records(data_dir: Path) -> list[dict[str, Any]]:
    """Read every NVD ``cve`` object and check that each file name matches its ``id``."""
    paths = sorted(data_dir.glob(NVD_GLOB))
    if not paths:
        raise ValueError(f"{data_dir}: no files match {NVD_GLOB}")

    records = []
    for path in paths:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("id") != path.stem:
            raise ValueError(f"{path}: 'id' is {record.get('id')!r}, expected {path.stem!r}")
        records.append(record)
    return records


def write_gzip_json(path: Path, value: object) -> int:
    """Write ``value`` as compact UTF-8 JSON into a reproducible gzip file; return its size."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    payload = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    path.write_bytes(payload)
    return len(payload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder that contains cisa-kev/ and nvd2/ (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    try:
        catalog = read_kev_catalog(args.data_dir)
        nvd_records = read_nvd_records(args.data_dir)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    kev_size = write_gzip_json(OUTPUT_DIR / "cisa-kev.json.gz", catalog)
    nvd_size = write_gzip_json(OUTPUT_DIR / "nvd2.json.gz", nvd_records)

    print(
        f"wrote cisa-kev.json.gz: catalog {catalog.get('catalogVersion')}, "
        f"{len(catalog['vulnerabilities'])} records, {kev_size:,} bytes"
    )
    print(f"wrote nvd2.json.gz: {len(nvd_records)} records, {nvd_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
