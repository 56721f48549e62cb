"""Tab completion of ``%vulncheck`` lines: commands, index names and option names.

It uses IPython's ``complete_command`` hook, which every frontend reaches through the kernel's
completer, so no frontend plugin is needed.
"""

from __future__ import annotations

import argparse
import functools
import sys
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


# Commands that a %%vulncheck cell runs.
_CELL_COMMANDS = ("cpe", "enrich", "index", "purl", "purls", "search")


@functools.cache
def _parser() -> argparse.ArgumentParser:
    # Built once: completion runs on every Tab press, and the parser never changes.
    return build_parser()


def complete_line(
    words: list[str],
    current: str,
    *,
    index_names: set[str] | None = None,
    frame_names: list[str] | None = None,
    cell: bool = False,
) -> list[str]:
    """Return completions for ``current``, the word being typed after the finished ``words``.

    ``words`` are the words after ``%vulncheck`` that are already complete. ``frame_names``
    are the notebook's DataFrame variables, offered after ``enrich``. With ``cell`` only the
    commands that a ``%%vulncheck`` cell runs are offered.
    """
    from ._catalog import index_names as catalog_names
    from ._catalog import index_parameters

    parser = _parser()
    commands = subparsers(parser)
    if not words:
        names = _CELL_COMMANDS if cell else commands
        return sorted(name for name in names if name.startswith(current))
    command = words[0]
    subparser = commands.get(command)
    if subparser is None:
        return []
    nested = subparsers(subparser)
    if nested:
        if len(words) == 1:
            return sorted(name for name in nested if name.startswith(current))
        subparser = nested.get(words[1], subparser)
    if words[-1] == "--with":
        from ._commands import ENRICH_SOURCE_NAMES

        # IPython splits the word being completed at commas, so the completion replaces
        # only the part after the last comma.
        done, _, partial = current.rpartition(",")
        chosen = set(done.split(",")) if done else set()
        return [
            name for name in ENRICH_SOURCE_NAMES if name.startswith(partial) and name not in chosen
        ]
    if command == "enrich" and len(words) == 1 and not current.startswith("-"):
        return sorted(name for name in frame_names or [] if name.startswith(current))
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
    pandas = sys.modules.get("pandas")
    namespace = magics.shell.user_ns if magics.shell is not None else {}
    frames = [
        name
        for name, value in namespace.items()
        if pandas is not None and not name.startswith("_") and isinstance(value, pandas.DataFrame)
    ]
    return complete_line(
        parts,
        current,
        index_names=server_names,
        frame_names=frames,
        cell=text.lstrip().startswith("%%"),
    )


def install_completer(shell: InteractiveShell, magics: VulnCheckMagic) -> None:
    """Register the completer for ``%vulncheck`` and ``%%vulncheck`` lines."""

    def hook(_self: object, event: SimpleNamespace) -> list[str]:
        return _hook(magics, event)

    for key in ("%vulncheck", "%%vulncheck"):
        shell.set_hook("complete_command", hook, str_key=key)
