"""Tab completion of ``%vulncheck`` lines: commands, index names and option names.

It uses IPython's ``complete_command`` hook, which every frontend reaches through the kernel's
completer, so no frontend plugin is needed.
"""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import TYPE_CHECKING

from ._parser import build_parser, subparsers

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ._magics import VulnCheckMagic

__all__ = ["complete_line", "install_completer"]

# Commands whose first argument is an index name.
_INDEX_COMMANDS = frozenset({"index", "backup"})
_VALUE_CHOICES = {
    "--auth": ["header", "query", "cookie"],
    "--order": ["asc", "desc"],
    "--part": ["a", "o", "h"],
}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings]


def complete_line(
    words: list[str], current: str, *, index_names: set[str] | None = None
) -> list[str]:
    """Return completions for ``current``, the word being typed after the finished ``words``.

    ``words`` are the words after ``%vulncheck`` that are already complete.
    """
    from ._catalog import index_names as catalog_names
    from ._catalog import index_parameters

    parser = build_parser()
    commands = subparsers(parser)
    if not words:
        return sorted(name for name in commands if name.startswith(current))
    command = words[0]
    subparser = commands.get(command)
    if subparser is None:
        return []
    nested = subparsers(subparser)
    if nested:
        if len(words) == 1:
            return sorted(name for name in nested if name.startswith(current))
        subparser = nested.get(words[1], subparser)
    if words[-1] in _VALUE_CHOICES:
        return [value for value in _VALUE_CHOICES[words[-1]] if value.startswith(current)]
    if command == "rules" and len(words) == 1:
        return [kind for kind in ("snort", "suricata") if kind.startswith(current)]
    if command in _INDEX_COMMANDS and len(words) == 1 and not current.startswith("-"):
        names = set(catalog_names()) | (index_names or set())
        return sorted(name for name in names if name.startswith(current))
    if current.startswith("-") or not current:
        options = _options(subparser)
        if command == "index" and len(words) > 1:
            fixed = set(options)
            options += [
                f"--{name}" for name in index_parameters(words[1]) if f"--{name}" not in fixed
            ]
        used = set(words)
        return sorted(
            option
            for option in options
            if option.startswith(current or "--") and (option not in used or option == "--param")
        )
    return []


def _hook(magics: VulnCheckMagic, event: SimpleNamespace) -> list[str]:
    text = str(event.text_until_cursor)
    body = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
    parts = body.split()
    current = "" if not body or body[-1].isspace() else parts.pop()
    server_names = set(magics.client._server_index_names.get(magics.client.base_url, ()))
    return complete_line(parts, current, index_names=server_names)


def install_completer(shell: InteractiveShell, magics: VulnCheckMagic) -> None:
    """Register the completer for ``%vulncheck`` and ``%%vulncheck`` lines."""

    def hook(_self: object, event: SimpleNamespace) -> list[str]:
        return _hook(magics, event)

    for key in ("%vulncheck", "%%vulncheck"):
        shell.set_hook("complete_command", hook, str_key=key)
