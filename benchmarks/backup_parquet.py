"""Benchmark backup_to_parquet on a synthetic backup zip of KEV-shaped records.

Usage::

    python benchmarks/backup_parquet.py [SIZE] [--batch-rows N] [--layout ndjson|array]

SIZE is the uncompressed JSON size in MB (``200``, ``1000``, ``1000MB``) or GB (``1GB``);
the default is 200 MB. The script writes a zip with one NDJSON (or JSON array) member of
about that size into a temporary directory. A child process converts it, so that its peak
RSS covers the imports and the conversion but not the building of the zip. It prints the
records, the sizes and the conversion time. It checks the speed in MB/s of uncompressed
JSON (target: at least 50 MB/s) and the peak RSS (target: at most 300 MB). For comparison,
it also times reading the records alone: JSON decoding without flattening or Parquet. The
records are synthetic: random words and ids in the shape of ``vulncheck-kev`` records,
from a fixed seed, so each size gives the same file.

A 1 GB run takes a few minutes: about half builds the zip, the rest converts and reads it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import _bench_report as report

MB = 1_000_000
TARGET_PEAK_RSS_MB = 300
TARGET_MB_PER_SECOND = 50
_SIZE_PATTERN = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(mb|gb)?\s*", re.IGNORECASE)


def parse_size_mb(text: str) -> float:
    """Parse ``200``, ``1000MB`` or ``1GB`` into megabytes (1 GB = 1,000 MB)."""
    match = _SIZE_PATTERN.fullmatch(text)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: give megabytes such as 200 or 1000MB, or gigabytes as 1GB"
        )
    value = float(match.group(1))
    return value * 1000 if (match.group(2) or "").lower() == "gb" else value


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
        "size_mb",
        nargs="?",
        type=parse_size_mb,
        default=200.0,
        metavar="SIZE",
        help="uncompressed JSON size: MB (200, 1000MB) or GB (1GB)",
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

    report.print_header(
        "Backup to Parquet",
        f"`backup_to_parquet` on a synthetic {options.size_mb:g} MB ({options.layout}) backup "
        f"zip of KEV-shaped records, `batch_rows={options.batch_rows}`, in a child process "
        "whose peak RSS (`ru_maxrss`) covers the imports and the conversion.",
    )
    with tempfile.TemporaryDirectory(prefix="backup-parquet-bench-") as folder:
        zip_path = Path(folder) / "vulncheck-kev-bench.zip"
        started = time.perf_counter()
        records, json_bytes = build_zip(zip_path, options.size_mb, options.layout)
        build_seconds = time.perf_counter() - started
        zip_bytes = zip_path.stat().st_size
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
            env={**os.environ, "PYTHONPATH": str(report.REPO_ROOT)},
        )
        stats = json.loads(child.stdout.strip().splitlines()[-1])

    json_mb = json_bytes / MB
    speed = json_mb / stats["seconds"]
    peak = stats["peak_rss_mb"]
    print(
        f"- input: {records:,} records, {json_mb:.1f} MB of JSON, zip {zip_bytes / MB:.1f} MB, "
        f"built in {build_seconds:.1f} s (not timed below)\n"
        f"- output: {stats['rows']:,} rows, {stats['columns']} columns, Parquet "
        f"{stats['parquet_bytes'] / MB:.1f} MB\n"
    )
    print(
        report.markdown_table(
            ["measure", "value", "target", "verdict"],
            [
                [
                    "conversion time",
                    f"{stats['seconds']:.1f} s ({stats['rows'] / stats['seconds']:,.0f} records/s)",
                    "",
                    "",
                ],
                [
                    "speed (MB of JSON per second)",
                    f"{speed:.1f} MB/s",
                    f"≥ {TARGET_MB_PER_SECOND} MB/s",
                    report.verdict(speed, TARGET_MB_PER_SECOND, at_least=True),
                ],
                [
                    "peak RSS of the converting process",
                    f"{peak:.0f} MB",
                    f"≤ {TARGET_PEAK_RSS_MB} MB",
                    report.verdict(peak, TARGET_PEAK_RSS_MB),
                ],
                [
                    "RSS after the imports, before the conversion",
                    f"{stats['baseline_rss_mb']:.0f} MB",
                    "",
                    "",
                ],
                [
                    "reading the records only (`iter_backup_records`)",
                    f"{stats['read_seconds']:.1f} s, {json_mb / stats['read_seconds']:.1f} MB/s",
                    "",
                    "",
                ],
            ],
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
