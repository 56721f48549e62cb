"""Logging in: checking a candidate token and storing it in the kernel's token store.

Three ways in: the widget form (``_login_form.py``), a ``getpass`` prompt where widgets cannot
render, and another environment variable (``--env NAME``). Each reads the token outside the
cell source, checks it with one cheap request (the index list) and stores it only when the
API accepts it, so a failed login keeps the token that was there before.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._auth import AuthMode, Secret, TokenStore, clean_token, get_token_store, parse_auth_mode
from ._client import Client
from ._errors import AuthenticationError, VulnCheckError
from ._logging import logger

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from ._login_form import LoginForm
    from ._magics import VulnCheckMagic

__all__ = [
    "LoginOutcome",
    "check_token",
    "interactive_input_available",
    "login",
    "logout_message",
    "token_problem",
]

# Far above the length of any API token, so that longer input was pasted by mistake.
MAX_TOKEN_LENGTH = 512

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

NO_INPUT_MESSAGE = (
    "No one can type a token in this run (it is not interactive, as under nbclient, papermill "
    "or a script): set the VULNCHECK_API_TOKEN environment variable before starting, or use "
    "%vulncheck login --env NAME."
)


@dataclass(frozen=True)
class LoginOutcome:
    """The result of one login attempt: whether it worked and a one-line status."""

    ok: bool
    message: str


def token_problem(value: str) -> str | None:
    """Return why ``value`` cannot be a token, or None when it may be one."""
    token = clean_token(value)
    if not token:
        return "No token entered: paste your VulnCheck API token first."
    if len(token) > MAX_TOKEN_LENGTH:
        return (
            f"The entered text is {len(token):,} characters long, too long for an API token: "
            "paste only the token."
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        return (
            "The token contains spaces, line breaks or non-ASCII characters: paste it exactly "
            "as the VulnCheck console shows it."
        )
    return None


def check_token(
    value: str,
    *,
    client: Client,
    auth_mode: AuthMode,
    store: TokenStore,
) -> LoginOutcome:
    """Check a candidate token with one request to the index list; store it if accepted.

    ``client`` supplies the base URL and connection pool. The token store changes only on
    success, so a rejected token leaves the previous one in place.
    """
    problem = token_problem(value)
    if problem is not None:
        return LoginOutcome(False, problem)
    secret = Secret(clean_token(value))
    candidate = TokenStore(environ={})
    candidate.set_session_token(secret)
    checker = Client(client.base_url, auth_mode=auth_mode, token=candidate, session=client.session)
    try:
        frame = checker.indexes()
    except AuthenticationError:
        logger.info("login rejected by %s (HTTP 401)", client.base_url)
        return LoginOutcome(
            False, "Token rejected (401): check that the token is complete and has not expired."
        )
    except VulnCheckError as exc:
        logger.info("login check against %s failed: %s", client.base_url, exc)
        return LoginOutcome(False, f"Could not check the token: {exc}")
    store.set_session_token(secret)
    logger.info("logged in to %s with auth mode %s", client.base_url, auth_mode.value)
    return LoginOutcome(
        True,
        f"Logged in, {len(frame)} indexes available (token {secret.masked}, "
        f"auth mode {auth_mode.value}).",
    )


def logout_message(store: TokenStore, had_token: bool) -> str:
    """Return the one-line status after a logout, saying which token still applies."""
    first = "Logged out." if had_token else "Not logged in: no token entered in this kernel."
    env_secret = store.environment_token()
    if env_secret is not None:
        return f"{first} {store.env_var} still provides a token ({env_secret.masked})."
    return f"{first} No token is set now."


def _kernel(shell: InteractiveShell | None) -> Any:
    return getattr(shell, "kernel", None)


def interactive_input_available(shell: InteractiveShell | None) -> bool:
    """Return whether a person can answer a prompt in this run.

    In a Jupyter kernel, that is when the frontend accepts input requests; nbclient and
    papermill send ``allow_stdin=False``. Elsewhere, standard input must be a terminal.
    """
    kernel = _kernel(shell)
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def login_with_prompt(client: Client, auth_mode: AuthMode, store: TokenStore) -> LoginOutcome:
    """Ask for the token with ``getpass`` (input is not echoed) and check it."""
    try:
        value = getpass.getpass("VulnCheck API token (input hidden): ")
    except (EOFError, KeyboardInterrupt):
        print()  # end the prompt's line before the status
        return LoginOutcome(False, "Login cancelled: no token was stored.")
    return check_token(value, client=client, auth_mode=auth_mode, store=store)


def login_from_environment(
    name: str, client: Client, auth_mode: AuthMode, store: TokenStore
) -> LoginOutcome:
    """Read the token from the environment variable ``name`` and check it."""
    if not _ENV_NAME.fullmatch(name):
        return LoginOutcome(
            False, f"Invalid environment variable name {name!r}: use letters, digits and _."
        )
    value = os.environ.get(name)
    if value is None:
        return LoginOutcome(
            False,
            f"The environment variable {name} is not set: set it before starting the kernel, "
            "or run %vulncheck login without --env to use the form.",
        )
    if not clean_token(value):
        return LoginOutcome(False, f"The environment variable {name} is empty.")
    return check_token(value, client=client, auth_mode=auth_mode, store=store)


def _loaded_magics(shell: InteractiveShell | None) -> VulnCheckMagic | None:
    state = getattr(shell, "_vulncheck_magic_state", None)
    return state["magics"] if state else None


def login(auth_mode: str | AuthMode | None = None) -> LoginForm | None:
    """Show the login form, or a hidden prompt where widgets cannot render.

    In a notebook this returns the form, which displays itself: a masked token field, the
    auth-mode choice, Log in and Log out buttons and a status line. The field is blanked as
    soon as Log in reads it. Where no one can type (nbclient, papermill, a script without a
    terminal), it prints how to set ``VULNCHECK_API_TOKEN`` instead and returns None. In a
    terminal, a hidden prompt requests the token.

    The token is kept in this process's memory only. With the extension loaded, the chosen
    auth mode becomes the session's ``VulnCheckMagic.auth_mode``.
    """
    from IPython import get_ipython

    shell = get_ipython()
    magics = _loaded_magics(shell)
    client = magics.client if magics is not None else Client()
    mode = parse_auth_mode(auth_mode) if auth_mode is not None else client.auth_mode
    return start_login(shell, client, mode, get_token_store(), magics)


def start_login(
    shell: InteractiveShell | None,
    client: Client,
    auth_mode: AuthMode,
    store: TokenStore,
    magics: VulnCheckMagic | None,
    *,
    prompt: bool = False,
) -> LoginForm | None:
    """Pick the form, the prompt or the non-interactive message for this frontend."""

    def apply_auth_mode(mode: AuthMode) -> None:
        if magics is not None:
            magics.auth_mode = mode.value
        else:
            client.auth_mode = mode

    if not interactive_input_available(shell):
        print(NO_INPUT_MESSAGE)
        return None
    if _kernel(shell) is not None and not prompt:
        from ._login_form import LoginForm

        return LoginForm(client, store, auth_mode=auth_mode, on_auth_mode=apply_auth_mode)
    outcome = login_with_prompt(client, auth_mode, store)
    if outcome.ok:
        apply_auth_mode(auth_mode)
    print(outcome.message)
    return None
