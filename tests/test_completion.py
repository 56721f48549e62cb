"""Tab completion through IPython's completer, as a frontend requests it."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

# shell.complete is the call that kernels make for frontends; IPython marks it as pending
# deprecation in favour of a provisional API.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def complete(shell: InteractiveShell, line: str) -> list[str]:
    """Completions for the cursor at the end of ``line``, split into words as IPython does."""
    symbol = "" if line.endswith(" ") else line.split()[-1].split(",")[-1]
    return list(shell.complete(symbol, line, len(line))[1])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%vulncheck ind", ["index", "indexes"]),
        ("%vulncheck index vulncheck-k", ["vulncheck-kev"]),
        ("%vulncheck backup nist-nvd2-c", ["nist-nvd2-cpematch", "nist-nvd2-cvehist"]),
        (
            "%vulncheck index exploits --max",
            ["--max-pages", "--max-rows", "--max_exploit_maturity"],
        ),
        ("%vulncheck index ipintel-3d --country", ["--country", "--country_code"]),
        ("%vulncheck index cisa-kev --auth ", ["header", "query", "cookie"]),
        ("%vulncheck index cisa-kev --order d", ["desc"]),
        ("%vulncheck search c", ["cpe", "cve"]),
        ("%vulncheck search cpe --ven", ["--vendor"]),
        ("%vulncheck rules s", ["snort", "suricata"]),
        ("%%vulncheck index cisa-kev --cv", ["--cve"]),
        ("%vulncheck login --", ["--auth", "--env", "--help", "--prompt"]),
    ],
)
def test_completions(shell: InteractiveShell, line: str, expected: list[str]) -> None:
    assert complete(shell, line) == expected


def test_used_option_not_offered_again(shell: InteractiveShell) -> None:
    assert "--limit" not in complete(shell, "%vulncheck index cisa-kev --limit 5 --l")


def test_server_index_names_completed(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.registry["VulnCheckMagic"]
    magics.client._server_index_names[magics.client.base_url] = frozenset({"brand-new-index"})
    assert complete(shell, "%vulncheck index brand-") == ["brand-new-index"]


def test_enrich_completions(shell: InteractiveShell) -> None:
    import pandas as pd

    shell.user_ns["assets"] = pd.DataFrame({"cve": ["CVE-2021-44228"]})
    shell.user_ns["assets_text"] = "not a frame"
    try:
        assert complete(shell, "%vulncheck enrich ass") == ["assets"]
        assert complete(shell, "%vulncheck enrich assets --with ") == [
            "kev",
            "nvd",
            "exploits",
            "epss",
        ]
        assert complete(shell, "%vulncheck enrich assets --with kev,e") == ["exploits", "epss"]
    finally:
        shell.user_ns.pop("assets")
        shell.user_ns.pop("assets_text")


def test_cell_offers_cell_commands(shell: InteractiveShell) -> None:
    assert complete(shell, "%%vulncheck ") == ["cpe", "enrich", "index", "purl", "purls", "search"]
