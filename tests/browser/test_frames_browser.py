"""A query frame and a matplotlib plot in a real browser: JupyterLab 4 and Notebook 7."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .jupyter import (
    FRONTENDS,
    Frontend,
    JupyterServer,
    PageActivity,
    open_notebook,
    write_notebook,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

CELLS = [
    "%load_ext vulncheck_magic",
    "%vulncheck demo",
    "%vulncheck index vulncheck-kev --cve CVE-2021-44228 --columns cve,vendorProject,product",
    (
        "%matplotlib inline\n"
        "import matplotlib.pyplot as plt\n\n"
        "kev = %vulncheck index cisa-kev --limit 500\n"
        'ax = kev["vendorProject"].value_counts().head(10).sort_values().plot.barh()\n'
        "plt.show()"
    ),
]
DEMO_CELL = 1
QUERY_CELL = 2
PLOT_CELL = 3

# The README's screenshot of a result; refreshed when VULNCHECK_UPDATE_SCREENSHOTS is set.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "query-result.png"


@pytest.mark.browser
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_frame_and_plot_render(
    frontend: Frontend,
    jupyter_server: JupyterServer,
    browser_page: Page,
    page_activity: PageActivity,
) -> None:
    name = f"frames-{frontend}"
    write_notebook(jupyter_server.root_dir, name, CELLS)
    notebook = open_notebook(browser_page, jupyter_server, frontend, name)

    notebook.run_all()
    notebook.wait_for_output(DEMO_CELL, "Demo API running")
    notebook.wait_for_output(QUERY_CELL, "Log4j2")
    row = notebook.output_element(QUERY_CELL, "table tbody tr")
    assert row.count() == 1
    row_text = row.inner_text()
    assert "CVE-2021-44228" in row_text
    assert "Apache" in row_text
    assert "Log4j2" in row_text
    notebook.wait_for_output(QUERY_CELL, "vulncheck-kev: 1 row of 1 document")
    if frontend == "lab" and os.environ.get("VULNCHECK_UPDATE_SCREENSHOTS"):
        notebook.cell(QUERY_CELL).screenshot(path=str(SCREENSHOT))

    image = notebook.output_element(PLOT_CELL, "img")
    image.wait_for(state="visible")
    assert image.count() == 1
    assert (image.get_attribute("src") or "").startswith("data:image/png;base64,")
    # A decoded image has a natural width, and a broken one has width 0.
    assert image.evaluate("element => element.naturalWidth") > 100
    assert page_activity.off_host_requests == []
