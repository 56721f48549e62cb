"""Parsing a ``%vulncheck`` line, and the help text generated from the same parser.

The parser is the single source of the options: the ``%vulncheck?`` help is built from it,
so that help and behaviour cannot drift apart. Index-specific parameters come from the
offline catalog and are parsed after the fixed options.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from collections.abc import Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError

from ._commands import COMMANDS, HELP_WIDTH, INDEX_FILTERS, add_commands, formatter

__all__ = [
    "COMMANDS",
    "HelpRequested",
    "build_parser",
    "format_help",
    "format_index_help",
    "index_params",
    "parse_line",
    "subparsers",
]

# Parameters of an index that fixed options of ``index`` already set.
_PAGING_PARAMETERS = frozenset({"page", "limit", "cursor", "start_cursor", "order", "sort"})


class HelpRequested(Exception):
    """Raised instead of exiting when ``-h``/``--help`` printed a help text."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises UsageError instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        required = "the following arguments are required: "
        if message.startswith(required):
            message = f"missing {message[len(required) :]}"
        raise UsageError(f"{message}. Run %{self.prog} --help for the options.")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise HelpRequested


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of every ``%vulncheck`` command."""
    parser = _Parser(
        prog="vulncheck",
        description="Query the VulnCheck API v3 and return pandas DataFrames.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_commands(commands)
    return parser


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Return a parser's sub-parsers by command name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_commands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """Return every command and nested command (``search cpe``) with its parser, in order."""
    result = []
    for name, subparser in subparsers(parser).items():
        nested = subparsers(subparser)
        if nested:
            result += [(f"{name} {kind}", kind_parser) for kind, kind_parser in nested.items()]
        else:
            result.append((name, subparser))
    return result


def format_help(parser: argparse.ArgumentParser | None = None) -> str:
    """Return the full ``%vulncheck?`` help text: overview, then every command's options."""
    parser = parser or build_parser()
    lines = [
        "Query the VulnCheck API v3 from IPython and get pandas DataFrames back.",
        "",
        "Usage:",
        "  %vulncheck COMMAND [ARGUMENTS] [OPTIONS]",
        "  df = %vulncheck index vulncheck-kev --cve CVE-2021-44228",
        "",
        "  %%vulncheck index vulncheck-kev --cve",
        "  CVE-2021-44228",
        "  CVE-2023-4966",
        "",
        "A %%vulncheck cell runs the line once per value in the cell body (one per line; blank",
        "lines, # comments and repeats are skipped) and returns one frame with a query column;",
        "a value that fails gets its message in an error column. It works with index (end the",
        "line with the option that takes the value), purl, cpe and search cve; purls sends the",
        "whole body in one request.",
        "",
        "Commands:",
    ]
    lines += [f"  {name:<13}{text}" for name, text in COMMANDS.items()]
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
        "  cache_ttl  seconds a repeated identical index query returns the earlier frame (300;",
        "             0 turns the cache off)",
        "  max_retries, max_retry_wait, connect_timeout, read_timeout, ca_bundle: retries (3,",
        "             at most 60 s each), timeouts in seconds (10, 60) and the TLS CA bundle",
        "",
        "Every frame carries the request's provenance in df.attrs['vulncheck'].",
    ]
    for name, subparser in _all_commands(parser):
        lines += ["", "-" * HELP_WIDTH, f"%vulncheck {name}", ""]
        lines.append(subparser.format_help().rstrip())
    return "\n".join(lines) + "\n"


def format_index_help(parser: argparse.ArgumentParser, name: str) -> str:
    """Return the help of ``index``, followed by the catalog's parameters of index ``name``."""
    from ._catalog import index_parameters, index_title

    text = subparsers(parser)["index"].format_help().rstrip()
    specs = index_parameters(name)
    if not specs:
        return (
            f"{text}\n\nThe offline catalog does not know the index {name!r}; "
            "--param KEY=VALUE sends any parameter.\n"
        )
    extra = [spec for key, spec in specs.items() if key not in _PAGING_PARAMETERS]
    lines = [text, "", f"Parameters of {name} ({index_title(name) or 'no title'}):"]
    for spec in extra:
        kind = spec.type
        if spec.enum:
            kind += ": " + "|".join(spec.enum)
        lines.append(f"  --{spec.name:<28}{kind}")
    return "\n".join(lines) + "\n"


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def split_line(line: str) -> list[str]:
    """Split a magic line like a POSIX shell; a trailing ``# comment`` is dropped."""
    try:
        return shlex.split(line, comments=True, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot split the line ({exc}): check the quotes") from None


def parse_line(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """Parse a magic line; raise UsageError on any mistake, HelpRequested after printing help.

    Quotes group words (``--vendor "Palo Alto Networks"``). For ``index``, options that are
    not fixed options are matched against the parameters the catalog lists for that index
    and returned in ``namespace.index_extras``.
    """
    words = split_line(line)
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
    asks_help = any(word in ("-h", "--help") for word in words[2:])
    if command == "index" and len(words) > 1 and not words[1].startswith("-") and asks_help:
        print(format_index_help(parser, words[1]))
        raise HelpRequested
    namespace, extra = parser.parse_known_args(words)
    namespace.index_extras = {}
    if extra and command == "index":
        namespace.index_extras = parse_index_extras(namespace.name, extra)
    elif extra:
        _reject_extra(commands.get(command, parser), command, extra)
    return namespace


def _reject_extra(subparser: argparse.ArgumentParser, command: str, extra: list[str]) -> NoReturn:
    options = [option for action in subparser._actions for option in action.option_strings]
    first = extra[0]
    word = first.split("=", 1)[0]
    if word.startswith("-"):
        message = f"unknown option {word}{_suggest(word, options)}"
    else:
        message = f"unexpected argument {first!r}"
    raise UsageError(f"{message}. Run %vulncheck {command} --help for the options.")


def parse_index_extras(name: str, words: list[str]) -> dict[str, str]:
    """Parse ``--key value`` pairs against the catalog's parameters of index ``name``.

    A boolean parameter given alone (``--in_kev``) means true. Values of parameters with a
    fixed vocabulary are checked against it.
    """
    from ._catalog import index_parameters

    specs = {key: spec for key, spec in index_parameters(name).items()}
    params: dict[str, str] = {}
    position = 0
    while position < len(words):
        word = words[position]
        if not word.startswith("--"):
            raise UsageError(
                f"unexpected argument {word!r}. Run %vulncheck index {name} --help for the options."
            )
        key, has_value, value = word[2:].partition("=")
        spec = specs.get(key)
        if spec is None or key in _PAGING_PARAMETERS:
            hint = _suggest(f"--{key}", [f"--{candidate}" for candidate in specs])
            raise UsageError(
                f"unknown option --{key} for index {name}{hint}. %vulncheck index {name} --help "
                "lists its parameters; --param KEY=VALUE sends any other."
            )
        next_is_value = position + 1 < len(words) and not words[position + 1].startswith("--")
        if not has_value:
            if spec.type == "boolean" and not next_is_value:
                value = "true"
            elif not next_is_value:
                raise UsageError(f"option --{key} needs a value")
            else:
                position += 1
                value = words[position]
        params[key] = _check_spec_value(name, spec, value)
        position += 1
    return params


def _check_spec_value(index: str, spec: Any, value: str) -> str:
    if spec.type == "boolean":
        text = value.strip().lower()
        if text not in ("true", "false"):
            raise UsageError(f"invalid value {value!r} for --{spec.name}: use true or false")
        return text
    if spec.type == "integer":
        try:
            return str(int(value))
        except ValueError:
            raise UsageError(
                f"invalid value {value!r} for --{spec.name}: use a whole number"
            ) from None
    if spec.enum:
        values = [item.strip() for item in value.split(",")]
        unknown = [item for item in values if item not in spec.enum]
        if unknown:
            raise UsageError(
                f"invalid value {unknown[0]!r} for --{spec.name} on {index}: use "
                f"{', '.join(spec.enum)}"
            )
    return value


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
    for key, value in {**namespace.index_extras, **dict(namespace.param)}.items():
        if params.get(key) is not None:
            raise UsageError(f"{key} is given twice: give it once")
        params[key] = value
    return params
