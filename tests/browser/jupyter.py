"""Start a private Jupyter server and drive JupyterLab 4 and Notebook 7 pages with Playwright.

This module imports Playwright only when a page is driven, so the test suite still collects
(and skips) where Playwright is not installed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import nbformat

if TYPE_CHECKING:
    from playwright.sync_api import (
        Locator,
        LocatorAssertions,
        Page,
        Request,
        Response,
        WebSocket,
    )

Frontend = Literal["lab", "notebook"]

FRONTENDS: tuple[Frontend, ...] = ("lab", "notebook")

# Generous for a cold kernel start on a 2-core machine. A passing wait returns as soon as
# its condition is met.
DEFAULT_TIMEOUT_MS = 60_000

SERVER_STARTUP_TIMEOUT_S = 60.0
SERVER_SHUTDOWN_TIMEOUT_S = 10.0

CHROMIUM_PATH = Path("/usr/bin/chromium")

# --headless is also added by Playwright. The background-networking, component-update and
# sync flags stop most of Chromium's own calls to Google services. Debian's Chromium 156
# still tries update.googleapis.com, accounts.google.com and, for pages with a password
# field, content-autofill.googleapis.com (seen in a --log-net-log capture). The resolver
# rule makes every host but 127.0.0.1 fail to resolve, so those requests and any from a
# page end with ERR_NAME_NOT_RESOLVED before a DNS query or a connection is made.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)

PYTHON3_KERNELSPEC = {
    "name": "python3",
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
}

# Server traits that keep JupyterLab from fetching news, update checks and the PyPI
# extension listing, which all go to hosts outside 127.0.0.1.
_SERVER_CONFIG: dict[str, Any] = {
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "extension_manager": "readonly",
    },
}

# Frontend plugins disabled in both JupyterLab and Notebook 7.
_PAGE_CONFIG: dict[str, Any] = {
    "disabledExtensions": {"@jupyterlab/extensionmanager-extension": True},
}

# User settings, keyed by the settings file path below the user-settings directory.
# Without fetchNews "false", JupyterLab shows a news prompt that can cover page elements.
# windowingMode "none" keeps every cell in the DOM, so cell N is always the N-th .jp-Cell.
_USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
}

# Variables through which a user's own Jupyter setup would reach the test server.
_USER_JUPYTER_VARIABLES = ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH")


@dataclass
class JupyterServer:
    """A Jupyter server process on 127.0.0.1 with its own token, directories and log file."""

    base_url: str
    token: str
    root_dir: Path
    user_settings_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        """Return the URL of `path` on this server, with the token as a query parameter."""
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{separator}token={self.token}"

    def get_json(self, path: str) -> Any:
        """Send an authenticated GET request for `path` and return the decoded JSON body."""
        request = urllib.request.Request(
            self.base_url + path, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def wait_for_kernel_connection(
        self, notebook_path: str, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> None:
        """Wait until the kernel of the session for `notebook_path` has a client connected.

        Polls /api/sessions; `notebook_path` is relative to the server root.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            sessions = self.get_json("/api/sessions")
            connections = [
                session["kernel"].get("connections", 0)
                for session in sessions
                if session.get("path") == notebook_path and session.get("kernel")
            ]
            if any(count > 0 for count in connections):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no kernel connected for {notebook_path} within {timeout_ms / 1000:.0f} s; "
                    f"sessions: {sessions}"
                )
            time.sleep(0.1)

    @contextmanager
    def user_settings(self, settings_path: str, settings: dict[str, Any]) -> Iterator[None]:
        """Replace one JupyterLab user-settings file while the block runs, then restore it.

        `settings_path` is relative to the user-settings directory, for example
        "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings". The server reads
        these files on each request, so the settings apply to pages opened inside the block.
        """
        path = self.user_settings_dir / settings_path
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        _write_json(path, settings)
        try:
            yield
        finally:
            if previous is None:
                path.unlink()
            else:
                path.write_text(previous, encoding="utf-8")

    def log_tail(self, max_lines: int = 60) -> str:
        """Return the last `max_lines` lines of the server log."""
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return f"(server log {self.log_path} not found)"
        return "\n".join(lines[-max_lines:])

    def stop(self) -> None:
        """Stop the server with SIGTERM, then SIGKILL its process group if it does not exit."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=SERVER_SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # The server runs in its own session, so its process group also contains its kernels.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=SERVER_SHUTDOWN_TIMEOUT_S)


def _find_free_port() -> int:
    # NOTE: another process may take the port between this check and the server's bind.
    # The server then exits (port_retries is 0) and start_jupyter_server raises with its log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")


def _prepare_jupyter_dirs(work_dir: Path) -> dict[str, str]:
    """Create private Jupyter and IPython directories and return the variables that select them."""
    directories = {
        "JUPYTER_CONFIG_DIR": work_dir / "config",
        "JUPYTER_DATA_DIR": work_dir / "data",
        "JUPYTER_RUNTIME_DIR": work_dir / "runtime",
        "IPYTHONDIR": work_dir / "ipython",
        "JUPYTERLAB_SETTINGS_DIR": work_dir / "config" / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": work_dir / "config" / "lab" / "workspaces",
    }
    for directory in directories.values():
        directory.mkdir(parents=True, exist_ok=True)

    config_dir = directories["JUPYTER_CONFIG_DIR"]
    _write_json(config_dir / "jupyter_server_config.json", _SERVER_CONFIG)
    _write_json(config_dir / "labconfig" / "page_config.json", _PAGE_CONFIG)
    for relative_path, settings in _USER_SETTINGS.items():
        _write_json(directories["JUPYTERLAB_SETTINGS_DIR"] / relative_path, settings)

    return {name: str(directory) for name, directory in directories.items()}


def _wait_for_status(server: JupyterServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        exit_code = server.process.poll()
        if exit_code is not None:
            raise RuntimeError(
                f"Jupyter server exited with code {exit_code} during startup; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            server.get_json("/api/status")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        else:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Jupyter server did not answer /api/status within {timeout_s:.0f} s; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        time.sleep(0.2)


def start_jupyter_server(
    work_dir: Path, *, startup_timeout_s: float = SERVER_STARTUP_TIMEOUT_S
) -> JupyterServer:
    """Start `jupyter lab` on 127.0.0.1 with a random port and token, isolated in `work_dir`.

    The server serves both JupyterLab (/lab) and Notebook 7 (/notebooks). Its config, data,
    runtime and IPython directories are fresh directories below `work_dir`, so the user's own
    configuration and kernels are not used, and notebooks live in `work_dir / "root"`.
    Returns once GET /api/status succeeds. Raises RuntimeError if the server exits first and
    TimeoutError if it does not respond in time, both with the tail of its log.
    """
    root_dir = work_dir / "root"
    root_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "jupyter-server.log"
    token = secrets.token_hex(24)
    port = _find_free_port()

    env = {name: value for name, value in os.environ.items() if name not in _USER_JUPYTER_VARIABLES}
    env.update(_prepare_jupyter_dirs(work_dir))
    # The token goes through the environment so that it does not show in the process list.
    env["JUPYTER_TOKEN"] = token

    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
    ]
    if os.geteuid() == 0:
        # CI runs as root, and Jupyter exits at startup as root unless --allow-root is given.
        command.append("--allow-root")

    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = JupyterServer(
        base_url=f"http://127.0.0.1:{port}",
        token=token,
        root_dir=root_dir,
        user_settings_dir=Path(env["JUPYTERLAB_SETTINGS_DIR"]),
        log_path=log_path,
        process=process,
    )
    try:
        _wait_for_status(server, startup_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def write_notebook(root_dir: Path, name: str, cells: Sequence[str | nbformat.NotebookNode]) -> Path:
    """Write `name`.ipynb to `root_dir` with the given cells and return its path.

    A string becomes a code cell. The notebook names the python3 kernel, so both frontends
    start it without asking the user to select a kernel.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(PYTHON3_KERNELSPEC)
    notebook.cells = [
        nbformat.v4.new_code_cell(cell) if isinstance(cell, str) else cell for cell in cells
    ]
    path = root_dir / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook file as it is on disk."""
    return nbformat.read(path, as_version=4)


def _expect(locator: Locator) -> LocatorAssertions:
    from playwright.sync_api import expect

    return expect(locator)


@dataclass
class PageActivity:
    """Console messages, page errors and off-host requests that one page produced."""

    base_url: str
    console: list[str] = field(default_factory=list)
    off_host_requests: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Start recording the events of `page`."""
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("request", self._record_request)
        page.on("websocket", self._record_websocket)

    def _record_request(self, request: Request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        if not url.startswith(self.base_url + "/"):
            self.off_host_requests.append(f"{request.method} {url}")

    def _record_websocket(self, websocket: WebSocket) -> None:
        server_websocket_url = "ws" + self.base_url.removeprefix("http") + "/"
        if not websocket.url.startswith(server_websocket_url):
            self.off_host_requests.append(f"WebSocket {websocket.url}")


_EXECUTED_PROMPT = re.compile(r"^\[\d+\]:$")


class NotebookPage:
    """A notebook opened in JupyterLab or Notebook 7, driven as a user would.

    Cells are counted from 0 in the order the notebook shows them.
    """

    def __init__(self, page: Page, server: JupyterServer, frontend: Frontend, name: str) -> None:
        self.page = page
        self.server = server
        self.frontend = frontend
        self.name = name
        self.path = server.root_dir / f"{name}.ipynb"

    @property
    def panel(self) -> Locator:
        """The visible notebook panel, toolbar included."""
        return self.page.locator(".jp-NotebookPanel:visible")

    def open(self) -> None:
        """Navigate to the notebook and wait until its kernel is idle."""
        if self.frontend == "lab":
            # reset starts from an empty workspace, so notebooks that earlier tests opened
            # in the same server are not restored next to this one.
            path = f"/lab/tree/{quote(self.name)}.ipynb?reset"
        else:
            path = f"/notebooks/{quote(self.name)}.ipynb"
        self.page.goto(self.server.url(path))
        _expect(self.cells).not_to_have_count(0)
        # The toolbar shows "idle" before any kernel exists, so first wait until the server
        # reports this page's kernel connection. From then on the indicator is accurate.
        self.server.wait_for_kernel_connection(f"{self.name}.ipynb")
        self.wait_for_kernel_idle()

    @property
    def cells(self) -> Locator:
        """All cells of the notebook."""
        return self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        """Return cell `index`."""
        return self.cells.nth(index)

    def output(self, index: int) -> Locator:
        """Return the output area of cell `index`."""
        return self.cell(index).locator(".jp-OutputArea")

    def output_element(self, index: int, selector: str) -> Locator:
        """Return the elements matching the CSS `selector` inside the output of cell `index`."""
        return self.output(index).locator(selector)

    def wait_for_kernel_idle(self, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """Wait until the execution indicator in the notebook toolbar shows an idle kernel."""
        indicator = self.panel.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator")
        _expect(indicator).to_have_attribute("data-status", "idle", timeout=timeout_ms)

    def select_cell(self, index: int) -> None:
        """Select cell `index` in command mode by clicking its input prompt."""
        self.cell(index).locator(".jp-InputPrompt").click()
        _expect(self.cell(index)).to_have_class(re.compile(r"\bjp-mod-selected\b"))

    def run_cell(self, index: int, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """Select code cell `index`, press Shift+Enter and wait for its new execution count.

        On the last cell, Shift+Enter also appends an empty cell, as it does for a user.
        """
        prompt = self.cell(index).locator(".jp-InputPrompt")
        previous_prompt = prompt.inner_text().strip()
        self.select_cell(index)
        self.page.keyboard.press("Shift+Enter")
        self._wait_for_new_execution(prompt, previous_prompt, timeout_ms)

    def run_all(self, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """Run all cells from the Run menu and wait until every code cell has run."""
        prompts = self.panel.locator(".jp-CodeCell .jp-InputPrompt")
        previous_prompts = [text.strip() for text in prompts.all_inner_texts()]

        self.page.get_by_role("menubar").get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()

        for index, previous_prompt in enumerate(previous_prompts):
            self._wait_for_new_execution(prompts.nth(index), previous_prompt, timeout_ms)

    def _wait_for_new_execution(
        self, prompt: Locator, previous_prompt: str, timeout_ms: int
    ) -> None:
        # A rerun cell shows its old count until the kernel replies, so first wait for the
        # prompt to change ("[*]:" while running), then for the new count.
        _expect(prompt).not_to_have_text(previous_prompt, timeout=timeout_ms)
        _expect(prompt).to_have_text(_EXECUTED_PROMPT, timeout=timeout_ms)

    def wait_for_output(self, index: int, text: str, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """Wait until the output of cell `index` contains `text`."""
        _expect(self.output(index)).to_contain_text(text, timeout=timeout_ms)

    def save(self, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """Press Ctrl+S (Cmd+S on macOS) and wait until the server has stored the notebook.

        The keys go to whatever has the focus, as they would for a user. In JupyterLab 4.6
        and Notebook 7.6 the shortcut also works from a focused ipywidgets text input.
        """
        contents_path = f"/api/contents/{quote(self.name)}.ipynb"

        def is_save(response: Response) -> bool:
            request = response.request
            return request.method == "PUT" and response.url.split("?")[0].endswith(contents_path)

        with self.page.expect_response(is_save, timeout=timeout_ms) as response_info:
            self.page.keyboard.press("ControlOrMeta+s")
        response = response_info.value
        if not response.ok:
            raise AssertionError(
                f"saving {self.name}.ipynb failed with HTTP {response.status}: {response.text()}"
            )

    def read_saved(self) -> nbformat.NotebookNode:
        """Read the notebook file as the server last saved it."""
        return read_notebook(self.path)

    def screenshot(self, path: Path) -> Path:
        """Save a full-page PNG screenshot to `path` and return the path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_notebook(page: Page, server: JupyterServer, frontend: Frontend, name: str) -> NotebookPage:
    """Open `name`.ipynb from the server root in `frontend` and wait for an idle kernel."""
    notebook = NotebookPage(page, server, frontend, name)
    notebook.open()
    return notebook


def settle_widget_sync(page: Page, milliseconds: int = 500) -> None:
    """Give the widget manager time to send the last keystrokes' value to the kernel.

    ipywidgets buffers a model's updates while the kernel is busy, and a click on another
    widget (a button) is not held behind them, so a click right after fast typing can reach
    the kernel before the field's final value. A person types slowly enough that this does
    not happen; the tests type at machine speed.
    """
    page.wait_for_timeout(milliseconds)
