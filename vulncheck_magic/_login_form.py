"""The ipywidgets login form: a masked token field, auth mode, Log in, Log out and a status."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ._auth import AuthMode, TokenStore, parse_auth_mode
from ._client import Client
from ._login import check_token, logout_message

__all__ = ["LoginForm"]

_STATUS_COLORS = {"ok": "#1a7f37", "error": "#b42318", "info": "#57606a"}


class LoginForm:
    """Login form for a VulnCheck API token, shown by ``%vulncheck login`` and ``login()``.

    Log in reads the token field and blanks it at once, before any other work, so that the
    token never stays in the widget state that a notebook saves. It then checks the token
    with one request to the index list and shows the outcome on the status line. The status
    line is replaced as a new child widget rather than through ``clear_output``, which some
    frontends do not apply.

    Attributes:
        token_field: the masked input.
        auth_mode_choice: header, query or cookie.
        login_button, logout_button: the two actions.
        widget: the VBox that the notebook displays.
    """

    def __init__(
        self,
        client: Client,
        store: TokenStore,
        *,
        auth_mode: str | AuthMode = AuthMode.HEADER,
        on_auth_mode: Callable[[AuthMode], None] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.on_auth_mode = on_auth_mode
        self._busy = threading.Lock()
        self._status_text = ""

        self.token_field = widgets.Password(
            description="API token",
            placeholder="paste your VulnCheck API token",
            layout=widgets.Layout(width="32em"),
        )
        self.auth_mode_choice = widgets.ToggleButtons(
            options=[mode.value for mode in AuthMode],
            value=parse_auth_mode(auth_mode).value,
            description="Auth mode",
            tooltips=[
                "Authorization: Bearer header (recommended)",
                "token= query parameter (ends up in server logs)",
                "cookie named token",
            ],
            style={"button_width": "6em"},
        )

        self.login_button = widgets.Button(
            description="Log in", button_style="primary", icon="sign-in"
        )
        self.logout_button = widgets.Button(description="Log out", icon="sign-out")
        self.login_button.on_click(self._on_login)
        self.logout_button.on_click(self._on_logout)

        self.widget = widgets.VBox(
            [
                self.token_field,
                self.auth_mode_choice,
                widgets.HBox([self.login_button, self.logout_button]),
                self._status_widget(self._initial_status(), "info"),
            ]
        )
        self.widget.add_class("vulncheck-login")

    def _initial_status(self) -> str:
        resolved = self.store.resolve()
        where = f"API at {self.client.base_url}"
        if resolved is None:
            return f"Not logged in. {where}."
        return f"Token in use: {self.store.describe()}. {where}."

    @property
    def status(self) -> str:
        """The plain text of the status line."""
        return self._status_text

    def _status_widget(self, text: str, kind: str) -> widgets.HTML:
        self._status_text = text
        color = _STATUS_COLORS[kind]
        return widgets.HTML(
            f'<span class="vulncheck-login-status" style="color: {color}">'
            f"{html.escape(text)}</span>"
        )

    def _show_status(self, text: str, kind: str) -> None:
        self.widget.children = (*self.widget.children[:-1], self._status_widget(text, kind))

    def _on_login(self, _button: Any = None) -> None:
        value = self.token_field.value
        self.token_field.value = ""
        if not self._busy.acquire(blocking=False):
            self._show_status("Still checking the previous token: wait a moment.", "info")
            return
        try:
            self._show_status("Checking the token…", "info")
            mode = parse_auth_mode(self.auth_mode_choice.value)
            outcome = check_token(value, client=self.client, auth_mode=mode, store=self.store)
            if outcome.ok and self.on_auth_mode is not None:
                self.on_auth_mode(mode)
            message = outcome.message
            if not outcome.ok and self.store.has_session_token:
                message += f" Still logged in with {self.store.describe()}."
            self._show_status(message, "ok" if outcome.ok else "error")
        finally:
            self._busy.release()

    def _on_logout(self, _button: Any = None) -> None:
        self.token_field.value = ""
        had_token = self.store.clear_session_token()
        self._show_status(logout_message(self.store, had_token), "info")

    def click_login(self) -> None:
        """Press Log in, as a person would; for scripts and tests."""
        self.login_button.click()

    def click_logout(self) -> None:
        """Press Log out, as a person would; for scripts and tests."""
        self.logout_button.click()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<LoginForm api={self.client.base_url!r} "
            f"auth_mode={self.auth_mode_choice.value!r} token={self.store.describe()}>"
        )
