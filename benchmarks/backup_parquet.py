"""Benchmark backup_to_parquet on a synthetic backup zip of KEV-shaped records.

Usage::

    python benchmarks/backup_parquet.py [SIZE_MB] [--batch-rows N] [--layout ndjson|array]

The script writes a zip with one NDJSON (or JSON array) member of about SIZE_MB megabytes
of uncompressed JSON (default 200) into a temporary directory. A child process converts it,
so that the peak RSS covers the conversion only. It prints the records, the sizes,
the conversion time, MB/s of uncompressed JSON and the peak RSS, and the time to only read
the records (JSON decoding without flattening or Parquet) for comparison. The records are
synthetic: random words and ids in the shape of ``vulncheck-kev`` records.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

MB = 1_000_000

_VENDORS = [
    ("Apache", "Log4j2"),
    ("Microsoft", "Windows"),
    ("Citrix", "NetScaler ADC"),
    ("Ivanti", "Connect Secure"),
    ("PHP Group", "PHP"),
    ("Fortinet", "FortiOS"),
    ("Atlassian", "Confluence"),
    ("VMware", "vCenter Server"),
]
_PHRASE = (
    "allows remote attackers execute arbitrary code via crafted request authentication "
    "bypass improper input validation memory corruption path traversal command injection "
    "deserialization of untrusted data privilege escalation use after free out of bounds"
)
_WORDS = _PHRASE.split()
_CWES = ["CWE-20", "CWE-22", "CWE-78", "CWE-79", "CWE-287", "CWE-416", "CWE-502", "CWE-787"]


def kev_record(rng: random.Random, number: int) -> dict[str, Any]:
    """Return one synthetic record with the fields and nesting of a vulncheck-kev record."""
    vendor, product = rng.choice(_VENDORS)
    year = rng.randint(2014, 2025)
    cve = f"CVE-{year}-{number:05d}"
    day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    xdb = [
        {
            "xdb_id": f"{rng.getrandbits(48):012x}",
            "xdb_url": f"https://vulncheck.com/xdb/{rng.getrandbits(48):012x}",
            "date_added": f"{day}T{rng.randint(0, 23):02d}:00:00Z",
            "exploit_type": rng.choice(["initial-access", "infoleak", "denial-of-service"]),
            "clone_ssh_url": f"git@github.com:researcher{rng.randint(1, 999)}/{cve}.git",
        }
        for _ in range(rng.randint(0, 3))
    ]
    record: dict[str, Any] = {
        "vendorProject": vendor,
        "product": product,
        "shortDescription": " ".join(rng.choices(_WORDS, k=rng.randint(20, 60))),
        "vulnerabilityName": f"{vendor} {product} {rng.choice(_WORDS).title()} Vulnerability",
        "required_action": "Apply mitigations per vendor instructions or discontinue use.",
        "knownRansomwareCampaignUse": rng.choice(["Known", "Unknown"]),
        "cve": [cve],
        "cwes": rng.sample(_CWES, k=rng.randint(1, 2)),
        "vulncheck_xdb": xdb,
        "vulncheck_reported_exploitation": [
            {"url": f"https://example.com/report/{cve.lower()}", "date_added": f"{day}T00:00:00Z"}
        ],
        "reported_exploited_by_vulncheck_canaries": rng.random() < 0.3,
        "dueDate": f"{day}T00:00:00Z",
        "cisa_date_added": f"{day}T00:00:00Z",
        "date_added": f"{day}T00:00:00Z",
        "_timestamp": f"2025-08-25T{rng.randint(0, 23):02d}:14:55.123456Z",
    }
    if rng.random() < 0.1:
        record["notes"] = " ".join(rng.choices(_WORDS, k=10))
    return record


def build_zip(path: Path, size_mb: float, layout: str) -> tuple[int, int]:
    """Write the synthetic backup zip; return the record count and uncompressed bytes."""
    rng = random.Random(20250825)
    target = int(size_mb * MB)
    written = 0
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("vulncheck-kev.json", "w", force_zip64=True) as member:
            if layout == "array":
                member.write(b"[\n")
                written += 2
            while written < target:
                line = json.dumps(kev_record(rng, count)).encode()
                if layout == "array":
                    line = (b",\n" if count else b"") + line
                else:
                    line += b"\n"
                member.write(line)
                written += len(line)
                count += 1
            if layout == "array":
                member.write(b"\n]\n")
                written += 3
    return count, written


def convert(zip_path: Path, parquet_path: Path, batch_rows: int) -> dict[str, float]:
    """Run backup_to_parquet in this process and measure it; also time reading alone."""
    from vulncheck_magic._backups import backup_to_parquet, iter_backup_records

    # Import what the conversion imports, so that the baseline RSS includes the libraries.
    for module in ("pandas", "pyarrow.parquet", "vulncheck_magic._frames"):
        importlib.import_module(module)
    baseline_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = backup_to_parquet(zip_path, parquet_path, batch_rows=batch_rows, progress=False)
    seconds = time.perf_counter() - started
    peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    started = time.perf_counter()
    records = sum(1 for _ in iter_backup_records(zip_path))
    read_seconds = time.perf_counter() - started
    return {
        "rows": result.rows,
        "columns": result.columns,
        "records_read": records,
        "seconds": seconds,
        "read_seconds": read_seconds,
        # ru_maxrss is in kilobytes on Linux.
        "baseline_rss_mb": baseline_rss_kb * 1024 / MB,
        "peak_rss_mb": peak_rss_kb * 1024 / MB,
        "parquet_bytes": parquet_path.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "size_mb", nargs="?", type=float, default=200, help="uncompressed JSON size in MB"
    )
    parser.add_argument("--batch-rows", type=int, default=10_000, help="records per batch")
    parser.add_argument("--layout", choices=["ndjson", "array"], default="ndjson")
    parser.add_argument("--convert", nargs=2, metavar=("ZIP", "PARQUET"), help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.convert:
        zip_name, parquet_name = options.convert
        stats = convert(Path(zip_name), Path(parquet_name), options.batch_rows)
        print(json.dumps(stats))
        return

    with tempfile.TemporaryDirectory(prefix="backup-parquet-bench-") as folder:
        zip_path = Path(folder) / "vulncheck-kev-bench.zip"
        started = time.perf_counter()
        records, json_bytes = build_zip(zip_path, options.size_mb, options.layout)
        print(
            f"built {zip_path.name}: {records} records, {json_bytes / MB:.1f} MB of JSON "
            f"({options.layout}), zip {zip_path.stat().st_size / MB:.1f} MB, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--batch-rows",
                str(options.batch_rows),
                "--convert",
                str(zip_path),
                str(Path(folder) / "out.parquet"),
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        stats = json.loads(child.stdout.strip().splitlines()[-1])

    print(
        f"backup_to_parquet: {stats['rows']} rows, {stats['columns']} columns, "
        f"batch_rows={options.batch_rows}, parquet {stats['parquet_bytes'] / MB:.1f} MB"
    )
    print(
        f"time {stats['seconds']:.1f} s, {json_bytes / MB / stats['seconds']:.1f} MB/s, "
        f"{stats['rows'] / stats['seconds']:.0f} records/s"
    )
    print(
        f"peak RSS {stats['peak_rss_mb']:.0f} MB "
        f"(RSS after the imports and before the conversion: {stats['baseline_rss_mb']:.0f} MB)"
    )
    print(
        f"reading the records only (iter_backup_records): {stats['read_seconds']:.1f} s, "
        f"{json_bytes / MB / stats['read_seconds']:.1f} MB/s"
    )


if __name__ == "__main__":
    main()
