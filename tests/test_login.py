"""Login form driven headlessly, the prompt fallback, --env and logout."""

from __future__ import annotations

import getpass
import io
from collections.abc import Iterator
from types import SimpleNamespace

import ipywidgets as widgets
import pytest
from IPython.core.interactiveshell import InteractiveShell

import vulncheck_magic._login_form as login_form_module
from vulncheck_magic import Client, TokenStore
from vulncheck_magic._auth import AuthMode, get_token_store
from vulncheck_magic._login import NO_INPUT_MESSAGE
from vulncheck_magic._login_form import LoginForm
from vulncheck_magic.demo import DemoServer

from .conftest import SECRET_TOKEN, run_cell
from .scripted_server import scripted_server

WRONG_TOKEN = "vulncheck_wrong0token0000000000000000000000000000"


@pytest.fixture
def form(demo_server: DemoServer) -> Iterator[LoginForm]:
    """A form bound to the demo server and a fresh store with no environment token."""
    store = TokenStore(environ={})
    with Client(demo_server.url, token=store) as client:
        yield LoginForm(client, store)


def submit(form: LoginForm, text: str) -> str:
    """Type ``text`` into the field, press Log in and return the status line."""
    form.token_field.value = text
    form.click_login()
    return form.status


@pytest.fixture
def kernel_shell(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> InteractiveShell:
    """The shell posing as a Jupyter kernel whose frontend accepts input."""
    monkeypatch.setattr(shell, "kernel", SimpleNamespace(_allow_stdin=True), raising=False)
    return shell


def test_login_success_stores_token(form: LoginForm) -> None:
    status = submit(form, SECRET_TOKEN)
    assert status == ("Logged in, 3 indexes available (token vuln…cdef, auth mode header).")
    assert form.token_field.value == ""
    resolved = form.store.resolve()
    assert resolved is not None
    assert resolved.secret.reveal() == SECRET_TOKEN


def test_field_blanked_before_check(form: LoginForm, monkeypatch: pytest.MonkeyPatch) -> None:
    field_values = []
    original = login_form_module.check_token

    def spy(value: str, **kwargs: object) -> object:
        field_values.append(form.token_field.value)
        return original(value, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(login_form_module, "check_token", spy)
    submit(form, WRONG_TOKEN)
    submit(form, SECRET_TOKEN)
    assert field_values == ["", ""]


def test_rejected_token_keeps_previous(form: LoginForm) -> None:
    submit(form, SECRET_TOKEN)
    status = submit(form, WRONG_TOKEN)
    assert status.startswith("Token rejected (401)")
    assert "Still logged in with vuln…cdef" in status
    assert form.token_field.value == ""
    resolved = form.store.resolve()
    assert resolved is not None
    assert resolved.secret.reveal() == SECRET_TOKEN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "No token entered"),
        ("   \t ", "No token entered"),
        ("x" * 4096, "4,096 characters long"),
        ("vulncheck_tökén_with_ümlauts_000000", "non-ASCII"),
        ("two words", "spaces, line breaks"),
    ],
)
def test_bad_input_gives_status(form: LoginForm, text: str, expected: str) -> None:
    status = submit(form, text)
    assert expected in status
    assert "\n" not in status
    assert form.token_field.value == ""
    assert form.store.resolve() is None
    assert not form.login_button.disabled


def test_pasted_newline_is_trimmed(form: LoginForm) -> None:
    status = submit(form, f"{SECRET_TOKEN}\n")
    assert status.startswith("Logged in")
    resolved = form.store.resolve()
    assert resolved is not None
    assert resolved.secret.reveal() == SECRET_TOKEN


def test_double_click_keeps_login(form: LoginForm) -> None:
    form.token_field.value = SECRET_TOKEN
    form.click_login()
    form.click_login()
    assert form.status.startswith("No token entered")
    assert "Still logged in with vuln…cdef" in form.status
    assert form.store.has_session_token


def test_status_replaces_child_widget(form: LoginForm) -> None:
    before = form.widget.children[-1]
    submit(form, SECRET_TOKEN)
    after = form.widget.children[-1]
    assert after is not before
    assert isinstance(after, widgets.HTML)
    assert "Logged in" in after.value
    assert not any(isinstance(child, widgets.Output) for child in form.widget.children)


def test_logout_messages(form: LoginForm) -> None:
    form.click_logout()
    assert form.status == "Not logged in: no token entered in this kernel. No token is set now."
    submit(form, SECRET_TOKEN)
    form.click_logout()
    assert form.status == "Logged out. No token is set now."
    assert form.store.resolve() is None


def test_unreachable_api_status() -> None:
    with scripted_server() as server:
        url = server.url
    store = TokenStore(environ={})
    with Client(url, token=store, max_retries=0) as client:
        form = LoginForm(client, store)
        status = submit(form, SECRET_TOKEN)
    assert status.startswith("Could not check the token: Could not reach the VulnCheck API")
    assert "connection refused" in status
    assert SECRET_TOKEN not in status
    assert store.resolve() is None
    assert form.token_field.value == ""


def test_form_auth_mode_becomes_session_mode(
    kernel_shell: InteractiveShell, demo_server: DemoServer
) -> None:
    run_cell(kernel_shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    outcome = run_cell(kernel_shell, "%vulncheck login --auth cookie")
    assert outcome.error is None, outcome.text
    magics = kernel_shell.magics_manager.registry["VulnCheckMagic"]
    form = magics.login_form
    assert form is not None
    assert form.auth_mode_choice.value == "cookie"
    assert any("application/vnd.jupyter.widget-view+json" in data for data in outcome.displays)
    submit(form, SECRET_TOKEN)
    assert magics.auth_mode == "cookie"
    run_cell(kernel_shell, "%vulncheck index cisa-kev --limit 1")
    assert demo_server.requests[-1].cookies == {"token": SECRET_TOKEN}
    status = run_cell(kernel_shell, "%vulncheck status").result["value"]
    assert status["token"] == "vuln…cdef (entered in this kernel)"


def test_login_without_input_prints_hint(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shell, "kernel", SimpleNamespace(_allow_stdin=False), raising=False)
    outcome = run_cell(shell, "%vulncheck login")
    assert outcome.error is None
    assert outcome.stdout.strip() == NO_INPUT_MESSAGE
    assert outcome.displays == []


def test_terminal_without_tty_prints_hint(shell: InteractiveShell) -> None:
    outcome = run_cell(shell, "%vulncheck login")
    assert outcome.stdout.strip() == NO_INPUT_MESSAGE


def test_terminal_prompt_fallback(
    shell: InteractiveShell, demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    prompts = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return f" {SECRET_TOKEN}\n"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    outcome = run_cell(shell, "%vulncheck login --auth query")
    assert prompts == ["VulnCheck API token (input hidden): "]
    assert outcome.stdout.strip().startswith("Logged in, 3 indexes available")
    assert SECRET_TOKEN not in outcome.text
    magics = shell.magics_manager.registry["VulnCheckMagic"]
    assert magics.auth_mode == "query"


def test_prompt_option_in_kernel(
    kernel_shell: InteractiveShell, demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": WRONG_TOKEN)
    run_cell(kernel_shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    outcome = run_cell(kernel_shell, "%vulncheck login --prompt")
    assert outcome.stdout.strip().startswith("Token rejected (401)")
    assert outcome.displays == []
    assert get_token_store().resolve() is None


def test_prompt_cancelled(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))

    def cancelled(prompt: str = "") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(getpass, "getpass", cancelled)
    outcome = run_cell(shell, "%vulncheck login")
    assert outcome.stdout.strip() == "Login cancelled: no token was stored."


def test_login_from_other_env_variable(
    shell: InteractiveShell, demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    missing = run_cell(shell, "%vulncheck login --env TEAM_VULNCHECK_TOKEN")
    assert missing.stdout.strip() == (
        "The environment variable TEAM_VULNCHECK_TOKEN is not set: set it before starting "
        "the kernel, or run %vulncheck login without --env to use the form."
    )
    invalid = run_cell(shell, "%vulncheck login --env 'BAD NAME'")
    assert invalid.stdout.strip() == (
        "Invalid environment variable name 'BAD NAME': use letters, digits and _."
    )
    monkeypatch.setenv("TEAM_VULNCHECK_TOKEN", "  ")
    empty = run_cell(shell, "%vulncheck login --env TEAM_VULNCHECK_TOKEN")
    assert empty.stdout.strip() == "The environment variable TEAM_VULNCHECK_TOKEN is empty."
    monkeypatch.setenv("TEAM_VULNCHECK_TOKEN", SECRET_TOKEN)
    done = run_cell(shell, "%vulncheck login --env TEAM_VULNCHECK_TOKEN --auth cookie")
    assert done.stdout.startswith("Logged in, 3 indexes available")
    assert SECRET_TOKEN not in done.text


def test_session_token_wins_over_environment(
    shell: InteractiveShell, demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VULNCHECK_API_TOKEN", WRONG_TOKEN)
    monkeypatch.setenv("TEAM_VULNCHECK_TOKEN", SECRET_TOKEN)
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    run_cell(shell, "%vulncheck login --env TEAM_VULNCHECK_TOKEN")
    outcome = run_cell(shell, "%vulncheck index cisa-kev --limit 1")
    assert outcome.error is None, outcome.text
    logout = run_cell(shell, "%vulncheck logout")
    assert logout.stdout.strip() == (
        "Logged out. VULNCHECK_API_TOKEN still provides a token (vuln…0000)."
    )


def test_non_interactive_python_login(monkeypatch: pytest.MonkeyPatch) -> None:
    from vulncheck_magic import login

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert login() is None


def test_form_repr_masked(form: LoginForm) -> None:
    submit(form, SECRET_TOKEN)
    assert SECRET_TOKEN not in repr(form)
    assert "vuln…cdef" in repr(form)
    assert form.auth_mode_choice.options == tuple(mode.value for mode in AuthMode)
