"""Benchmark one page of an index into a DataFrame, end to end, against the floor and peers.

Usage::

    python benchmarks/single_page.py [--quick] [--no-sdk]

Every contender gets the same prepared bytes from the loopback server (``_bench_server``)
for ``GET /v3/index/NAME?limit=N``:

- floor: ``requests.Session.get`` and ``json.loads`` of the body, no frame at all;
- by hand: ``requests.Session.get``, ``resp.json()`` and ``pd.json_normalize(data)``, which
  is what users write without a client (no date parsing);
- SDK: the official ``vulncheck-sdk`` (``IndicesApi``), then
  ``pd.DataFrame([r.to_dict() for r in resp.data])``;
- ours: ``Client(url, token=...).index(NAME, limit=N)`` with ``tidy=False`` when the option
  exists (plain flattening plus date parsing), and with the tidy columns as a second row
  (not on the two largest pages, to keep the run short).

``--quick`` drops the largest shapes (KEV 100k, NVD 10k); ``--no-sdk`` skips the SDK, whose
import alone takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import _bench_ours
import _bench_report as report
import pandas as pd
import requests
from _bench_server import KEV, NVD, BenchServer, PreparedResponses

from vulncheck_magic import Client

TOKEN = "bench-token"
MB = 1_000_000

TARGETS = {"floor": 1.5, "by hand": 0.7, "SDK": 0.5}


@dataclass(frozen=True)
class Shape:
    """One page to fetch: index, rows, and how many timed rounds (with or without a warm-up)."""

    index: str
    rows: int
    repeat: int
    warmup: int = 1
    sdk: bool = True
    large: bool = False

    @property
    def label(self) -> str:
        kind = "KEV" if self.index == KEV else "NVD"
        return f"{kind} {self.rows:,}"


SHAPES = [
    Shape(KEV, 1_404, repeat=15),
    Shape(KEV, 10_000, repeat=7),
    Shape(KEV, 100_000, repeat=3, warmup=0, large=True),
    Shape(NVD, 1_000, repeat=5),
    # The SDK needs about 1.5 s per 1,000 NVD records (pydantic models), so it runs at 1k only.
    Shape(NVD, 10_000, repeat=3, warmup=0, sdk=False, large=True),
]


def sdk_contender(url: str) -> Callable[[str, int], pd.DataFrame] | str:
    """Return a function that fetches a page with vulncheck-sdk, or why the SDK cannot run."""
    try:
        import vulncheck_sdk
    except ImportError as exc:
        return f"vulncheck-sdk is not installed ({exc})"

    configuration = vulncheck_sdk.Configuration(
        host=url, api_key={"Bearer": TOKEN}, ignore_operation_servers=True
    )
    api_client = vulncheck_sdk.ApiClient(configuration)
    # Every operation lists https://api.vulncheck.com as its server. Check that the SDK will
    # use the loopback host instead before it sends anything.
    _, target, *_ = api_client.param_serialize(
        method="GET", resource_path="/v3/index/vulncheck-kev", _host="https://api.vulncheck.com"
    )
    if not target.startswith(url + "/"):
        return f"vulncheck-sdk would send to {target}, not to the loopback server"
    api = vulncheck_sdk.IndicesApi(api_client)
    operations = {KEV: api.index_vulncheck_kev_get, NVD: api.index_nist_nvd2_get}

    def fetch(index: str, rows: int) -> pd.DataFrame:
        response = operations[index](limit=rows)
        return pd.DataFrame([record.to_dict() for record in response.data])

    return fetch


def build_contenders(
    server: BenchServer,
    client: Client,
    session: requests.Session,
    sdk: Callable[[str, int], pd.DataFrame] | None,
    shape: Shape,
) -> dict[str, Callable[[], Any]]:
    url = f"{server.url}/v3/index/{shape.index}"
    params = {"limit": shape.rows}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    no_cache = _bench_ours.cache_arguments(False)

    def floor() -> Any:
        return json.loads(session.get(url, params=params, headers=headers).content)

    def by_hand() -> pd.DataFrame:
        response = session.get(url, params=params, headers=headers)
        return pd.json_normalize(response.json()["data"])

    def ours() -> pd.DataFrame:
        return client.index(
            shape.index, limit=shape.rows, **_bench_ours.tidy_arguments(False), **no_cache
        )

    contenders: dict[str, Callable[[], Any]] = {"floor": floor, "by hand": by_hand}
    if sdk is not None and shape.sdk:
        contenders["SDK"] = lambda: sdk(shape.index, shape.rows)
    contenders["ours"] = ours
    if _bench_ours.tidy_arguments(True) and not shape.large:
        contenders["ours, tidy"] = lambda: client.index(
            shape.index, limit=shape.rows, tidy=True, **no_cache
        )
    return contenders


def row_checker(rows: int) -> Callable[[str, Any], None]:
    """Return a check that fails the run when a contender does not return the whole page."""

    def check(name: str, result: Any) -> None:
        count = len(result["data"]) if isinstance(result, dict) else len(result)
        if count != rows:
            raise SystemExit(f"{name} returned {count} rows instead of {rows}")

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip KEV 100k and NVD 10k")
    parser.add_argument("--no-sdk", action="store_true", help="skip vulncheck-sdk")
    options = parser.parse_args()
    shapes = [shape for shape in SHAPES if not (options.quick and shape.large)]

    report.print_header(
        "Single page to DataFrame",
        "One `GET /v3/index/NAME?limit=N` into a frame; medians of the timed rounds. "
        "Floor: `requests` + `json.loads`, no frame. By hand: `requests` + "
        "`pd.json_normalize`. SDK: vulncheck-sdk + `pd.DataFrame(to_dict())`. "
        f"Ours: `Client.index` with {_describe_options()}.",
    )

    responses = PreparedResponses()
    sizes = {shape: responses.add_single_page(shape.index, shape.rows) for shape in shapes}
    with BenchServer(responses) as server:
        sdk: Callable[[str, int], pd.DataFrame] | None = None
        sdk_note = "skipped (--no-sdk)"
        if not options.no_sdk:
            started = time.perf_counter()
            outcome = sdk_contender(server.url)
            if isinstance(outcome, str):
                sdk_note = outcome
            else:
                sdk = outcome
                sdk_note = (
                    f"vulncheck-sdk {report.package_version('vulncheck-sdk')}, imported in "
                    f"{time.perf_counter() - started:.1f} s (not timed below)"
                )
        print(f"- SDK: {sdk_note}\n", flush=True)

        client = Client(server.url, token=TOKEN)
        session = requests.Session()
        medians: dict[Shape, dict[str, float]] = {}
        run_started = time.perf_counter()
        for shape in shapes:
            contenders = build_contenders(server, client, session, sdk, shape)
            times = report.time_interleaved(
                contenders, shape.repeat, warmup=shape.warmup, check=row_checker(shape.rows)
            )
            medians[shape] = {name: report.median(values) for name, values in times.items()}
            elapsed = time.perf_counter() - run_started
            print(f"{shape.label} done after {elapsed:.0f} s", file=sys.stderr, flush=True)

    names = ["floor", "by hand", "SDK", "ours", "ours, tidy"]
    names = [name for name in names if any(name in row for row in medians.values())]
    print("### Median seconds per page\n")
    rows = []
    for shape, row in medians.items():
        cells = [report.format_seconds(row[name]) if name in row else "—" for name in names]
        rows.append([shape.label, f"{sizes[shape] / MB:.1f}", shape.repeat, *cells])
    print(report.markdown_table(["page", "MB", "rounds", *names], rows) + "\n")

    print("### Ours against each peer (ratio of medians, same run; lower is better)\n")
    rows = []
    for shape, row in medians.items():
        cells = []
        for peer, target in TARGETS.items():
            if peer not in row:
                cells.append("—")
                continue
            ratio = row["ours"] / row[peer]
            applies = peer != "SDK" or shape.index == KEV
            outcome = report.verdict(ratio, target) if applies else "no target"
            cells.append(f"{report.format_ratio(ratio)} ({outcome})")
        rows.append([shape.label, *cells])
    headers = [f"ours / {peer} (target ≤ {target}x)" for peer, target in TARGETS.items()]
    print(report.markdown_table(["page", *headers], rows) + "\n")


def _describe_options() -> str:
    arguments = {**_bench_ours.tidy_arguments(False), **_bench_ours.cache_arguments(False)}
    if not arguments:
        return "its defaults (no tidy or cache option found)"
    return ", ".join(f"`{name}={value}`" for name, value in arguments.items())


if __name__ == "__main__":
    main()
