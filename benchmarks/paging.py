"""Benchmark cursor paging: ``index(..., all_pages=True)`` against the server's latency.

Usage::

    python benchmarks/paging.py [--pages M] [--page-rows N] [--delays 0,50,200]

The loopback server (``_bench_server``) serves M prepared cursor pages of N KEV records
each and waits L ms before each response. Cursor paging is sequential (each request needs
the previous page's ``next_cursor``), so M x L is the least any client can take. The
target is a total of at most 1.1 x M x L. L = 0 shows the client's own cost.

The peer is a hand-written cursor loop: ``requests``, ``resp.json()``,
``pd.json_normalize`` per page and ``pd.concat`` at the end.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import _bench_ours
import _bench_report as report
import pandas as pd
import requests
from _bench_server import KEV, BenchServer, PreparedResponses

from vulncheck_magic import Client
from vulncheck_magic._errors import VulnCheckWarning

TOKEN = "bench-token"
TARGET = 1.1
MB = 1_000_000


def hand_written_loop(base_url: str, page_rows: int) -> pd.DataFrame:
    """Page with the cursor as a user would without a client."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    params: dict[str, Any] = {"limit": page_rows, "start_cursor": "true"}
    frames = []
    while True:
        response = session.get(f"{base_url}/v3/index/{KEV}", params=params, headers=headers)
        body = response.json()
        frames.append(pd.json_normalize(body["data"]))
        next_cursor = body["_meta"].get("next_cursor")
        if not next_cursor:
            break
        params = {"limit": page_rows, "cursor": next_cursor}
    return pd.concat(frames, ignore_index=True)


def repeat_for(delay_ms: float, pages: int) -> int:
    """Return the timed rounds for a delay: fewer when one run already takes seconds."""
    floor_seconds = pages * delay_ms / 1000
    if floor_seconds >= 2:
        return 3
    if floor_seconds >= 0.5:
        return 5
    return 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="cursor pages M")
    parser.add_argument("--page-rows", type=int, default=1_000, help="records per page N")
    parser.add_argument(
        "--delays", default="0,50,200", help="comma-separated latencies L in ms per request"
    )
    options = parser.parse_args()
    delays = [float(value) for value in options.delays.split(",")]
    pages, page_rows = options.pages, options.page_rows
    total_rows = pages * page_rows

    report.print_header(
        "Cursor paging",
        f"`Client.index('{KEV}', all_pages=True, limit={page_rows}, progress=False)` over "
        f"{pages} cursor pages of {page_rows:,} KEV records ({total_rows:,} rows), with a "
        "server latency L before each response, against a hand-written loop "
        "(`requests` + `pd.json_normalize` per page + `pd.concat`). Medians of the timed "
        "rounds; M x L is the least possible total.",
    )

    responses = PreparedResponses()
    page_bytes = responses.add_cursor_pages(KEV, pages, page_rows)
    print(f"- {page_bytes / MB:.1f} MB of JSON over {pages} pages\n")
    options_used = {**_bench_ours.tidy_arguments(False), **_bench_ours.cache_arguments(False)}

    rows = []
    with BenchServer(responses) as server:
        client = Client(server.url, token=TOKEN)

        def ours() -> pd.DataFrame:
            with warnings.catch_warnings():
                warnings.simplefilter("error", VulnCheckWarning)
                return client.index(
                    KEV,
                    all_pages=True,
                    limit=page_rows,
                    progress=False,
                    max_pages=pages + 1,
                    max_rows=total_rows + 1,
                    **options_used,
                )

        def by_hand() -> pd.DataFrame:
            return hand_written_loop(server.url, page_rows)

        contenders = {"ours": ours, "by hand": by_hand}
        for name, contender in contenders.items():
            count = len(contender())
            if count != total_rows:
                raise SystemExit(f"{name} returned {count} rows instead of {total_rows}")

        for delay in delays:
            server.delay_ms = delay
            repeat = repeat_for(delay, pages)
            served_before = server.requests_served
            times = report.time_interleaved(contenders, repeat, warmup=0)
            requests_per_run = (server.requests_served - served_before) / repeat / 2
            ours_median = report.median(times["ours"])
            hand_median = report.median(times["by hand"])
            floor = pages * delay / 1000
            if floor:
                ratio = ours_median / floor
                outcome = f"{report.format_ratio(ratio)} ({report.verdict(ratio, TARGET)})"
            else:
                outcome = "no target (L = 0)"
            rows.append(
                [
                    f"{delay:g} ms",
                    repeat,
                    f"{requests_per_run:g}",
                    report.format_seconds(floor) if floor else "0",
                    report.format_seconds(ours_median),
                    report.format_seconds(hand_median),
                    report.format_seconds((ours_median - floor) / pages),
                    outcome,
                    report.format_ratio(ours_median / hand_median),
                ]
            )

    print(
        report.markdown_table(
            [
                "latency L",
                "rounds",
                "requests per run",
                "M x L",
                "ours",
                "by hand",
                "ours: cost per page beyond L",
                "ours / (M x L) (target ≤ 1.1x)",
                "ours / by hand",
            ],
            rows,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
