"""Command line of the demo API: ``python -m vulncheck_magic.demo``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from vulncheck_magic.demo._auth import DEMO_TOKEN
from vulncheck_magic.demo._server import DemoServer

logger = logging.getLogger("vulncheck_magic")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vulncheck_magic.demo",
        description=(
            "Serve an offline demo of the VulnCheck API v3 (indexes cisa-kev, vulncheck-kev "
            "and nist-nvd2, from real CISA KEV and NVD records, with their backups, PURL and "
            "CPE lookups and CVE search) until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, reachable only from this machine)",
    )
    parser.add_argument(
        "--port",
        type=_parse_port,
        default=8000,
        help="TCP port to listen on, or 0 for a free port (default: %(default)s)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print one line per request to stderr, with the token redacted",
    )
    return parser


def _parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0 to 65535")
    return port


def _describe(server: DemoServer) -> str:
    return "\n".join(
        [
            f"vulncheck-magic demo API serving at {server.url}",
            f"API token: {DEMO_TOKEN}",
            "Point the magic at it in IPython or Jupyter:",
            "    %load_ext vulncheck_magic",
            f'    %config VulnCheckMagic.base_url = "{server.url}"',
            "    %vulncheck login        (then paste the token above into the form)",
            "or, before starting Jupyter, in the shell:",
            f"    export VULNCHECK_API_URL={server.url} VULNCHECK_API_TOKEN={DEMO_TOKEN}",
            "Indexes: cisa-kev, nist-nvd2, vulncheck-kev. The records are real CISA KEV and NVD",
            "data, except the VulnCheck-only fields of vulncheck-kev, which are synthetic.",
            "Also served: backups, PURL and CPE lookups, CVE search, C2 lists and rules.",
            f"Every path, with its parameters: {server.url}/v3/openapi",
            "Press Ctrl-C to stop.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Serve the demo API until Ctrl-C or SIGTERM, then return the exit status.

    The first line printed is ``vulncheck-magic demo API serving at <URL>``.
    """
    args = _build_parser().parse_args(argv)

    server = DemoServer(host=args.host, port=args.port)
    try:
        server.start()
    except OSError as error:
        print(
            f"error: cannot listen on {args.host} port {args.port}: {error}. "
            "Choose another port with --port, or --port 0 for a free one.",
            file=sys.stderr,
        )
        return 1

    log_handler: logging.Handler | None = None
    previous_log_level = logger.level
    if args.verbose:
        log_handler = logging.StreamHandler(sys.stderr)
        log_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(log_handler)
        logger.setLevel(logging.DEBUG)

    stop_requested = threading.Event()

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        stop_requested.set()

    # Python allows signal handlers only in the main thread; elsewhere SIGTERM keeps its
    # current handler.
    handles_sigterm = threading.current_thread() is threading.main_thread()
    previous_sigterm_handler = None
    if handles_sigterm:
        previous_sigterm_handler = signal.signal(signal.SIGTERM, request_stop)

    try:
        print(_describe(server), flush=True)
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if handles_sigterm:
            signal.signal(signal.SIGTERM, previous_sigterm_handler or signal.SIG_DFL)
        if log_handler is not None:
            logger.removeHandler(log_handler)
            logger.setLevel(previous_log_level)
    print("demo API stopped", flush=True)
    return 0
