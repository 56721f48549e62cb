"""The argument parser of ``%vulncheck`` and the help text generated from it.

The parser is the single source of the options: the ``%vulncheck?`` help is built from it,
so that help and behaviour cannot drift apart.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError

from ._auth import AuthMode
from ._params import DATE_PARAMETERS, InvalidParameterError, normalize_cve

__all__ = [
    "COMMANDS",
    "HelpRequested",
    "build_parser",
    "format_help",
    "index_params",
    "parse_line",
    "subparsers",
]

HELP_WIDTH = 92

# Common filters of ``GET /v3/index/{index}``, under their wire names, with their help.
INDEX_FILTERS: dict[str, str] = {
    "cve": "CVE id, for example CVE-2021-44228 (case-insensitive)",
    "alias": "vulnerability alias, for example a GHSA id",
    "iava": "IAVA id",
    "jvndb": "JVNDB id, for example JVNDB-2025-007355",
    "ilvn": "Israeli ILVN id",
    "threat_actor": "threat-actor name",
    "mitre_id": "MITRE ATT&CK group id, for example G0013",
    "misp_id": "MISP galaxy id",
    "ransomware": "ransomware family name",
    "botnet": "botnet name",
    "published": "published date",
    "date": "exact published date, YYYY-MM-DD",
    "updatedAtStartDate": "first VulnCheck update date to include, YYYY-MM-DD",
    "updatedAtEndDate": "last VulnCheck update date to include, YYYY-MM-DD",
    "lastModStartDate": "first last-modified date to include, YYYY-MM-DD",
    "lastModEndDate": "last last-modified date to include, YYYY-MM-DD",
    "pubStartDate": "first published date to include, YYYY-MM-DD",
    "pubEndDate": "last published date to include, YYYY-MM-DD",
}

COMMANDS: dict[str, str] = {
    "demo": "start the embedded offline demo API and point this kernel at it",
    "indexes": "list the indexes the token may read",
    "index": "query one index: one row per record",
    "status": "show the base URL, auth mode, token source (masked) and demo state",
    "login": "enter a token in a masked form (or a hidden prompt) for this kernel",
    "logout": "forget the token entered in this kernel",
}


class HelpRequested(Exception):
    """Raised instead of exiting when ``-h``/``--help`` printed a help text."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises UsageError instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}. Run %{self.prog} --help for the options.")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpRequested


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=HELP_WIDTH, max_help_position=30)


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"use a whole number of at least 1, not {text!r}")
    return number


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"use a TCP port from 0 to 65535, not {text!r}")
    return number


def _lower(text: str) -> str:
    return text.strip().lower()


def _cve(text: str) -> str:
    try:
        return normalize_cve(text)
    except InvalidParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"use KEY=VALUE, not {text!r}")
    return key.strip(), value


def _add_common_options(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--auth",
        type=_lower,
        choices=[mode.value for mode in AuthMode],
        help="where this request carries the token: Authorization header, query parameter or "
        "cookie (default: %%config VulnCheckMagic.auth_mode)",
    )
    if output:
        group.add_argument(
            "-o",
            "--output",
            metavar="VAR",
            help="store the result in the variable VAR instead of displaying it",
        )
        group.add_argument(
            "--raw",
            action="store_true",
            help="return the parsed JSON envelope (_benchmark, _meta, data) as a dict, not a frame",
        )


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of every ``%vulncheck`` command."""
    parser = _Parser(
        prog="vulncheck",
        description="Query the VulnCheck API v3 and return pandas DataFrames.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, required=False
    )

    demo = commands.add_parser(
        "demo",
        help=COMMANDS["demo"],
        description="Start the embedded demo API on 127.0.0.1 (real CISA KEV and NVD records, "
        "no network, no real token needed) and send this kernel's queries to it with the demo "
        "token. --stop stops it and restores the previous base URL.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    demo.add_argument("--stop", action="store_true", help="stop the demo API")
    demo.add_argument(
        "--port",
        type=_port,
        default=0,
        help="TCP port on 127.0.0.1 (default: 0, a free port)",
    )

    indexes = commands.add_parser(
        "indexes",
        help=COMMANDS["indexes"],
        description="List the indexes the token may read: one row per index with name, "
        "description and href.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    _add_common_options(indexes)

    index = commands.add_parser(
        "index",
        help=COMMANDS["index"],
        description="Query one index (GET /v3/index/NAME): one row per record, nested fields "
        "flattened into dotted columns, dates as UTC datetimes. Offset paging reaches page "
        "_meta.max_pages (6 on most indexes); beyond it use --start_cursor and --cursor.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    index.add_argument("name", metavar="NAME", nargs="?", help="index name, e.g. vulncheck-kev")
    paging = index.add_argument_group("paging and sorting")
    paging.add_argument(
        "--limit", type=_positive_int, metavar="N", help="records per page (API default: 100)"
    )
    paging.add_argument(
        "--page", type=_positive_int, metavar="N", help="page number, from 1 (default: 1)"
    )
    paging.add_argument("--sort", metavar="FIELD", help="field to sort by, e.g. date_added")
    paging.add_argument("--order", type=_lower, choices=["asc", "desc"], help="sort direction")
    paging.add_argument(
        "--start_cursor",
        action="store_true",
        help="start cursor paging; the next cursor is in df.attrs['vulncheck']['meta']",
    )
    paging.add_argument("--cursor", help="continue cursor paging from this _meta.next_cursor")
    filters = index.add_argument_group("filters (API wire names)")
    for name, text in INDEX_FILTERS.items():
        kind = _cve if name == "cve" else str
        metavar = "YYYY-MM-DD" if name in DATE_PARAMETERS else name.upper()
        filters.add_argument(f"--{name}", type=kind, metavar=metavar, help=text)
    filters.add_argument(
        "--param",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="any other query parameter, sent as given (repeatable)",
    )
    _add_common_options(index)

    login = commands.add_parser(
        "login",
        help=COMMANDS["login"],
        description="Show a form with a masked token field, the auth mode, Log in and Log out. "
        "Log in checks the token with one request to the index list and keeps it in this "
        "kernel's memory only. Where widgets cannot render, a hidden prompt asks instead; "
        "where no one can type (nbclient, papermill), it says how to set VULNCHECK_API_TOKEN. "
        "The token itself is never an option, so it never ends up in the notebook.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    login.add_argument(
        "--auth",
        type=_lower,
        choices=[mode.value for mode in AuthMode],
        help="preselect the auth mode; on success it becomes the session's auth mode",
    )
    source = login.add_mutually_exclusive_group()
    source.add_argument(
        "--env",
        metavar="NAME",
        help="read the token from the environment variable NAME instead of asking",
    )
    source.add_argument(
        "--prompt",
        action="store_true",
        help="ask with a hidden text prompt instead of the form (for frontends without widgets)",
    )

    commands.add_parser(
        "logout",
        help=COMMANDS["logout"],
        description="Forget the token entered in this kernel, and say whether "
        "VULNCHECK_API_TOKEN still provides one.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )

    commands.add_parser(
        "status",
        help=COMMANDS["status"],
        description="Show the base URL, auth mode, token source with the token masked, and "
        "whether the demo API runs.",
        formatter_class=_formatter,
        allow_abbrev=False,
    )
    return parser


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def format_help(parser: argparse.ArgumentParser | None = None) -> str:
    """Return the full ``%vulncheck?`` help text: overview, then every command's options."""
    parser = parser or build_parser()
    lines = [
        "Query the VulnCheck API v3 from IPython and get pandas DataFrames back.",
        "",
        "Usage:",
        "  %vulncheck COMMAND [NAME] [OPTIONS]",
        "  df = %vulncheck index vulncheck-kev --cve CVE-2021-44228",
        "",
        "Commands:",
    ]
    lines += [f"  {name:<10}{text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "Token: a token entered in this kernel wins over the VULNCHECK_API_TOKEN environment",
        "variable; while the demo API runs, its demo token is used. The token is never taken",
        "from the magic line, so it never ends up in a saved notebook.",
        "",
        "Settings (%config VulnCheckMagic.NAME = VALUE):",
        "  auth_mode  header (default), query or cookie: where requests carry the token",
        "  base_url   API root URL (default: VULNCHECK_API_URL, else https://api.vulncheck.com);",
        "             plain http:// is accepted only for loopback addresses",
        "",
        "Every frame carries the request's provenance in df.attrs['vulncheck'].",
    ]
    for name, subparser in subparsers(parser).items():
        lines += ["", "-" * HELP_WIDTH, f"%vulncheck {name}", ""]
        lines.append(subparser.format_help().rstrip())
    return "\n".join(lines) + "\n"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_line(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """Split a magic line like a POSIX shell and parse it; raise UsageError on any mistake.

    Quotes group words (``--vendor "Palo Alto Networks"``), and a trailing ``# comment`` is
    dropped.
    """
    try:
        words = shlex.split(line, comments=True, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot split the line ({exc}): check the quotes") from None
    if not words:
        raise UsageError(
            f"missing command: use one of {', '.join(COMMANDS)}. Run %vulncheck? for help."
        )
    command = words[0]
    commands = subparsers(parser)
    if command not in commands and not command.startswith("-"):
        raise UsageError(
            f"unknown command {command!r}{_suggest(command, list(commands))}: use one of "
            f"{', '.join(COMMANDS)}. Run %vulncheck? for help."
        )
    namespace, extra = parser.parse_known_args(words)
    if extra:
        subparser = commands.get(command, parser)
        options = [option for action in subparser._actions for option in action.option_strings]
        first = extra[0]
        word = first.split("=", 1)[0]
        if word.startswith("-"):
            message = f"unknown option {word}{_suggest(word, options)}"
        else:
            message = f"unexpected argument {first!r}"
        raise UsageError(f"{message}. Run %vulncheck {command} --help for the options.")
    return namespace


def index_params(namespace: argparse.Namespace) -> dict[str, Any]:
    """Return the query parameters of a parsed ``index`` command, under their wire names."""
    params: dict[str, Any] = {
        "limit": namespace.limit,
        "page": namespace.page,
        "sort": namespace.sort,
        "order": namespace.order,
        "cursor": namespace.cursor,
        "start_cursor": True if namespace.start_cursor else None,
    }
    for name in INDEX_FILTERS:
        params[name] = getattr(namespace, name)
    for key, value in namespace.param:
        if params.get(key) is not None:
            raise UsageError(
                f"--param {key}= repeats a value that an option already sets: give {key} once"
            )
        params[key] = value
    return params
