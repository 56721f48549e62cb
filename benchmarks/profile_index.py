"""Break ``Client.index`` down into its phases and profile it, to say where the time goes.

Usage::

    python benchmarks/profile_index.py [--rounds N] [--profile-rows N]

Phases, each timed on its own against the loopback server (``_bench_server``), the least
time of ``--rounds`` calls:

- HTTP: the body's bytes from ``requests.Session.get``, read in the client's chunk size
  (``_http._BODY_CHUNK_BYTES``) when the code under test has one, else with ``.content``;
- JSON: ``json.loads`` of those bytes, with the garbage collector paused when the code
  under test pauses it (``_gc.gc_paused``);
- flattening: ``records_to_frame(data, parse_dates=False)``;
- date detection and parsing: ``records_to_frame(data)`` minus flattening;
- tidy columns: ``index(tidy=True)`` minus ``index(tidy=False)``, when the option exists;
- client overhead: ``index(tidy=False)`` minus the phases above (parameter checks, auth,
  text decoding of the body, provenance, warnings).

Then ``cProfile`` runs ``index(tidy=False)`` on KEV (``--profile-rows``, 10,000 by default)
and lists the 20 functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import inspect
import json
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _bench_ours
import _bench_report as report
import requests
from _bench_server import KEV, NVD, BenchServer, PreparedResponses

from vulncheck_magic import Client
from vulncheck_magic._frames import records_to_frame

TOKEN = "bench-token"
SHAPES = [(KEV, 1_404), (KEV, 10_000), (NVD, 1_000)]


def read_body(
    session: requests.Session, url: str, params: dict[str, Any], headers: dict[str, str]
) -> bytes:
    """Return the body's bytes, read the way the code under test reads them."""
    chunk = getattr(importlib.import_module("vulncheck_magic._http"), "_BODY_CHUNK_BYTES", None)
    if chunk is None:
        return session.get(url, params=params, headers=headers).content
    response = session.get(url, params=params, headers=headers, stream=True)
    return b"".join(response.iter_content(chunk))


def decode_json(body: bytes) -> Any:
    """Return ``json.loads(body)``, with the collector paused if the code under test does."""
    try:
        from vulncheck_magic._gc import gc_paused
    except ImportError:
        return json.loads(body)
    with gc_paused():
        return json.loads(body)


def phase_times(
    server: BenchServer, client: Client, name: str, rows: int, rounds: int
) -> dict[str, float]:
    """Return the least seconds of each phase for one page.

    The minimum, not the median: noise only ever adds time, and the phases are found by
    subtracting one measurement from another, which the medians of a loaded machine can
    turn negative.
    """
    session = requests.Session()
    url = f"{server.url}/v3/index/{name}"
    params = {"limit": rows}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = session.get(url, params=params, headers=headers).content
    data = json.loads(body)["data"]
    no_cache = _bench_ours.cache_arguments(False)
    has_parse_dates = "parse_dates" in inspect.signature(records_to_frame).parameters

    contenders: dict[str, Callable[[], Any]] = {
        "HTTP": lambda: read_body(session, url, params, headers),
        "JSON": lambda: decode_json(body),
        "frame": lambda: records_to_frame(data),
        "ours": lambda: client.index(
            name, limit=rows, **_bench_ours.tidy_arguments(False), **no_cache
        ),
    }
    if has_parse_dates:
        contenders["flatten"] = lambda: records_to_frame(data, parse_dates=False)
    if _bench_ours.tidy_arguments(True):
        contenders["ours, tidy"] = lambda: client.index(name, limit=rows, tidy=True, **no_cache)
    times = report.time_interleaved(contenders, rounds)
    return {phase: min(values) for phase, values in times.items()}


def phase_rows(medians: dict[str, float]) -> list[tuple[str, float | None]]:
    """Return ``(phase, seconds)`` rows; None where the code under test cannot separate it."""
    flatten = medians.get("flatten")
    dates = medians["frame"] - flatten if flatten is not None else None
    tidy = medians["ours, tidy"] - medians["ours"] if "ours, tidy" in medians else None
    overhead = medians["ours"] - medians["HTTP"] - medians["JSON"] - medians["frame"]
    return [
        ("HTTP (bytes received)", medians["HTTP"]),
        ("JSON (`json.loads`)", medians["JSON"]),
        ("flattening", flatten if flatten is not None else medians["frame"]),
        ("date detection and parsing", dates),
        ("client overhead", overhead),
        ("total `index(tidy=False)`", medians["ours"]),
        ("tidy columns, on top", tidy),
    ]


def profile_table(client: Client, rows: int) -> str:
    """Return the 20 functions with the most own time in one ``index`` call, as Markdown."""
    no_cache = _bench_ours.cache_arguments(False)
    call = lambda: client.index(  # noqa: E731
        KEV, limit=rows, **_bench_ours.tidy_arguments(False), **no_cache
    )
    call()

    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()

    stats = pstats.Stats(profiler)
    entries = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append((own, cumulative, calls, function, filename, line))
    entries.sort(reverse=True)
    total = sum(entry[0] for entry in entries)

    table = []
    for own, cumulative, calls, function, filename, line in entries[:20]:
        where = f"{Path(filename).name}:{line}" if line else filename
        table.append(
            [
                f"`{function}`",
                where,
                calls,
                report.format_seconds(own),
                f"{own / total * 100:.0f}%",
                report.format_seconds(cumulative),
            ]
        )
    return report.markdown_table(
        ["function", "where", "calls", "own time", "share", "cumulative"], table
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="timed calls per phase")
    parser.add_argument("--profile-rows", type=int, default=10_000, help="KEV rows to profile")
    options = parser.parse_args()

    report.print_header(
        "Where the time of `Client.index` goes",
        "Each phase timed on its own on the same page (least of the rounds); the client "
        "overhead is "
        "what remains of the total. cProfile then lists the costliest functions of one call.",
    )
    responses = PreparedResponses()
    for name, rows in SHAPES:
        responses.add_single_page(name, rows)
    if (KEV, options.profile_rows) not in SHAPES:
        responses.add_single_page(KEV, options.profile_rows)

    with BenchServer(responses) as server:
        client = Client(server.url, token=TOKEN)
        columns: dict[str, list[tuple[str, float | None]]] = {}
        for name, rows in SHAPES:
            label = f"{'KEV' if name == KEV else 'NVD'} {rows:,}"
            columns[label] = phase_rows(phase_times(server, client, name, rows, options.rounds))
        profile = profile_table(client, options.profile_rows)

    labels = list(columns)
    table = []
    for position, (phase, _) in enumerate(columns[labels[0]]):
        cells = []
        for label in labels:
            seconds = columns[label][position][1]
            total = columns[label][-2][1] or 1.0
            if seconds is None:
                cells.append("—")
            elif position >= len(columns[label]) - 2:
                cells.append(report.format_seconds(seconds))
            else:
                cells.append(f"{report.format_seconds(seconds)} ({seconds / total * 100:.0f}%)")
        table.append([phase, *cells])
    print("### Phases (share of the `index(tidy=False)` total)\n")
    print(report.markdown_table(["phase", *labels], table) + "\n")
    print(f"### cProfile of one `index('{KEV}', limit={options.profile_rows})` call\n")
    print(profile + "\n")


if __name__ == "__main__":
    main()
