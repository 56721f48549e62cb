"""Timing and reporting helpers shared by the benchmark scripts.

Every script prints Markdown: a header with the machine, the command and the date, then
one table per measurement. Times are medians of several repetitions measured with
``time.perf_counter``, because the benchmark machine is shared and noisy.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "format_ratio",
    "format_seconds",
    "machine_lines",
    "markdown_table",
    "median",
    "package_version",
    "print_header",
    "time_call",
    "time_interleaved",
    "verdict",
]

REPO_ROOT = Path(__file__).resolve().parents[1]


def time_call(
    function: Callable[[], object], check: Callable[[object], None] | None = None
) -> float:
    """Return the seconds one call of ``function`` takes, after collecting garbage first.

    ``check``, if given, receives the result after the clock has stopped. The result is
    dropped before this function returns, outside the timed span.
    """
    gc.collect()
    started = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - started
    if check is not None:
        check(result)
    del result
    return seconds


def time_interleaved(
    contenders: dict[str, Callable[[], object]],
    repeat: int,
    *,
    warmup: int = 1,
    check: Callable[[str, Any], None] | None = None,
) -> dict[str, list[float]]:
    """Time each contender ``repeat`` times, in rounds that call every contender once.

    Rounds spread the machine's noise over all contenders alike, so that ratios between them
    measured in one run are fair. The order inside a round rotates for the same reason.
    ``warmup`` untimed rounds come first (connections, imports, caches of pandas).
    ``check(name, result)`` receives each contender's result of the first round, timed or not.

    Every object alive at the start is frozen out of the garbage collector first. Otherwise
    each full collection during a timed call walks the modules and data that the script
    loaded: after ``import vulncheck_sdk`` one takes about 0.3 s, against 0.01 s with pandas
    alone (measured on the benchmark machine).
    """
    gc.collect()
    gc.freeze()
    names = list(contenders)

    def checker(name: str) -> Callable[[object], None] | None:
        if check is None:
            return None
        return lambda result: check(name, result)

    for round_number in range(warmup):
        for name in names:
            time_call(contenders[name], checker(name) if round_number == 0 else None)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(repeat):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            first = round_number == 0 and warmup == 0
            times[name].append(time_call(contenders[name], checker(name) if first else None))
    return times


def format_seconds(seconds: float) -> str:
    """Format a duration with a unit that keeps three significant digits."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def format_ratio(value: float) -> str:
    """Format a ratio such as ``1.23x``."""
    return f"{value:.2f}x"


def verdict(value: float, target: float, *, at_least: bool = False) -> str:
    """Return ``met`` or ``missed by N%``, N being the distance from the limit in percent.

    By default the value must be at most ``target``; with ``at_least`` it must be at least.
    """
    met = value >= target if at_least else value <= target
    if met:
        return "met"
    shortfall = 1 - value / target if at_least else value / target - 1
    return f"missed by {shortfall * 100:.0f}%"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Return a Markdown table; columns after the first are right-aligned."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return result.stdout.strip() + (" with uncommitted changes" if dirty else "")


def _source_fingerprint() -> str:
    """Return a short SHA-256 of the package's Python sources, to tell runs of the same code."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "vulncheck_magic").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _load_average() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def machine_lines() -> list[str]:
    """Return Markdown bullet lines on the machine, the versions, the command and the date."""
    python = sys.executable
    try:
        python = os.path.relpath(sys.executable, Path.cwd())
        if python.startswith(".."):
            python = sys.executable
    except ValueError:
        pass
    command = shlex.join([python, *sys.argv])
    packages = ", ".join(
        f"{name} {package_version(name)}"
        for name in ("pandas", "numpy", "requests", "urllib3", "vulncheck-magic")
    )
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command (from the repository root): `{command}`",
        f"- machine: {os.cpu_count()} cores ({_cpu_model()}), {_memory_gib()} RAM, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- code: git {_git_revision()}; sources of vulncheck_magic sha256 {_source_fingerprint()}",
        f"- load average at the start (1, 5, 15 min): {_load_average()}",
    ]


def print_header(title: str, description: str) -> None:
    """Print the benchmark's title, what it measures and the machine lines."""
    print(f"## {title}\n")
    print(description.strip() + "\n")
    print("\n".join(machine_lines()) + "\n", flush=True)


def median(values: Sequence[float]) -> float:
    """Return the median of ``values``."""
    return statistics.median(values)
