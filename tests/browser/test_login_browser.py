"""The login form in a real browser: JupyterLab 4 and Notebook 7 in headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vulncheck_magic.demo import DEMO_TOKEN

from .jupyter import (
    FRONTENDS,
    Frontend,
    JupyterServer,
    NotebookPage,
    PageActivity,
    open_notebook,
    settle_widget_sync,
    write_notebook,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

CELLS = [
    "%load_ext vulncheck_magic",
    "%vulncheck demo",
    "%vulncheck login --auth cookie",
    "%vulncheck index vulncheck-kev --cve CVE-2021-44228",
    "%vulncheck logout",
]
LOGIN_CELL = 2
QUERY_CELL = 3
LOGOUT_CELL = 4

# JupyterLab setting behind Settings > "Save Widget State Automatically" (off by default).
SAVE_WIDGET_STATE_SETTINGS = "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings"

# Where the README's screenshot of the form lives; refreshed when this variable is set.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "login-form.png"


def log_in_through_form(notebook: NotebookPage) -> None:
    """Run the cells up to the form, type the demo token and press Log in."""
    for index in range(LOGIN_CELL + 1):
        notebook.run_cell(index)
    notebook.wait_for_output(1, "Demo API running")
    field = notebook.output_element(LOGIN_CELL, "input[type=password]")
    field.press_sequentially(DEMO_TOKEN)
    settle_widget_sync(notebook.page)
    notebook.output(LOGIN_CELL).get_by_role("button", name="Log in").click()
    notebook.wait_for_output(LOGIN_CELL, "Logged in, 3 indexes available")
    assert field.input_value() == ""


@pytest.mark.browser
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_login_query_logout_in_browser(
    frontend: Frontend,
    jupyter_server: JupyterServer,
    browser_page: Page,
    page_activity: PageActivity,
    tmp_path: Path,
) -> None:
    name = f"login-{frontend}"
    write_notebook(jupyter_server.root_dir, name, CELLS)
    notebook = open_notebook(browser_page, jupyter_server, frontend, name)

    log_in_through_form(notebook)
    assert "auth mode cookie" in notebook.output(LOGIN_CELL).inner_text()
    screenshot = notebook.screenshot(tmp_path / f"{name}.png")
    if frontend == "lab" and os.environ.get("VULNCHECK_UPDATE_SCREENSHOTS"):
        form = notebook.output(LOGIN_CELL)
        form.screenshot(path=str(SCREENSHOT))

    notebook.run_cell(QUERY_CELL)
    notebook.wait_for_output(QUERY_CELL, "Log4j2")
    assert "CVE-2021-44228" in notebook.output(QUERY_CELL).inner_text()
    notebook.run_cell(LOGOUT_CELL)
    notebook.wait_for_output(LOGOUT_CELL, "Logged out. No token is set now.")
    notebook.wait_for_kernel_idle()
    notebook.save()

    saved_text = notebook.path.read_text(encoding="utf-8")
    assert DEMO_TOKEN not in saved_text
    assert "Log4j2" in saved_text
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert page_activity.off_host_requests == []


@pytest.mark.browser
def test_saved_widget_state_has_no_token(
    jupyter_server: JupyterServer, browser_page: Page, tmp_path: Path
) -> None:
    """With "Save Widget State Automatically" on, a plain Password widget's value is saved
    (the harness tests show that); the login form's blanked field keeps the token out.
    """
    name = "login-widget-state"
    write_notebook(jupyter_server.root_dir, name, CELLS)
    with jupyter_server.user_settings(SAVE_WIDGET_STATE_SETTINGS, {"saveState": True}):
        notebook = open_notebook(browser_page, jupyter_server, "lab", name)
        log_in_through_form(notebook)
        notebook.wait_for_kernel_idle()
        notebook.save()

    saved = notebook.read_saved()
    assert "widgets" in saved.metadata
    saved_text = notebook.path.read_text(encoding="utf-8")
    assert "Logged in, 3 indexes available" in saved_text
    assert DEMO_TOKEN not in saved_text
    shutil.copy(notebook.path, tmp_path / "saved.ipynb")
