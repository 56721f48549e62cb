"""Write the notebooks in ``notebooks/`` from the cell lists below, without outputs.

Run ``python scripts/make_notebooks.py`` after changing a cell list. Keeping the cells here
keeps notebook diffs readable and the stored notebooks free of outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

QUICKSTART: list[tuple[str, str]] = [
    (
        "markdown",
        "# vulncheck-magic quickstart\n\n"
        "Query the VulnCheck API from a notebook and get pandas DataFrames back. This "
        "notebook runs offline: `%vulncheck demo` starts an embedded demo API on 127.0.0.1 "
        "with the real CISA KEV catalog and real NIST NVD records, so no token and no network "
        "are needed.",
    ),
    ("code", "%load_ext vulncheck_magic"),
    ("code", "%vulncheck demo"),
    ("markdown", "## What can this token read?"),
    ("code", "%vulncheck indexes"),
    (
        "markdown",
        "## Log4Shell in the KEV list, once per auth mode\n\n"
        "The token travels in the `Authorization: Bearer` header by default. `--auth query` "
        "sends it as a `token` query parameter and `--auth cookie` as a cookie named `token`. "
        '`%config VulnCheckMagic.auth_mode = "cookie"` changes the default for the session.',
    ),
    ("code", "%vulncheck index vulncheck-kev --cve CVE-2021-44228"),
    ("code", "%vulncheck index vulncheck-kev --cve CVE-2021-44228 --auth query"),
    ("code", "%vulncheck index vulncheck-kev --cve CVE-2021-44228 --auth cookie"),
    (
        "markdown",
        '## Provenance\n\nEvery frame records where it came from in `df.attrs["vulncheck"]`: '
        "endpoint, parameters (never the token), the whole `_meta`, `_benchmark` and the time "
        "it was fetched.",
    ),
    (
        "code",
        "log4shell = %vulncheck index nist-nvd2 --cve CVE-2021-44228\n"
        'cvss31 = log4shell.loc[0, "metrics.cvssMetricV31"][0]["cvssData"]\n'
        'log4shell.attrs["vulncheck"]["meta"]["total_documents"], cvss31["baseScore"], '
        'cvss31["vectorString"]',
    ),
    (
        "markdown",
        "## Paging through the CISA KEV catalog\n\n"
        "Offset paging: page 3 of 100 records holds catalog rows 201 to 300. Offset paging "
        "stops at `_meta.max_pages` (6); cursor paging goes on from there.",
    ),
    (
        "code",
        "page3 = %vulncheck index cisa-kev --limit 100 --page 3\n"
        'page3[["cve", "vendorProject", "product", "date_added"]].head()',
    ),
    (
        "code",
        "import pandas as pd\n\n"
        "first = %vulncheck index cisa-kev --start_cursor --limit 500\n"
        "pages = [first]\n"
        'cursor = first.attrs["vulncheck"]["meta"]["next_cursor"]\n'
        "while cursor:\n"
        "    page = %vulncheck index cisa-kev --cursor $cursor --limit 500\n"
        "    pages.append(page)\n"
        '    cursor = page.attrs["vulncheck"]["meta"]["next_cursor"]\n'
        "catalog = pd.concat(pages, ignore_index=True)\n"
        "len(pages), len(catalog)",
    ),
    ("code", 'catalog["vendorProject"].value_counts().head(10)'),
    ("markdown", "## Session status\n\nThe token is always shown masked."),
    ("code", "%vulncheck status"),
    ("code", "%vulncheck demo --stop"),
]


API_TOUR: list[tuple[str, str]] = [
    (
        "markdown",
        "# A tour of every %vulncheck command\n\n"
        "Each cell runs offline against the embedded demo API. The demo serves real CISA KEV "
        "and NVD records; values it has to invent (C2 addresses, rules, research attributes) "
        "are marked and use documentation addresses only.",
    ),
    ("code", "%load_ext vulncheck_magic\n%vulncheck demo"),
    ("markdown", "## Indexes and index queries"),
    ("code", "%vulncheck indexes --search kev"),
    (
        "code",
        "%vulncheck index nist-nvd2 --cve CVE-2021-44228 --explode references --columns id,references.url,references.source",
    ),
    (
        "code",
        'kev = %vulncheck index vulncheck-kev --all --limit 500\nkev.attrs["vulncheck"]["paging"]',
    ),
    ("markdown", "## Batch lookups: one value per line"),
    (
        "code",
        "%%vulncheck index vulncheck-kev --cve\nCVE-2021-44228\nCVE-2023-4966\nCVE-2024-3400\nCVE-1999-0001   # not in KEV: no row",
    ),
    ("markdown", "## Backups"),
    ("code", "%vulncheck backups"),
    ("code", "%vulncheck backup cisa-kev --columns filename,sha256,date_added"),
    (
        "code",
        "%vulncheck backup vulncheck-kev --load --max-rows 5 --columns cve,vendorProject,product",
    ),
    (
        "code",
        "import tempfile\n\n"
        "folder = tempfile.mkdtemp()\n"
        "%vulncheck backup nist-nvd2 --download $folder",
    ),
    ("markdown", "## Packages and CPEs"),
    ("code", "%vulncheck purl pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
    (
        "code",
        "%%vulncheck purls\npkg:maven/org.apache.logging.log4j/log4j-core@2.14.1\npkg:hex/coherence@0.1.2",
    ),
    ("code", "%vulncheck cpe cpe:2.3:a:apache:log4j:2.14.1 --vulnerable"),
    ("code", "%vulncheck search cpe --vendor apache --product log4j --columns cpe,cves"),
    ("code", "%vulncheck search cve CVE-2021-44228 --columns id,index,score"),
    ("markdown", "## C2 lists, rules, entitlements and any other endpoint"),
    ("code", "%vulncheck tags"),
    ("code", "%vulncheck pdns"),
    ("code", "%vulncheck rules snort"),
    ("code", "%vulncheck entitlements"),
    ("code", "%vulncheck get /v3/openapi --columns openapi,info.title"),
    ("code", "%vulncheck demo --stop"),
]


def write_notebook(name: str, cells: list[tuple[str, str]]) -> None:
    """Write ``notebooks/NAME.ipynb`` with the given (kind, source) cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        if kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            notebook.cells.append(nbformat.v4.new_code_cell(source))
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name}-{index:02d}"
    nbformat.validate(notebook)
    NOTEBOOKS.mkdir(exist_ok=True)
    nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")


def main() -> None:
    write_notebook("quickstart", QUICKSTART)
    write_notebook("api-tour", API_TOUR)


if __name__ == "__main__":
    main()
