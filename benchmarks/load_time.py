"""Benchmark ``%load_ext vulncheck_magic`` in a fresh process against ``import pandas``.

Usage::

    python benchmarks/load_time.py [--rounds N] [--no-sdk]

Each snippet runs as ``python -c SNIPPET`` in a new process, ``--rounds`` times (10 by
default) in interleaved rounds after one untimed round, and the table gives the median wall
time of the whole process. The processes use this checkout (``PYTHONPATH``) and a
temporary ``IPYTHONDIR``, so that no user profile or history is read.

The target is a load of at most 1.2x ``import pandas``, judged two ways. The first divides
the wall times of whole processes (``load_ext`` over ``import pandas``). The second is what
a user waits for at ``%load_ext`` in a running kernel, where IPython is already imported
and the shell exists: the ``load_ext`` process minus the shell-only process, over
``import pandas`` minus a bare interpreter start.

Then ``python -X importtime`` of the ``load_ext`` snippet lists the 15 modules with the
longest own import time and the total by top-level package.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import _bench_report as report

TARGET = 1.2

LOAD_EXT = (
    "from IPython.core.interactiveshell import InteractiveShell; "
    "s = InteractiveShell.instance(); "
    's.run_line_magic("load_ext", "vulncheck_magic"); '
    'assert "vulncheck" in s.magics_manager.magics["line"]'
)
SNIPPETS = {
    "python -c pass": "pass",
    "import pandas": "import pandas",
    "import IPython": "import IPython",
    "InteractiveShell.instance()": (
        "from IPython.core.interactiveshell import InteractiveShell; "
        "s = InteractiveShell.instance()"
    ),
    "import vulncheck_magic": "import vulncheck_magic",
    "%load_ext vulncheck_magic": LOAD_EXT,
}
SDK_SNIPPET = "import vulncheck_sdk"
SDK_ROUNDS = 3


def run_snippet(code: str, env: dict[str, str], extra_args: tuple[str, ...] = ()) -> float:
    """Run ``python -c code`` in a new process; return its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *extra_args, "-c", code],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def import_times(code: str, env: dict[str, str]) -> list[tuple[str, int, int]]:
    """Return ``(module, own µs, cumulative µs)`` for each import of ``code``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    entries = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, module = line.removeprefix("import time:").split("|")
        entries.append((module.strip(), int(own), int(cumulative)))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="processes per snippet")
    parser.add_argument("--no-sdk", action="store_true", help="skip `import vulncheck_sdk`")
    options = parser.parse_args()

    report.print_header(
        "Extension load time",
        "Wall time of a fresh `python -c SNIPPET` process; medians of "
        f"{options.rounds} processes per snippet, run in interleaved rounds. "
        "The `%load_ext` snippet is "
        f"`{LOAD_EXT}`.",
    )

    with tempfile.TemporaryDirectory(prefix="load-time-bench-") as ipython_dir:
        env = {
            **os.environ,
            "IPYTHONDIR": ipython_dir,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(report.REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
        # The untimed round creates the IPython profile and compiles bytecode.
        for code in SNIPPETS.values():
            run_snippet(code, env)
        times: dict[str, list[float]] = {name: [] for name in SNIPPETS}
        names = list(SNIPPETS)
        for round_number in range(options.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(run_snippet(SNIPPETS[name], env))
        if not options.no_sdk:
            try:
                run_snippet(SDK_SNIPPET, env)
            except subprocess.CalledProcessError:
                print("- vulncheck-sdk is not installed: its import is not measured\n")
            else:
                times[SDK_SNIPPET] = [run_snippet(SDK_SNIPPET, env) for _ in range(SDK_ROUNDS)]
        entries = import_times(LOAD_EXT, env)
        pandas_entries = import_times("import pandas", env)

    medians = {name: report.median(values) for name, values in times.items()}
    pandas_time = medians["import pandas"]
    rows = [
        [
            f"`{name}`",
            len(values),
            report.format_seconds(medians[name]),
            report.format_seconds(min(values)),
            report.format_seconds(max(values)),
            report.format_ratio(medians[name] / pandas_time),
        ]
        for name, values in times.items()
    ]
    print("### Fresh-process wall time\n")
    print(
        report.markdown_table(
            ["snippet", "processes", "median", "min", "max", "/ import pandas"], rows
        )
        + "\n"
    )

    whole = medians["%load_ext vulncheck_magic"] / pandas_time
    load_cost = medians["%load_ext vulncheck_magic"] - medians["InteractiveShell.instance()"]
    pandas_cost = pandas_time - medians["python -c pass"]
    in_kernel = load_cost / pandas_cost
    print("### Target: load ≤ 1.2x `import pandas`\n")
    print(
        report.markdown_table(
            ["view", "load", "import pandas", "ratio", "verdict"],
            [
                [
                    "whole processes",
                    report.format_seconds(medians["%load_ext vulncheck_magic"]),
                    report.format_seconds(pandas_time),
                    report.format_ratio(whole),
                    report.verdict(whole, TARGET),
                ],
                [
                    "in a running kernel (minus shell, minus bare start)",
                    report.format_seconds(load_cost),
                    report.format_seconds(pandas_cost),
                    report.format_ratio(in_kernel),
                    report.verdict(in_kernel, TARGET),
                ],
            ],
        )
        + "\n"
    )

    print("### `python -X importtime` of the `%load_ext` snippet: top 15 modules by own time\n")
    top = sorted(entries, key=lambda entry: entry[1], reverse=True)[:15]
    print(
        report.markdown_table(
            ["module", "own", "cumulative"],
            [
                [f"`{module}`", report.format_seconds(own / 1e6), report.format_seconds(cum / 1e6)]
                for module, own, cum in top
            ],
        )
        + "\n"
    )

    by_package: dict[str, int] = defaultdict(int)
    for module, own, _ in entries:
        by_package[module.split(".")[0]] += own
    total = sum(by_package.values())
    print(f"### Own import time by top-level package (all imports: {total / 1e6:.2f} s)\n")
    packages = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:15]
    print(
        report.markdown_table(
            ["package", "own import time", "share"],
            [
                [f"`{name}`", report.format_seconds(own / 1e6), f"{own / total * 100:.0f}%"]
                for name, own in packages
            ],
        )
        + "\n"
    )
    pandas_modules = {module for module, _, _ in pandas_entries}
    extra: dict[str, int] = defaultdict(int)
    for module, own, _ in entries:
        if module not in pandas_modules:
            extra[module.split(".")[0]] += own
    extra_total = sum(extra.values())
    print(
        "### Imports that `import pandas` alone does not make, by top-level package "
        f"(together {extra_total / 1e6:.2f} s)\n"
    )
    packages = sorted(extra.items(), key=lambda item: item[1], reverse=True)[:15]
    print(
        report.markdown_table(
            ["package", "own import time"],
            [[f"`{name}`", report.format_seconds(own / 1e6)] for name, own in packages],
        )
        + "\n"
    )
    print(
        "`-X importtime` counts imports only (not the creation of the shell) and adds some "
        "overhead of its own: use its numbers for shares, not as wall times.\n"
    )


if __name__ == "__main__":
    main()
