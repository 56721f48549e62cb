"""The notebooks in notebooks/ executed in a real kernel with nbclient, offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from vulncheck_magic.demo import DEMO_TOKEN

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Execute ``notebooks/NAME.ipynb`` in a fresh kernel with no token in the environment."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return execute_notebook(notebook, tmp_path, monkeypatch)


def execute_notebook(
    notebook: nbformat.NotebookNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    """Execute ``notebook`` in place in a fresh kernel with no token in the environment."""
    monkeypatch.delenv("VULNCHECK_API_TOKEN", raising=False)
    monkeypatch.delenv("VULNCHECK_API_URL", raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
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


def assert_no_errors(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output.output_type != "error", f"{cell.source}\n{output.get('evalue')}"


def has_png(cell: nbformat.NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


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


# Notebooks that the tests do not execute, with the reason.
NOT_EXECUTED = {
    "real-api": "needs a VulnCheck API token and network access to api.vulncheck.com",
}

# What a VulnCheck or demo token, a bearer header or a token query parameter looks like.
TOKEN_LIKE = re.compile(
    r"vulncheck_[A-Za-z0-9_]{16,}|\b[0-9a-f]{32,}\b|Bearer\s+\w|[?&]token=\w", re.IGNORECASE
)


def test_every_notebook_is_executed_or_listed() -> None:
    tests = Path(__file__).read_text(encoding="utf-8")
    for path in NOTEBOOKS.glob("*.ipynb"):
        executed = f'execute("{path.stem}"' in tests
        assert executed or path.stem in NOT_EXECUTED, f"no test executes {path.name}"


def test_kev_exploration_plots_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = execute("kev-exploration", tmp_path, monkeypatch)

    assert_no_errors(notebook)
    plot_cells = [cell for cell in notebook.cells if "plt.show()" in cell.source]
    assert len(plot_cells) == 5
    for cell in plot_cells:
        assert has_png(cell), f"no image/png output in:\n{cell.source}"
    paging = outputs_text(cell_with(notebook, "kev = %vulncheck index cisa-kev --all"))
    assert "'rows': 1404" in paging
    assert "'complete': True" in paging
    assert "have known ransomware use" in outputs_text(cell_with(notebook, "ransomware = "))
    microsoft = outputs_text(cell_with(notebook, 'microsoft = kev["vendorProject"]'))
    assert "SharePoint" in microsoft
    assert DEMO_TOKEN not in json.dumps(notebook)


def test_teaching_solution_cells_hidden() -> None:
    notebook = nbformat.read(NOTEBOOKS / "teaching.ipynb", as_version=4)

    solutions = [cell for cell in notebook.cells if "solution" in cell.metadata.get("tags", [])]
    assert len(solutions) == 6
    for cell in solutions:
        assert cell.cell_type == "code"
        assert cell.metadata["jupyter"]["source_hidden"] is True
        assert "expected[" in cell.source
        # Both frontends show the first line of a hidden input.
        first_line = cell.source.splitlines()[0]
        assert first_line == "# Solution: expand this cell only when you are stuck."
    answers = [cell for cell in notebook.cells if cell.source.endswith(" = ...")]
    assert len(answers) == 6


def test_teaching_runs_with_solutions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VULNCHECK_FILL_IN_SOLUTIONS", "1")
    notebook = execute("teaching", tmp_path, monkeypatch)

    assert_no_errors(notebook)
    for number in range(1, 7):
        output = outputs_text(cell_with(notebook, f'check("q{number}"'))
        assert f"q{number}: correct" in output


def test_teaching_checks_student_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VULNCHECK_FILL_IN_SOLUTIONS", raising=False)
    notebook = nbformat.read(NOTEBOOKS / "teaching.ipynb", as_version=4)
    # Student answers: two computed another way than the solutions, one in another order,
    # a wrong one, and q3 left as it is.
    student_answers = {
        "q1": (
            'in_2023 = kev["date_added"].between("2023-01-01", "2023-12-31 23:59")\n'
            'answer_q1 = kev.loc[in_2023, "vendorProject"].mode()[0]'
        ),
        "q2": "answer_q2 = -1",
        "q4": (
            "raw = %vulncheck index nist-nvd2 --limit 100 --raw\n"
            "def score(record):\n"
            '    items = record.get("metrics", {}).get("cvssMetricV31", [])\n'
            '    items = [i for i in items if i["type"] == "Primary"] or items\n'
            '    return items[0]["cvssData"]["baseScore"] if items else 0.0\n'
            'best = max(score(record) for record in raw["data"])\n'
            'answer_q4 = tuple(r["id"] for r in reversed(raw["data"]) if score(r) == best)'
        ),
        "q6": (
            'monthly = kev.set_index("date_added").resample("MS").size()\n'
            'answer_q6 = monthly.iloc[1:].idxmax().strftime("%Y-%m")'
        ),
    }
    for cell in notebook.cells:
        for name, source in student_answers.items():
            if cell.source.endswith(f"answer_{name} = ..."):
                cell.source = source
    execute_notebook(notebook, tmp_path, monkeypatch)

    assert_no_errors(notebook)
    assert "q1: correct" in outputs_text(cell_with(notebook, 'check("q1"'))
    assert "q2: not yet, -1 is not the expected answer" in outputs_text(
        cell_with(notebook, 'check("q2"')
    )
    assert "q3: no answer yet" in outputs_text(cell_with(notebook, 'check("q3"'))
    assert "q4: correct" in outputs_text(cell_with(notebook, 'check("q4"'))
    assert "q6: correct" in outputs_text(cell_with(notebook, 'check("q6"'))


def test_real_api_notebook_is_clean() -> None:
    path = NOTEBOOKS / "real-api.ipynb"
    notebook = nbformat.read(path, as_version=4)

    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert "needs a VulnCheck API token and network access" in first.source
    assert "%vulncheck demo" not in "\n".join(cell.source for cell in notebook.cells)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
    text = path.read_text(encoding="utf-8")
    assert TOKEN_LIKE.findall(text) == []
    assert DEMO_TOKEN not in text


def test_token_pattern_matches_tokens() -> None:
    assert TOKEN_LIKE.search(DEMO_TOKEN)
    assert TOKEN_LIKE.search("Authorization: Bearer abc")
    assert TOKEN_LIKE.search("https://api.vulncheck.com/v3/index?token=abc")
    assert not TOKEN_LIKE.search("VULNCHECK_API_TOKEN and %vulncheck login --prompt")


@pytest.mark.skip(reason=NOT_EXECUTED["real-api"])
def test_real_api_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    execute("real-api", tmp_path, monkeypatch)


def test_research_report_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    notebook = execute("research-report", tmp_path, monkeypatch)

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", cell.source
    excel = pd.read_excel(tmp_path / "report.xlsx")
    assert excel["cve"].iloc[0] == "CVE-2021-44228"
    assert excel["nvd_cvss_score"].iloc[0] == 10.0
    assert excel["nvd_cvss_score"].dropna().is_monotonic_decreasing
    assert excel["cve"].tolist()[-1] == "CVE-2099-0001"
    assert len(excel) == 9
    assert bool(excel.set_index("cve").loc["CVE-2021-44228", "kev_ransomware"])
    assert (tmp_path / "report.csv").exists()
    assert (tmp_path / "report.parquet").exists()
    assert DEMO_TOKEN not in json.dumps(notebook)
