"""The notebooks in notebooks/ executed in a real kernel with nbclient, offline."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from vulncheck_magic.demo import DEMO_TOKEN

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Execute ``notebooks/NAME.ipynb`` in a fresh kernel with no token in the environment."""
    monkeypatch.delenv("VULNCHECK_API_TOKEN", raising=False)
    monkeypatch.delenv("VULNCHECK_API_URL", raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    return notebook


def outputs_text(cell: nbformat.NotebookNode) -> str:
    """Every text and HTML output of a code cell."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        for mime in ("text/plain", "text/html"):
            parts.append(output.get("data", {}).get(mime, ""))
    return "\n".join(parts)


def cell_with(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The first code cell whose source contains ``source``."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and source in cell.source:
            return cell
    raise AssertionError(f"no cell contains {source!r}")


def test_stored_notebooks_have_no_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name} has stored outputs"
                assert cell.execution_count is None, f"{path.name} has execution counts"


def test_quickstart_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = execute("quickstart", tmp_path, monkeypatch)

    log4shell_cells = [
        cell
        for cell in notebook.cells
        if cell.source.startswith("%vulncheck index vulncheck-kev --cve CVE-2021-44228")
    ]
    assert len(log4shell_cells) == 3
    for cell in log4shell_cells:
        assert "Log4j2" in outputs_text(cell)
    paging = outputs_text(cell_with(notebook, "while cursor:"))
    assert "(3, 1404)" in paging
    status = outputs_text(cell_with(notebook, "%vulncheck status"))
    assert "(demo token)" in status
    saved = json.dumps(notebook)
    assert DEMO_TOKEN not in saved


def test_api_tour_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = execute("api-tour", tmp_path, monkeypatch)

    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output.output_type != "error", cell.source
    batch = outputs_text(cell_with(notebook, "%%vulncheck index vulncheck-kev --cve"))
    assert "CVE-2023-4966" in batch
    purl = outputs_text(cell_with(notebook, "%vulncheck purl "))
    assert "CVE-2021-44228" in purl
    assert DEMO_TOKEN not in json.dumps(notebook)
