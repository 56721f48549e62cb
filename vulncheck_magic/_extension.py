"""Loading and unloading the IPython extension."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._errors import VulnCheckError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ._magics import VulnCheckMagic

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

# The attribute on the shell that contains this extension's state, so that loading twice is a
# no-op and unloading can restore what loading changed.
_STATE_ATTRIBUTE = "_vulncheck_magic_state"


def _show_vulncheck_error(
    shell: InteractiveShell,
    etype: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    tb_offset: int | None = None,
) -> list[str]:
    """Show a VulnCheckError as one line, like IPython shows a UsageError.

    The error still stops the cell (and a notebook run by nbclient), but the user sees the
    message, not a traceback through the HTTP stack.
    """
    state = getattr(shell, _STATE_ATTRIBUTE, None)
    if not isinstance(value, VulnCheckError) and state is not None and state["previous_handler"]:
        previous_types, previous_handler = state["previous_handler"]
        if isinstance(value, previous_types):
            return previous_handler(etype, value, tb, tb_offset=tb_offset)
    structured = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, structured)
    return structured


def load_ipython_extension(shell: InteractiveShell) -> None:
    """Register ``%vulncheck`` and its ``%config VulnCheckMagic`` settings.

    Loading a second time does nothing.
    """
    if getattr(shell, _STATE_ATTRIBUTE, None) is not None:
        return
    from ._magics import VulnCheckMagic

    magics = VulnCheckMagic(shell=shell, parent=shell)
    shell.register_magics(magics)
    # IPython 8.13 and newer add every Magics instance to the configurables themselves.
    if magics not in shell.configurables:
        shell.configurables.append(magics)

    from ._completion import install_completer

    install_completer(shell, magics)
    shell.events.register("post_run_cell", magics.print_summaries)

    previous: tuple[tuple[type[BaseException], ...], Any] | None = None
    if shell.custom_exceptions:
        previous = (tuple(shell.custom_exceptions), shell.CustomTB)
    exception_types = (VulnCheckError, *(previous[0] if previous else ()))
    setattr(shell, _STATE_ATTRIBUTE, {"magics": magics, "previous_handler": previous})
    shell.set_custom_exc(exception_types, _show_vulncheck_error)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """Remove ``%vulncheck``, stop the demo API and restore the previous exception handler."""
    state = getattr(shell, _STATE_ATTRIBUTE, None)
    if state is None:
        return
    magics: VulnCheckMagic = state["magics"]
    if magics.demo is not None:
        magics.stop_demo()
    magics.client.close()
    shell.events.unregister("post_run_cell", magics.print_summaries)
    shell.magics_manager.magics["line"].pop("vulncheck", None)
    shell.magics_manager.registry.pop(type(magics).__name__, None)
    shell.configurables[:] = [item for item in shell.configurables if item is not magics]
    previous = state["previous_handler"]
    if previous is None:
        shell.set_custom_exc((), None)
        shell.custom_exceptions = ()
    else:
        shell.custom_exceptions = previous[0]
        shell.CustomTB = previous[1]
    delattr(shell, _STATE_ATTRIBUTE)
