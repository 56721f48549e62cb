"""Benchmark how ``records_to_frame`` grows with the row count, in time and in memory.

Usage::

    python benchmarks/growth.py [--max-rows N] [--index kev|nvd|both]

For KEV (``vulncheck-kev`` shape) and NVD 2.0 records, from 1k to 100k rows, the script
times ``_frames.records_to_frame`` (median of several calls) with and without date parsing.
It fits a line with ``numpy.polyfit`` (degree 1, weighted by 1/time so that relative errors
count). It reports the slope per 1,000 rows, the worst relative deviation of a measured
time from the line, and the exponent b of time ∝ rows^b (1 means linear).

Memory: one more call under ``tracemalloc`` and a counting Arrow memory pool gives the
peak of the memory allocated during the conversion. The target is a peak of at most 1.5x
the frame's ``memory_usage(deep=True).sum()``.

The records are decoded from JSON before any timing, one copy of the index per repeat, so
every row is a distinct object as after a real response. 100k NVD records take about
4.5 GB of memory and 20 s to decode.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import time
import tracemalloc
from typing import Any

import _bench_report as report
import numpy as np
from _bench_server import KEV, NVD, index_records

from vulncheck_magic._frames import records_to_frame

# Arrow buffers keep a pointer to the pool that allocated them, so every proxy pool stays
# alive until the process ends.
_arrow_pools: list[Any] = []

SIZES = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]
TARGET_MEMORY = 1.5


def distinct_records(name: str, rows: int) -> list[dict[str, Any]]:
    """Return ``rows`` records of ``name``, each decoded anew from the index's JSON."""
    base = index_records(name)
    encoded = json.dumps(base).encode()
    records: list[dict[str, Any]] = []
    while len(records) < rows:
        records.extend(json.loads(encoded))
    return records[:rows]


def repeat_for(rows: int) -> int:
    """Return the timed calls for a size: more for small, quick ones."""
    if rows <= 2_000:
        return 15
    if rows <= 10_000:
        return 9
    if rows <= 20_000:
        return 5
    return 3


def measure_memory(records: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Return the peak and retained bytes of one conversion, and the frame's deep size.

    pandas 3 keeps ``str`` columns in Arrow arrays, which Arrow allocates outside Python's
    allocator, where ``tracemalloc`` cannot see them. A fresh Arrow proxy pool counts them
    during the call. Peak is the sum of the two peaks, which may fall at different moments,
    so it is an upper bound.
    """
    import pyarrow as pa

    default_pool = pa.default_memory_pool()
    arrow_pool = pa.proxy_memory_pool(default_pool)
    _arrow_pools.append(arrow_pool)
    gc.collect()
    pa.set_memory_pool(arrow_pool)
    tracemalloc.start()
    try:
        frame = records_to_frame(records)
        python_retained, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(default_pool)
    peak = python_peak + arrow_pool.max_memory()
    retained = python_retained + arrow_pool.bytes_allocated()
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    return peak, retained, frame_bytes


def run_index(name: str, sizes: list[int]) -> None:
    label = "KEV" if name == KEV else "NVD"
    started = time.perf_counter()
    records = distinct_records(name, max(sizes))
    decode_seconds = time.perf_counter() - started
    # Move the decoded records out of the collector's reach: otherwise every collection,
    # including the one before each timed call, walks millions of their objects, and that
    # time belongs to the size of the input, not to the conversion.
    gc.collect()
    gc.freeze()
    has_parse_dates = "parse_dates" in inspect.signature(records_to_frame).parameters

    rows = []
    medians: list[float] = []
    for size in sizes:
        subset = records[:size]
        contenders = {"dates": lambda subset=subset: records_to_frame(subset)}
        if has_parse_dates:
            contenders["no dates"] = lambda subset=subset: records_to_frame(
                subset, parse_dates=False
            )
        times = report.time_interleaved(contenders, repeat_for(size))
        median = report.median(times["dates"])
        medians.append(median)
        peak, retained, frame_bytes = measure_memory(subset)
        rows.append(
            {
                "size": size,
                "rounds": repeat_for(size),
                "median": median,
                "no dates": report.median(times["no dates"]) if has_parse_dates else None,
                "peak": peak,
                "retained": retained,
                "frame": frame_bytes,
            }
        )

    thousands = np.array(sizes, dtype=float) / 1000
    measured = np.array(medians)
    # Weights 1/t make the fit minimise relative errors, so the 1k point counts as much as
    # the 100k point. An unweighted fit follows the largest sizes and can go negative at 1k.
    slope, intercept = np.polyfit(thousands, measured, 1, w=1 / measured)
    fitted = slope * thousands + intercept
    deviations = (measured - fitted) / fitted
    # The exponent b of time ∝ rows^b, from a line through the logarithms: 1 is linear.
    exponent = np.polyfit(np.log(thousands), np.log(measured), 1)[0]

    print(
        f"### {label}: `records_to_frame` from {sizes[0]:,} to {sizes[-1]:,} rows\n\n"
        f"Records decoded in {decode_seconds:.1f} s before timing (not part of the table).\n"
    )
    table = []
    for row, fit, deviation in zip(rows, fitted, deviations, strict=True):
        peak_ratio = row["peak"] / row["frame"]
        table.append(
            [
                f"{row['size']:,}",
                row["rounds"],
                report.format_seconds(row["median"]),
                report.format_seconds(row["no dates"]) if row["no dates"] is not None else "—",
                report.format_seconds(float(fit)),
                f"{deviation * 100:+.1f}%",
                f"{row['median'] / row['size'] * 1e6:.1f}",
                f"{row['frame'] / 1e6:.1f}",
                f"{row['peak'] / 1e6:.1f}",
                f"{row['retained'] / 1e6:.1f}",
                f"{report.format_ratio(peak_ratio)} ({report.verdict(peak_ratio, TARGET_MEMORY)})",
            ]
        )
    print(
        report.markdown_table(
            [
                "rows",
                "calls",
                "median",
                "without dates",
                "line fit",
                "off the line",
                "µs per row",
                "frame MB (deep)",
                "peak MB",
                "retained MB",
                "peak / frame (target ≤ 1.5x)",
            ],
            table,
        )
        + "\n"
    )
    worst = float(np.abs(deviations).max())
    print(
        f"Fit (least relative squares): {slope * 1e3:.2f} ms per 1,000 rows, intercept "
        f"{intercept * 1e3:+.1f} ms; worst deviation from the line {worst * 100:.1f}%. "
        f"Growth exponent (time ∝ rows^b): b = {exponent:.2f}.\n"
    )
    # The records are freed by reference counting when this function returns.
    gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=100_000, help="largest size")
    parser.add_argument("--index", choices=["kev", "nvd", "both"], default="both")
    options = parser.parse_args()
    sizes = [size for size in SIZES if size <= options.max_rows]

    report.print_header(
        "Conversion growth",
        "`vulncheck_magic._frames.records_to_frame(records)` on lists of decoded records; "
        "median seconds, a line fitted to them by least relative squares, and memory from "
        "`tracemalloc` "
        "plus a counting Arrow pool for pandas' Arrow-backed `str` columns (peak: the most "
        "allocated at once during the conversion, as the sum of both peaks, so an upper "
        "bound; retained: still allocated when it returns, the new memory of the frame) "
        "against `frame.memory_usage(deep=True).sum()`, which also counts the Python "
        "strings and lists that the frame shares with the records.",
    )
    if options.index in ("kev", "both"):
        run_index(KEV, sizes)
    if options.index in ("nvd", "both"):
        run_index(NVD, sizes)


if __name__ == "__main__":
    main()
