"""The token appears in nothing that is shown, logged, saved or kept, in every auth mode.

Each test goes through a successful login, a failed login, a query and failing queries.
Then it searches every place a token could leak: cell output and display data, exception
texts and tracebacks with their chains, log records at DEBUG, reprs and ``df.attrs``. The
ipywidgets manager state, IPython's history and a notebook saved by nbclient with its widget
state are searched too.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from types import SimpleNamespace

import ipywidgets as widgets
import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient

from vulncheck_magic import VulnCheckError
from vulncheck_magic.demo import DemoServer

from .conftest import SECRET_TOKEN, CellResult, run_cell

WRONG_TOKEN = "vulncheck_rejected0token0abcdef0123456789abcdef00"
MODES = ["header", "query", "cookie"]


def error_texts(error: BaseException | None, shell: InteractiveShell) -> list[str]:
    """str, repr, Python's formatted traceback and IPython's, in plain and verbose modes."""
    if error is None:
        return []
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for mode in ("Context", "Verbose"):
        shell.InteractiveTB.set_mode(mode)
        structured = shell.InteractiveTB.structured_traceback(
            type(error), error, error.__traceback__
        )
        texts.append(shell.InteractiveTB.stb2text(structured))
    shell.InteractiveTB.set_mode("Context")
    chained = error.__cause__ or error.__context__
    while chained is not None:
        texts += [str(chained), repr(chained)]
        chained = chained.__cause__ or chained.__context__
    return texts


def history_text(shell: InteractiveShell) -> str:
    """Every input and output IPython's history kept in this session."""
    manager = shell.history_manager
    inputs = [str(entry) for entry in manager.get_range(output=True)]
    outputs = repr(shell.user_ns.get("Out", {}))
    return "\n".join([*inputs, outputs, repr(manager.input_hist_raw)])


@pytest.mark.parametrize("mode", MODES)
def test_no_leak_through_magic_session(
    shell: InteractiveShell,
    demo_server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    monkeypatch.setattr(shell, "kernel", SimpleNamespace(_allow_stdin=True), raising=False)
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    run_cell(shell, "%config VulnCheckMagic.max_retries = 0")
    cells: list[CellResult] = [run_cell(shell, f"%vulncheck login --auth {mode}")]
    magics = shell.magics_manager.registry["VulnCheckMagic"]
    form = magics.login_form
    assert form is not None

    form.token_field.value = WRONG_TOKEN
    form.click_login()
    failed_status = form.status
    form.token_field.value = SECRET_TOKEN
    form.click_login()
    assert form.status.startswith("Logged in"), form.status

    cells.append(run_cell(shell, "df = %vulncheck index vulncheck-kev --cve CVE-2021-44228"))
    cells.append(run_cell(shell, "%vulncheck index cisa-kev --limit 2"))
    cells.append(run_cell(shell, "%vulncheck index exploits"))
    cells.append(run_cell(shell, "%vulncheck index cisa-kev --page 7"))
    cells.append(run_cell(shell, "%vulncheck status"))
    monkeypatch.setattr(magics.client, "base_url", "http://127.0.0.1:9")
    cells.append(run_cell(shell, "%vulncheck indexes"))
    monkeypatch.undo()

    failures = [cell.error for cell in cells if cell.error is not None]
    assert len(failures) == 3
    assert all(isinstance(error, VulnCheckError) for error in failures)
    frame = shell.user_ns["df"]
    assert len(frame) == 1

    places = {
        "cell output": "\n".join(cell.text for cell in cells),
        "form status": failed_status + form.status,
        "exceptions": "\n".join(text for error in failures for text in error_texts(error, shell)),
        "log records": "\n".join(
            record.getMessage() + repr(record.args) for record in debug_log.records
        ),
        "reprs": repr(magics.client) + repr(magics.token_store) + repr(form),
        "df.attrs": repr(frame.attrs) + json.dumps(frame.attrs, default=str),
        "widget state": json.dumps(widgets.Widget.get_manager_state()),
        "history": history_text(shell),
    }
    assert debug_log.records, "the DEBUG logger recorded nothing"
    for place, text in places.items():
        assert SECRET_TOKEN not in text, f"token found in {place}"
        assert WRONG_TOKEN not in text, f"rejected token found in {place}"
    assert min(record.levelno for record in debug_log.records) == logging.DEBUG


NOTEBOOK_CELLS = [
    "%load_ext vulncheck_magic",
    "import os\n"
    "from vulncheck_magic._auth import get_token_store\n"
    "from vulncheck_magic._login_form import LoginForm\n"
    "magics = get_ipython()._vulncheck_magic_state['magics']\n"
    "magics.base_url = os.environ['LEAK_TEST_API_URL']",
    # The notebook cannot type into the form, so each cell sets the field from an
    # environment variable, as the frontend would, and presses Log in.
    "forms, statuses = [], []\n"
    "for mode in ('header', 'query', 'cookie'):\n"
    "    form = LoginForm(magics.client, get_token_store(), auth_mode=mode,\n"
    "                     on_auth_mode=lambda m: setattr(magics, 'auth_mode', m.value))\n"
    "    form.token_field.value = os.environ['LEAK_TEST_WRONG']\n"
    "    form.click_login()\n"
    "    statuses.append(form.status)\n"
    "    form.token_field.value = os.environ['LEAK_TEST_TOKEN']\n"
    "    form.click_login()\n"
    "    statuses.append(form.status)\n"
    "    forms.append(form)\n"
    "    display(form)\n"
    "statuses",
    "results = {}\n"
    "for mode in ('header', 'query', 'cookie'):\n"
    "    results[mode] = %vulncheck index vulncheck-kev --cve CVE-2021-44228 --auth $mode\n"
    "{mode: frame.attrs['vulncheck'] for mode, frame in results.items()}",
    "%vulncheck index exploits --auth query",
]


def test_no_leak_in_saved_notebook(
    demo_server: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAK_TEST_API_URL", demo_server.url)
    monkeypatch.setenv("LEAK_TEST_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("LEAK_TEST_WRONG", WRONG_TOKEN)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        store_widget_state=True,
        resources={"metadata": {"path": tmp_path}},
    )
    client.execute()
    saved = tmp_path / "executed.ipynb"
    nbformat.write(notebook, saved)
    text = saved.read_text(encoding="utf-8")

    statuses = json.dumps(notebook.cells[2].outputs)
    assert statuses.count("Logged in, 3 indexes available") == 3
    assert statuses.count("Token rejected (401)") == 3
    assert "NotFoundError: HTTP 404" in json.dumps(notebook.cells[4].outputs)
    assert "application/vnd.jupyter.widget-state+json" in notebook.metadata["widgets"]
    assert SECRET_TOKEN not in text
    assert WRONG_TOKEN not in text


@pytest.mark.parametrize("mode", MODES)
def test_no_leak_through_newer_paths(
    shell: InteractiveShell,
    demo_server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
    tmp_path: Path,
    mode: str,
) -> None:
    """Batch cells, enrich, the cache, exports, summaries and dry runs keep the token out."""
    monkeypatch.setenv("VULNCHECK_API_TOKEN", SECRET_TOKEN)
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    run_cell(shell, f"%config VulnCheckMagic.auth_mode = '{mode}'")
    exported = tmp_path / "report.parquet"
    cells = [
        run_cell(shell, "%vulncheck index cisa-kev --limit 3"),
        run_cell(shell, "%vulncheck index cisa-kev --limit 3"),
        run_cell(shell, "%%vulncheck index cisa-kev -o batch --cve\nCVE-2021-44228\nnot-a-cve"),
        run_cell(shell, "%%vulncheck search cve\nCVE-2021-44228"),
        run_cell(
            shell,
            f"%%vulncheck enrich --with kev,exploits --export {exported}\nCVE-2021-44228",
        ),
        run_cell(shell, "%vulncheck index cisa-kev --limit 1 --dry-run"),
    ]
    magics = shell.magics_manager.registry["VulnCheckMagic"]
    enriched = cells[4].result
    batch = shell.user_ns.pop("batch")

    assert cells[1].result.attrs["vulncheck"]["cached"] is True
    assert "enrich_error" in enriched.columns
    assert "error" in batch.columns
    places = {
        "cell output": "\n".join(cell.text for cell in cells),
        "cache keys": repr(list(magics.client.frame_cache._entries.keys())),
        "batch frame": batch.to_string() + repr(batch.attrs),
        "enriched frame": enriched.to_string() + repr(enriched.attrs),
        "exported file": exported.read_bytes().decode("latin-1"),
        "log records": debug_log.text,
    }
    for place, text in places.items():
        assert SECRET_TOKEN not in text, f"token found in {place}"
