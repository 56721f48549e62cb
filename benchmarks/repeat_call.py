"""Benchmark the same query twice in a row: what a result cache saves on the second call.

Usage::

    python benchmarks/repeat_call.py [--rounds N]

Each round makes a new ``Client``, empties any cache it can reach, and calls
``client.index(NAME, limit=N)`` twice with the same arguments. The loopback server
(``_bench_server``) counts requests, so the table shows whether the second call reached the
server at all. If ``Client.index`` takes a cache option (``cache``, ``use_cache`` or
``no_cache``) the script turns the cache on; otherwise it runs the client as it is. The
target is a second call at least 50x faster than the first.
"""

from __future__ import annotations

import argparse

import _bench_ours
import _bench_report as report
from _bench_server import KEV, NVD, BenchServer, PreparedResponses

from vulncheck_magic import Client

TOKEN = "bench-token"
TARGET_SPEEDUP = 50.0
SHAPES = [(KEV, 1_404), (KEV, 10_000), (NVD, 1_000)]
DELAYS_MS = [0.0, 100.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="pairs of calls per shape")
    options = parser.parse_args()

    cache_on = _bench_ours.cache_arguments(True)
    tidy_off = _bench_ours.tidy_arguments(False)
    found = ", ".join(f"`{key}={value}`" for key, value in {**cache_on, **tidy_off}.items())
    report.print_header(
        "Repeated call",
        "The same `Client.index(NAME, limit=N)` twice on a new client; medians over the "
        "rounds. Server latency 0 ms, then 100 ms per request. "
        + (f"Options set: {found}." if found else "No cache option found on `Client.index`."),
    )

    responses = PreparedResponses()
    for name, rows in SHAPES:
        responses.add_single_page(name, rows)

    table = []
    cleared_names: set[str] = set()
    with BenchServer(responses) as server:
        for delay in DELAYS_MS:
            server.delay_ms = delay
            for name, rows in SHAPES:
                first_times: list[float] = []
                second_times: list[float] = []
                second_requests = 0
                for _ in range(options.rounds + 1):
                    client = Client(server.url, token=TOKEN)
                    cleared_names.update(_bench_ours.clear_caches(client))

                    def call(client: Client = client, name: str = name, rows: int = rows) -> object:
                        return client.index(name, limit=rows, **cache_on, **tidy_off)

                    first = report.time_call(call)
                    served = server.requests_served
                    second = report.time_call(call)
                    second_requests += server.requests_served - served
                    client.close()
                    first_times.append(first)
                    second_times.append(second)
                # The first round warms up imports and connections and is not counted.
                first_median = report.median(first_times[1:])
                second_median = report.median(second_times[1:])
                speedup = first_median / second_median
                label = f"{'KEV' if name == KEV else 'NVD'} {rows:,}"
                table.append(
                    [
                        label,
                        f"{delay:g} ms",
                        report.format_seconds(first_median),
                        report.format_seconds(second_median),
                        f"{second_requests}/{options.rounds + 1}",
                        report.format_ratio(speedup),
                        report.verdict(speedup, TARGET_SPEEDUP, at_least=True),
                    ]
                )

    if cleared_names:
        print(f"- caches emptied before each round: {', '.join(sorted(cleared_names))}\n")
    print(
        report.markdown_table(
            [
                "page",
                "latency",
                "first call",
                "second call",
                "second calls that reached the server",
                "first / second",
                "target ≥ 50x",
            ],
            table,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
