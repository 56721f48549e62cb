"""Write the notebooks in ``notebooks/`` from the cell lists below, without outputs.

Run ``python scripts/make_notebooks.py`` after changing a cell list. Keeping the cells here
keeps notebook diffs readable and the stored notebooks free of outputs.
"""

from __future__ import annotations

import copy
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
        'log4shell[["cve", "cvss_score", "cvss_severity", "cvss_v31_vector", "cwes"]]',
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
        "%vulncheck index nist-nvd2 --cve CVE-2021-44228 --explode references --columns cve,references.url,references.source",
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


KEV_EXPLORATION: list[tuple[str, str]] = [
    (
        "markdown",
        "# Exploring the CISA KEV catalog\n\n"
        "CISA's Known Exploited Vulnerabilities (KEV) catalog lists the vulnerabilities that "
        "attackers have exploited in the wild, with the date CISA added each one. This notebook "
        "loads the whole catalog into a pandas DataFrame and plots it with matplotlib. It runs "
        "offline: `%vulncheck demo` serves the catalog as of 2025-08-25 (1,404 entries). With a "
        "VulnCheck token, leave out `%vulncheck demo` and the same cells read the live catalog.",
    ),
    (
        "code",
        "%matplotlib inline\n"
        "import matplotlib.pyplot as plt\n"
        "from matplotlib.ticker import PercentFormatter\n\n"
        "%load_ext vulncheck_magic\n"
        "%vulncheck demo",
    ),
    (
        "markdown",
        "## The catalog as a frame\n\n"
        "`--all` follows the API's cursor from page to page and joins the pages into one frame, "
        'and `--limit 1000` sets the page size. `df.attrs["vulncheck"]["paging"]` says whether '
        "every page arrived.",
    ),
    (
        "code",
        'kev = %vulncheck index cisa-kev --all --limit 1000\nkev.attrs["vulncheck"]["paging"]',
    ),
    (
        "code",
        'kev[["cve", "vendorProject", "product", "date_added", "knownRansomwareCampaignUse", "cwes"]].head()',
    ),
    (
        "markdown",
        "## Additions per month\n\n"
        "`date_added` is a UTC datetime column, so `resample` counts the entries of each "
        "calendar month. CISA started the catalog in November 2021 with a large first batch, "
        "which is why that month stands out.",
    ),
    (
        "code",
        'per_month = kev.set_index("date_added").resample("MS").size()\n\n'
        "fig, ax = plt.subplots(figsize=(10, 3.5))\n"
        "ax.bar(per_month.index, per_month.to_numpy(), width=25)\n"
        'ax.set(title="KEV additions per month", ylabel="entries added")\n'
        "plt.show()\n"
        "per_month.nlargest(5)",
    ),
    ("markdown", "## The 15 vendors with the most entries"),
    (
        "code",
        'top_vendors = kev["vendorProject"].value_counts().head(15)\n\n'
        'ax = top_vendors.sort_values().plot.barh(figsize=(7, 5), title="KEV entries per vendor, top 15")\n'
        'ax.set(xlabel="entries", ylabel="")\n'
        "plt.show()",
    ),
    (
        "markdown",
        "## Known ransomware use\n\n"
        "`knownRansomwareCampaignUse` is `Known` when CISA knows of a ransomware campaign that "
        "used the vulnerability, and `Unknown` otherwise, which does not mean that no campaign "
        "did. CISA can change an entry to `Known` later, so the share of a year can still grow.",
    ),
    (
        "code",
        'ransomware = kev["knownRansomwareCampaignUse"].eq("Known")\n'
        'share = f"{ransomware.sum()} of {len(kev)} entries ({ransomware.mean():.1%})"\n'
        'print(share, "have known ransomware use")\n\n'
        "fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))\n"
        'kev["knownRansomwareCampaignUse"].value_counts().plot.pie(ax=left, autopct="%1.0f%%", ylabel="")\n'
        'left.set_title("All entries")\n'
        'ransomware.groupby(kev["date_added"].dt.year).mean().plot.bar(ax=right, rot=0)\n'
        'right.set(title="Share with known ransomware use", xlabel="year added")\n'
        "right.yaxis.set_major_formatter(PercentFormatter(1.0))\n"
        "plt.show()",
    ),
    (
        "markdown",
        "## Weaknesses (CWE)\n\n"
        "`cwes` holds a list per entry with no, one or several CWE ids. `explode()` gives one "
        "row per CWE, so an entry with two CWEs counts once for each, and `dropna()` removes "
        "the entries without a CWE.",
    ),
    (
        "code",
        'cwe_counts = kev["cwes"].explode().dropna().value_counts()\n\n'
        'ax = cwe_counts.head(15).sort_values().plot.barh(figsize=(7, 5), title="Most common CWEs in KEV")\n'
        'ax.set(xlabel="entries", ylabel="")\n'
        "plt.show()",
    ),
    (
        "markdown",
        "## Filtering and sorting\n\n"
        "Boolean masks select rows and `sort_values` orders them. Microsoft entries with known "
        "ransomware use, newest first:",
    ),
    (
        "code",
        'microsoft = kev["vendorProject"].eq("Microsoft")\n'
        'known = kev["knownRansomwareCampaignUse"].eq("Known")\n'
        'columns = ["cve", "product", "vulnerabilityName", "date_added"]\n'
        'kev.loc[microsoft & known, columns].sort_values("date_added", ascending=False).head(10)',
    ),
    ("markdown", "Entries added in 2024 whose description mentions deserialization, per vendor:"),
    (
        "code",
        'added_2024 = kev["date_added"].dt.year.eq(2024)\n'
        'deserialization = kev["shortDescription"].str.contains("deserializ", case=False)\n'
        'kev.loc[added_2024 & deserialization, "vendorProject"].value_counts()',
    ),
    (
        "markdown",
        "CISA gives each entry a due date, `dueDate`, by which federal civilian agencies must "
        "remediate. The deadline in days is `dueDate` minus `date_added`. The most common "
        "deadlines:",
    ),
    (
        "code",
        'deadline = (kev["dueDate"] - kev["date_added"]).dt.days\ndeadline.value_counts().head()',
    ),
    (
        "markdown",
        "Some entries of the first batch have due dates before the catalog existed, so "
        "`query` keeps the positive deadlines. The shortest:",
    ),
    (
        "code",
        'columns = ["cve", "vendorProject", "product", "date_added", "days_to_remediate"]\n'
        "with_deadline = kev.assign(days_to_remediate=deadline)\n"
        'positive = with_deadline.query("days_to_remediate > 0")\n'
        'positive.nsmallest(10, "days_to_remediate")[columns]',
    ),
    (
        "markdown",
        "## CVE years\n\n"
        "`explode()` turns a list of CVE ids into one row per id and leaves a single id as it "
        "is, so this cell works whether `cve` holds lists or strings. The year in a CVE id is "
        "usually the year the id was reserved or the vulnerability became public, and many "
        "entries are years older than the catalog.",
    ),
    (
        "code",
        'cve_year = kev["cve"].explode().str.slice(4, 8).astype(int)\n\n'
        "ax = cve_year.value_counts().sort_index().plot.bar(figsize=(10, 3))\n"
        'ax.set(title="KEV entries per CVE year", xlabel="CVE year", ylabel="entries")\n'
        "plt.show()",
    ),
    ("code", "%vulncheck demo --stop"),
]


TEACHING_SETUP = """\
%load_ext vulncheck_magic
%vulncheck demo

import math
import os

import numpy as np
import pandas as pd

# The expected answer of each exercise, stored by the hidden solution cells.
expected = {}
# With VULNCHECK_FILL_IN_SOLUTIONS=1, check() takes the solution for an answer left as ...
FILL_IN_SOLUTIONS = os.environ.get("VULNCHECK_FILL_IN_SOLUTIONS") == "1"


def comparable(value):
    \"\"\"Return value in a form that compares by content: list-likes as sorted lists of str.\"\"\"
    if isinstance(value, (list, tuple, set, pd.Series, pd.Index, np.ndarray)):
        return sorted(str(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def check(name, answer):
    \"\"\"Print whether answer is the expected answer of exercise name.\"\"\"
    if answer is ...:
        if not FILL_IN_SOLUTIONS:
            print(f"{name}: no answer yet. Replace ... in the answer cell and run it again.")
            return
        print(f"{name}: the solution was filled in")
        answer = expected[name]
    answer_value, expected_value = comparable(answer), comparable(expected[name])
    numbers = (int, float)
    if isinstance(answer_value, numbers) and isinstance(expected_value, numbers):
        correct = math.isclose(answer_value, expected_value, rel_tol=1e-9)
    else:
        correct = answer_value == expected_value
    if correct:
        print(f"{name}: correct")
    else:
        print(f"{name}: not yet, {answer!r} is not the expected answer. Try again.")"""

ANSWER_CELL = (
    "# Replace ... with your answer, then run this cell and the check below.\nanswer_{name} = ..."
)


# JupyterLab and Notebook 7 show the first line of a hidden input, so that line gives nothing away.
SOLUTION_HEADER = "# Solution: expand this cell only when you are stuck.\n"


def exercise(name: str, question: str, solution: str) -> list[tuple[str, str]]:
    """Return the cells of one exercise: question, answer cell, hidden solution, check."""
    return [
        ("markdown", question),
        ("code", ANSWER_CELL.format(name=name)),
        ("solution", SOLUTION_HEADER + solution),
        ("code", f'check("{name}", answer_{name})'),
    ]


TEACHING: list[tuple[str, str]] = [
    (
        "markdown",
        "# Exercises: the KEV catalog and NVD with pandas\n\n"
        "Six short exercises on real data, offline: `%vulncheck demo` serves the CISA KEV "
        "catalog as of 2025-08-25 and 44 NVD records. Each exercise has three cells below its "
        "question:\n\n"
        "1. An answer cell: replace `...` with your answer, a value or an expression, and run it.\n"
        "2. A solution cell with its input hidden. It computes the expected answer from the "
        "data and stores it in `expected`. It runs like any other cell: expand it only when "
        "you are stuck.\n"
        "3. A check cell: `check(...)` prints `correct`, `not yet` or `no answer yet`.\n\n"
        "For instructors: when the Jupyter server starts with `VULNCHECK_FILL_IN_SOLUTIONS=1` "
        "in its environment, an answer left as `...` takes the solution's value, so the "
        "notebook runs from top to bottom as a solution sheet. The tests run it that way.",
    ),
    ("code", TEACHING_SETUP),
    (
        "markdown",
        "## The data\n\n"
        "`kev` holds the KEV catalog, one row per entry, and `nvd` the NVD records, one row "
        "per CVE. Look at their columns before you start.",
    ),
    (
        "code",
        "kev = %vulncheck index cisa-kev --all --limit 1000\n"
        "nvd = %vulncheck index nist-nvd2 --all\n"
        "print(kev.shape, nvd.shape)\n"
        "kev.head(3)",
    ),
    *exercise(
        "q1",
        "## Exercise 1: the vendor of 2023\n\n"
        "Which vendor (`vendorProject`) had the most KEV additions in 2023? "
        "Hint: `date_added` is a datetime column and `.dt.year` gives its year.",
        'added_2023 = kev[kev["date_added"].dt.year == 2023]\n'
        'expected["q1"] = added_2023["vendorProject"].value_counts().idxmax()',
    ),
    *exercise(
        "q2",
        "## Exercise 2: ransomware\n\n"
        "How many KEV entries have known ransomware use? The column "
        "`knownRansomwareCampaignUse` holds `Known` or `Unknown`.",
        'expected["q2"] = int(kev["knownRansomwareCampaignUse"].eq("Known").sum())',
    ),
    *exercise(
        "q3",
        "## Exercise 3: the most common weakness\n\n"
        "Which CWE id is the most common in the KEV catalog? `cwes` holds a list per entry, "
        "and an entry with two CWEs counts once for each. Hint: `explode()`.",
        'expected["q3"] = kev["cwes"].explode().dropna().value_counts().idxmax()',
    ),
    *exercise(
        "q4",
        "## Exercise 4: the highest CVSS score\n\n"
        "Which CVEs in the NVD sample have the highest CVSS v3.1 base score? Answer with a "
        "list of CVE ids in any order. Where a record has several v3.1 scores, one per source, "
        'use NVD\'s own, the one of type `"Primary"`. Look at the columns of `nvd` first.',
        "def primary_v31_score(metrics):\n"
        '    """Return the base score of the Primary v3.1 item, else of the first item."""\n'
        "    if not isinstance(metrics, list) or not metrics:\n"
        "        return None\n"
        '    primary = [item for item in metrics if item.get("type") == "Primary"] or metrics\n'
        '    return primary[0]["cvssData"]["baseScore"]\n\n\n'
        "# Tidy frames have cve and cvss_v31_base_score; raw frames id and metrics.cvssMetricV31.\n"
        'if "cvss_v31_base_score" in nvd:\n'
        '    scores = nvd["cvss_v31_base_score"]\n'
        "else:\n"
        '    scores = nvd["metrics.cvssMetricV31"].map(primary_v31_score).astype(float)\n'
        'cve_ids = nvd["cve"] if "cve" in nvd else nvd["id"]\n'
        'expected["q4"] = sorted(cve_ids[scores == scores.max()])',
    ),
    (
        "markdown",
        "## Exercise 5: a batch cell\n\n"
        "A `%%vulncheck` cell runs its first line once per value below it and returns one "
        "frame with a `query` column. The next cell looks up six CVEs in the KEV catalog and "
        "stores the frame in `batch` (`-o batch`). A CVE that is not in the catalog gets no "
        "row. Run it and look at `batch`: which of the six CVEs did CISA add to the catalog "
        "first?",
    ),
    (
        "code",
        "%%vulncheck index cisa-kev -o batch --cve\n"
        "CVE-2021-44228   # Log4Shell\n"
        "CVE-2023-4966    # Citrix Bleed\n"
        "CVE-2024-3400    # PAN-OS GlobalProtect\n"
        "CVE-2024-3094    # xz backdoor\n"
        "CVE-2019-11510   # Pulse Connect Secure\n"
        "CVE-2014-0160    # Heartbleed",
    ),
    ("code", 'batch[["query", "vendorProject", "product", "date_added"]]'),
    *exercise(
        "q5",
        'Your answer to exercise 5, a CVE id such as `"CVE-2021-44228"`:',
        'expected["q5"] = batch.loc[batch["date_added"].idxmin(), "query"]',
    ),
    *exercise(
        "q6",
        "## Exercise 6: the busiest month\n\n"
        "In which month did CISA add the most entries, leaving out November 2021, when the "
        'catalog started? Answer with text such as `"2023-07"`. '
        'Hint: `.dt.strftime("%Y-%m")`.',
        'per_month = kev["date_added"].dt.strftime("%Y-%m").value_counts()\n'
        'expected["q6"] = per_month.drop("2021-11").idxmax()',
    ),
    ("code", "%vulncheck demo --stop"),
]


REAL_API: list[tuple[str, str]] = [
    (
        "markdown",
        "# vulncheck-magic with the real VulnCheck API\n\n"
        "**This notebook needs a VulnCheck API token and network access to "
        "api.vulncheck.com.** The tests do not run it. To start offline, open "
        "`quickstart.ipynb`, which uses the demo API.\n\n"
        "Give the token to the kernel in one of these ways, and never type it into a cell:\n\n"
        "- Set the `VULNCHECK_API_TOKEN` environment variable before you start Jupyter.\n"
        "- Run `%vulncheck login` below and paste the token into the masked field. Where the "
        "form does not render, `%vulncheck login --prompt` asks with a hidden prompt instead.",
    ),
    ("code", "%load_ext vulncheck_magic"),
    ("code", "%vulncheck login"),
    (
        "markdown",
        "`%vulncheck status` shows the base URL and where the token came from, with the token "
        "masked.",
    ),
    ("code", "%vulncheck status"),
    (
        "markdown",
        "## The indexes your token may read\n\n"
        "The list depends on your subscription. A query on an index outside it fails with "
        "`EntitlementError` (HTTP 402 or 403).",
    ),
    ("code", "indexes = %vulncheck indexes\nlen(indexes)"),
    ("code", "%vulncheck indexes --search kev"),
    ("markdown", "## Log4Shell in VulnCheck KEV and in NVD"),
    ("code", "%vulncheck index vulncheck-kev --cve CVE-2021-44228"),
    (
        "code",
        "log4shell = %vulncheck index nist-nvd2 --cve CVE-2021-44228\n"
        'log4shell.attrs["vulncheck"]["meta"]',
    ),
    ("markdown", "## Several CVEs in one cell"),
    (
        "code",
        "%%vulncheck index vulncheck-kev --cve\nCVE-2021-44228\nCVE-2023-4966\nCVE-2024-3400",
    ),
    (
        "markdown",
        "## Log out\n\n"
        "`%vulncheck logout` forgets a token entered in this kernel. A token from "
        "`VULNCHECK_API_TOKEN` stays in effect, and the message says so.",
    ),
    ("code", "%vulncheck logout"),
]


# A "solution" cell is a code cell whose input JupyterLab and Notebook 7 show collapsed.
SOLUTION_METADATA = {"jupyter": {"source_hidden": True}, "tags": ["solution"]}


def write_notebook(name: str, cells: list[tuple[str, str]]) -> None:
    """Write ``notebooks/NAME.ipynb`` with the given (kind, source) cells.

    A kind is "markdown", "code" or "solution".
    """
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
        elif kind == "solution":
            metadata = copy.deepcopy(SOLUTION_METADATA)
            notebook.cells.append(nbformat.v4.new_code_cell(source, metadata=metadata))
        else:
            notebook.cells.append(nbformat.v4.new_code_cell(source))
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name}-{index:02d}"
    nbformat.validate(notebook)
    NOTEBOOKS.mkdir(exist_ok=True)
    nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")


RESEARCH_REPORT: list[tuple[str, str]] = [
    (
        "markdown",
        "# Research report: a list of CVEs, one table\n\n"
        "Paste the CVE ids of your report into the `%%vulncheck enrich` cell below, one per "
        "line. It looks each id up in the VulnCheck KEV and in NVD, and returns one row per id "
        "with KEV status, known ransomware use, CVSS score and severity, and CWEs, sorted by "
        "score and written to Excel. Ids are trimmed and upper-cased for the lookups; an id "
        "that exists nowhere keeps its row with empty cells. This notebook runs offline on the "
        "demo API; with a token, leave out `%vulncheck demo`.",
    ),
    ("code", "%load_ext vulncheck_magic\n%vulncheck demo"),
    ("markdown", "## The report table"),
    (
        "code",
        "%%vulncheck enrich --with kev,nvd --sort-by nvd_cvss_score:desc --export report.xlsx -o report "
        "--columns cve,nvd_cvss_score,nvd_cvss_severity,nvd_cvss_version,nvd_cwes,kev_date_added,"
        "kev_ransomware,kev_vendorProject,kev_product,nvd_description\n"
        "CVE-2021-44228\n"
        "CVE-2023-4966\n"
        "CVE-2024-3400\n"
        "CVE-2022-22965\n"
        "CVE-2019-19781\n"
        "CVE-2014-0160\n"
        "cve-2023-44487   # lower case is fine\n"
        "CVE-2024-6387\n"
        "CVE-2021-44228   # repeats are skipped\n"
        "CVE-2099-0001    # exists nowhere: the row stays, with empty cells",
    ),
    ("code", "report"),
    (
        "markdown",
        "## Summary\n\nHow many of the CVEs are in the KEV list, and how they spread over "
        "severities. `in_kev` is true where the KEV lookup found the CVE.",
    ),
    (
        "code",
        'report["in_kev"] = report["kev_date_added"].notna()\n'
        'summary = report.groupby("nvd_cvss_severity", dropna=False).agg(\n'
        '    cves=("cve", "size"), in_kev=("in_kev", "sum"), known_ransomware=("kev_ransomware", "sum")\n'
        ")\n"
        "summary",
    ),
    (
        "markdown",
        "## Export\n\nThe `--export report.xlsx` option above already wrote the Excel file. "
        "`to_flat` makes the same flat copy for any other writer: lists become JSON text and "
        "dates naive UTC.",
    ),
    (
        "code",
        "import pandas as pd\n\n"
        "from vulncheck_magic import to_flat\n\n"
        'to_flat(report).to_csv("report.csv", index=False)\n'
        'to_flat(report).to_parquet("report.parquet", index=False)\n'
        'pd.read_excel("report.xlsx").head(3)',
    ),
    ("code", "%vulncheck demo --stop"),
]


def main() -> None:
    write_notebook("quickstart", QUICKSTART)
    write_notebook("api-tour", API_TOUR)
    write_notebook("kev-exploration", KEV_EXPLORATION)
    write_notebook("teaching", TEACHING)
    write_notebook("real-api", REAL_API)
    write_notebook("research-report", RESEARCH_REPORT)


if __name__ == "__main__":
    main()
