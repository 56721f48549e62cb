"""Fixtures for tests that drive JupyterLab 4 and Notebook 7 in headless Chromium.

One Jupyter server and one Chromium process serve the whole session, and each test gets
a fresh browser context (no cookies or storage from earlier tests). Where Chromium,
Playwright or the Jupyter frontends are missing the tests skip, unless the CI variable is
set: CI must run them, so there they fail.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .jupyter import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    DEFAULT_TIMEOUT_MS,
    JupyterServer,
    PageActivity,
    start_jupyter_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

_FAILURE_LOG_LINES = 80


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; the CI variable is set, so the browser tests must run")
    pytest.skip(reason)


def _missing_modules(*names: str) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="session")
def browser_test_requirements() -> None:
    """Skip, or under CI fail, before anything starts if a browser-test requirement is missing."""
    missing = _missing_modules("playwright", "jupyterlab", "notebook", "ipykernel", "ipywidgets")
    if missing:
        _skip_or_fail(
            f"Python packages {', '.join(missing)} are not installed; "
            "install the project's test extra"
        )
    if not CHROMIUM_PATH.exists():
        _skip_or_fail(f"{CHROMIUM_PATH} not found; run .ci/install-browser")


@pytest.fixture(scope="session")
def jupyter_server(
    browser_test_requirements: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    """A Jupyter server on 127.0.0.1 serving JupyterLab and Notebook 7, shared by the session."""
    server = start_jupyter_server(tmp_path_factory.mktemp("jupyter"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium(browser_test_requirements: None) -> Iterator[Browser]:
    """Debian's headless Chromium launched through Playwright, shared by the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives Chromium a fresh temporary user-data directory and deletes it on close.
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_activity(jupyter_server: JupyterServer) -> PageActivity:
    """The console messages and off-host requests of the test's browser page."""
    return PageActivity(base_url=jupyter_server.base_url)


@pytest.fixture
def browser_page(chromium: Browser, page_activity: PageActivity) -> Iterator[Page]:
    """A page in a fresh browser context.

    The test errors at teardown if the page requested any URL outside the test's Jupyter
    server. Chromium's resolver rule (see CHROMIUM_ARGS) makes such requests fail, so
    this check is what reports them.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page_activity.attach(page)
    try:
        yield page
    finally:
        context.close()

    if page_activity.off_host_requests:
        pytest.fail(
            "the page requested URLs outside the test's Jupyter server:\n"
            + "\n".join(page_activity.off_host_requests)
        )


def _attach_screenshot(report: pytest.TestReport, item: pytest.Item, page: Page) -> None:
    cache = item.config.cache
    if page.is_closed() or cache is None:
        return
    name = re.sub(r"[^\w.-]+", "_", item.nodeid)
    screenshot = Path(cache.mkdir("browser-screenshots")) / f"{name}.png"
    try:
        page.screenshot(path=str(screenshot), full_page=True)
    except Exception as error:  # the report must still show the test's own failure
        report.sections.append(("screenshot", f"screenshot failed: {error}"))
    else:
        report.sections.append(("screenshot", str(screenshot)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Attach a screenshot, the browser console and the server log to a failed test.

    Screenshots go to .pytest_cache/d/browser-screenshots/, one per failed test.
    """
    report = yield
    if report.when != "call" or not report.failed:
        return report

    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    page = funcargs.get("browser_page")
    if page is not None:
        _attach_screenshot(report, item, page)

    activity = funcargs.get("page_activity")
    if activity is not None and activity.console:
        report.sections.append(
            ("browser console", "\n".join(activity.console[-_FAILURE_LOG_LINES:]))
        )

    server = funcargs.get("jupyter_server")
    if server is not None:
        report.sections.append(
            (f"Jupyter server log ({server.log_path})", server.log_tail(_FAILURE_LOG_LINES))
        )
    return report
