"""Prove the browser harness on a plain ipywidgets notebook in JupyterLab and Notebook 7."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .jupyter import (
    FRONTENDS,
    Frontend,
    JupyterServer,
    PageActivity,
    open_notebook,
    settle_widget_sync,
    write_notebook,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

WIDGET_CELL = (
    'import ipywidgets as w; t = w.Password(description="Token"); '
    'b = w.Button(description="Go"); o = w.Label(); '
    'b.on_click(lambda _: setattr(o, "value", "clicked " + str(len(t.value)))); '
    "w.VBox([t, b, o])"
)

# JupyterLab setting behind Settings > "Save Widget State Automatically" (off by default).
SAVE_WIDGET_STATE_SETTINGS = "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings"

FRAME_CELL = (
    "import pandas as pd\n"
    'pd.DataFrame({"cve": ["CVE-2021-44228"], "cvss": [10.0], "kev_days": [46127]})'
)


@pytest.mark.browser
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_password_not_saved(
    frontend: Frontend,
    jupyter_server: JupyterServer,
    browser_page: Page,
    page_activity: PageActivity,
    tmp_path: Path,
) -> None:
    name = f"harness-{frontend}"
    write_notebook(jupyter_server.root_dir, name, [WIDGET_CELL, FRAME_CELL])
    notebook = open_notebook(browser_page, jupyter_server, frontend, name)
    secret = "typed-" + secrets.token_hex(8)

    notebook.run_all()
    notebook.wait_for_output(1, "CVE-2021-44228")

    password = notebook.output_element(0, "input[type=password]")
    password.press_sequentially(secret)
    settle_widget_sync(browser_page)
    notebook.output(0).get_by_role("button", name="Go").click()
    notebook.wait_for_output(0, f"clicked {len(secret)}")

    # A second run of an executed cell must wait for the new count, not the old one.
    notebook.run_cell(1)
    notebook.wait_for_output(1, "46127")
    notebook.wait_for_kernel_idle()

    screenshot = notebook.screenshot(tmp_path / f"{name}.png")
    notebook.save()
    saved_text = notebook.path.read_text(encoding="utf-8")
    saved = notebook.read_saved()

    assert secret not in saved_text
    assert saved.cells[0].source == WIDGET_CELL
    assert saved.cells[0].outputs, "the widget cell was saved without its output"
    assert saved.cells[1].execution_count == 3
    assert "46127" in saved.cells[1].outputs[0].data["text/plain"]
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert page_activity.off_host_requests == []


@pytest.mark.browser
def test_saved_widget_state_detected(jupyter_server: JupyterServer, browser_page: Page) -> None:
    """Check that the saved-file check can fail: with "Save Widget State Automatically" on,
    ipywidgets 8 stores the Password value in the notebook metadata.
    """
    name = "harness-widget-state"
    write_notebook(jupyter_server.root_dir, name, [WIDGET_CELL])
    secret = "typed-" + secrets.token_hex(8)

    with jupyter_server.user_settings(SAVE_WIDGET_STATE_SETTINGS, {"saveState": True}):
        notebook = open_notebook(browser_page, jupyter_server, "lab", name)
        notebook.run_cell(0)
        notebook.output_element(0, "input[type=password]").press_sequentially(secret)
        settle_widget_sync(browser_page)
        notebook.output(0).get_by_role("button", name="Go").click()
        notebook.wait_for_output(0, f"clicked {len(secret)}")
        notebook.save()

    saved = notebook.read_saved()
    assert "widgets" in saved.metadata
    assert secret in notebook.path.read_text(encoding="utf-8"), (
        "ipywidgets no longer saves the Password value with the widget state; "
        "this test then no longer shows that the saved-file check can fail"
    )
