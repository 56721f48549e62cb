"""``%vulncheck`` driven through a real InteractiveShell, as a user types it."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic import AuthenticationError, NotFoundError, TokenMissingError
from vulncheck_magic.demo import DEMO_TOKEN, DemoServer

from .conftest import SECRET_TOKEN, run_cell


def catalog_cves() -> list[str]:
    """CVE ids of the bundled CISA KEV catalog, in catalog order."""
    data = resources.files("vulncheck_magic.demo").joinpath("data/cisa-kev.json.gz")
    catalog = json.loads(gzip.decompress(data.read_bytes()))
    return [record["cveID"] for record in catalog["vulnerabilities"]]


@pytest.fixture
def demo_shell(shell: InteractiveShell) -> InteractiveShell:
    """The shell with ``%vulncheck demo`` running."""
    outcome = run_cell(shell, "%vulncheck demo")
    assert outcome.error is None, outcome.text
    return shell


def test_load_twice_registers_once(shell: InteractiveShell) -> None:
    shell.run_line_magic("load_ext", "vulncheck_magic")
    shell.run_line_magic("reload_ext", "vulncheck_magic")
    configurables = [c for c in shell.configurables if type(c).__name__ == "VulnCheckMagic"]
    assert len(configurables) == 1
    assert shell.custom_exceptions.count(shell.custom_exceptions[0]) == 1
    assert "vulncheck" in shell.magics_manager.magics["line"]


def test_unload_removes_magic(ipython: InteractiveShell) -> None:
    ipython.run_line_magic("load_ext", "vulncheck_magic")
    ipython.run_line_magic("unload_ext", "vulncheck_magic")
    assert "vulncheck" not in ipython.magics_manager.magics["line"]
    assert ipython.custom_exceptions == ()
    assert not any(type(c).__name__ == "VulnCheckMagic" for c in ipython.configurables)
    ipython.run_line_magic("load_ext", "vulncheck_magic")
    ipython.run_line_magic("unload_ext", "vulncheck_magic")


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_log4shell_one_row_in_each_auth_mode(demo_shell: InteractiveShell, mode: str) -> None:
    outcome = run_cell(
        demo_shell, f"%vulncheck index vulncheck-kev --cve CVE-2021-44228 --auth {mode}"
    )
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 1
    assert frame["cve"].iloc[0] == "CVE-2021-44228"
    assert frame["product"].iloc[0] == "Log4j2"
    assert frame.attrs["vulncheck"]["auth_mode"] == mode


def test_cisa_kev_page_three_rows(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "%vulncheck index cisa-kev --limit 100 --page 3")
    assert outcome.error is None, outcome.text
    assert outcome.result["cve"].tolist() == catalog_cves()[200:300]


def test_assignment_and_output_variable(demo_shell: InteractiveShell) -> None:
    assigned = run_cell(demo_shell, "df = %vulncheck index cisa-kev --limit 3")
    assert assigned.error is None, assigned.text
    assert len(demo_shell.user_ns["df"]) == 3
    stored = run_cell(demo_shell, "%vulncheck index cisa-kev --limit 2 -o kev")
    assert stored.error is None, stored.text
    assert stored.result is None
    assert len(demo_shell.user_ns["kev"]) == 2


def test_raw_returns_envelope(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "%vulncheck index nist-nvd2 --cve CVE-2014-0160 --raw")
    assert outcome.error is None, outcome.text
    envelope = outcome.result
    assert set(envelope) >= {"_benchmark", "_meta", "data"}
    assert envelope["data"][0]["id"] == "CVE-2014-0160"


def test_indexes_command(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "%vulncheck indexes")
    assert outcome.error is None, outcome.text
    assert sorted(outcome.result["name"]) == ["cisa-kev", "nist-nvd2", "vulncheck-kev"]


def test_filters_and_sorting(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(
        demo_shell,
        "%vulncheck index cisa-kev --pubStartDate 2023-01-01 --pubEndDate 2023-01-31 "
        "--sort date_added --order asc  # January 2023",
    )
    assert outcome.error is None, outcome.text
    dates = outcome.result["date_added"]
    assert dates.is_monotonic_increasing
    assert dates.min() >= pd.Timestamp("2023-01-01", tz="UTC")
    assert dates.max() <= pd.Timestamp("2023-01-31", tz="UTC")


def test_param_option_and_quoted_values(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(
        demo_shell, '%vulncheck index cisa-kev --param "ransomware=Lock Bit" --limit 1'
    )
    assert outcome.error is None, outcome.text
    assert outcome.result.attrs["vulncheck"]["params"]["ransomware"] == "Lock Bit"


def test_config_auth_mode_applies(demo_shell: InteractiveShell) -> None:
    magics = demo_shell.magics_manager.registry["VulnCheckMagic"]
    run_cell(demo_shell, "%config VulnCheckMagic.auth_mode = 'cookie'")
    outcome = run_cell(demo_shell, "%vulncheck index cisa-kev --limit 1")
    assert outcome.error is None, outcome.text
    seen = magics.demo.requests[-1]
    assert seen.cookies == {"token": DEMO_TOKEN}
    assert "Authorization" not in seen.headers


def test_config_base_url_invalid(shell: InteractiveShell, caplog: pytest.LogCaptureFixture) -> None:
    run_cell(shell, "%config VulnCheckMagic.base_url = 'ftp://example'")
    assert "invalid base URL 'ftp://example'" in caplog.text
    status = run_cell(shell, "%vulncheck status").result["value"]
    assert status["base_url"] == "https://api.vulncheck.com"


def test_status_masks_token(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VULNCHECK_API_TOKEN", SECRET_TOKEN)
    outcome = run_cell(shell, "%vulncheck status")
    assert outcome.error is None, outcome.text
    status = outcome.result["value"]
    assert status["token"] == "vuln…cdef (from VULNCHECK_API_TOKEN)"
    assert status["auth_mode"] == "header"
    assert status["demo"] == "off"
    assert SECRET_TOKEN not in outcome.text


def test_demo_stop_restores_base_url(shell: InteractiveShell) -> None:
    run_cell(shell, "%config VulnCheckMagic.base_url = 'https://127.0.0.1:9'")
    started = run_cell(shell, "%vulncheck demo")
    assert "Demo API running at http://127.0.0.1:" in started.stdout
    assert (
        run_cell(shell, "%vulncheck status")
        .result["value"]["base_url"]
        .startswith("http://127.0.0.1:")
    )
    again = run_cell(shell, "%vulncheck demo")
    assert "already runs" in again.stdout
    stopped = run_cell(shell, "%vulncheck demo --stop")
    assert "Demo API stopped" in stopped.stdout
    status = run_cell(shell, "%vulncheck status").result["value"]
    assert status["base_url"] == "https://127.0.0.1:9"
    assert status["demo"] == "off"
    assert status["token"] == "none"


def test_demo_port_in_use_is_usage_error(shell: InteractiveShell) -> None:
    with DemoServer() as busy:
        outcome = run_cell(shell, f"%vulncheck demo --port {busy.port}")
    assert isinstance(outcome.error, UsageError)
    assert "Choose another --port" in str(outcome.error)


def test_no_token_error_is_one_line(shell: InteractiveShell, demo_server: DemoServer) -> None:
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    outcome = run_cell(shell, "%vulncheck index cisa-kev")
    assert isinstance(outcome.error, TokenMissingError)
    assert outcome.stdout.strip().startswith("TokenMissingError: No VulnCheck API token")
    assert len(outcome.stdout.strip().splitlines()) == 1
    assert "Traceback" not in outcome.text


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_api_errors_are_one_line_without_token(
    shell: InteractiveShell,
    demo_server: DemoServer,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    monkeypatch.setenv("VULNCHECK_API_TOKEN", SECRET_TOKEN)
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    missing = run_cell(shell, f"%vulncheck index exploits --auth {mode}")
    assert isinstance(missing.error, NotFoundError)
    assert missing.stdout.startswith("NotFoundError: HTTP 404")
    monkeypatch.setenv("VULNCHECK_API_TOKEN", "vulncheck_not0the0right0token000000000000")
    rejected = run_cell(shell, f"%vulncheck index cisa-kev --auth {mode}")
    assert isinstance(rejected.error, AuthenticationError)
    assert "%vulncheck login" in rejected.stdout
    for outcome in (missing, rejected):
        assert SECRET_TOKEN not in outcome.text
        assert "vulncheck_not0the0right0token000000000000" not in outcome.text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "missing command"),
        ("indx", "unknown command 'indx' (did you mean index?)"),
        ("index", "missing NAME. Run %vulncheck index --help"),
        ("purl", "missing PURL. Run %vulncheck purl --help"),
        (
            "index cisa-kev --limt 5",
            "unknown option --limt for index cisa-kev (did you mean --limit?)",
        ),
        ("index cisa-kev --auth bearer", "invalid choice: 'bearer'"),
        ("index cisa-kev --limit 0", "argument --limit: use a whole number of at least 1"),
        ("index cisa-kev --page -1", "argument --page"),
        ("index cisa-kev --cve CVE-21-1", "invalid CVE id 'CVE-21-1'"),
        ("index cisa-kev --pubStartDate 01/02/2024", "invalid date '01/02/2024'"),
        ("index cisa-kev --order up", "invalid choice: 'up'"),
        ("index cisa-kev extra", "unexpected argument 'extra'"),
        ('index cisa-kev --sort "date_added', "check the quotes"),
        ("index vulncheck-kv", "unknown index 'vulncheck-kv': did you mean vulncheck-kev"),
        ("index 'bad name!'", "invalid index name"),
        ("index cisa-kev --param novalue", "use KEY=VALUE"),
        ("index cisa-kev -o 1abc", "invalid variable name"),
        ("demo --port 99999", "argument --port: use a TCP port from 0 to 65535"),
        ("index cisa-kev --start_cursor --page 2", "page cannot be combined with cursor"),
        ("index cisa-kev --page 2 --param page=3", "page is given twice"),
        (
            "index cisa-kev --pubStartDate 2024-12-31 --pubEndDate 2024-01-01",
            "pubStartDate 2024-12-31 is after pubEndDate 2024-01-01",
        ),
        ("login --env A --prompt", "argument --prompt: not allowed with argument --env"),
    ],
)
def test_user_mistakes_are_usage_errors(
    demo_shell: InteractiveShell, line: str, message: str
) -> None:
    outcome = run_cell(demo_shell, f"%vulncheck {line}")
    assert isinstance(outcome.error, UsageError), outcome.text
    assert message in str(outcome.error)
    assert "\n" not in str(outcome.error)
    assert DEMO_TOKEN not in outcome.text


def test_options_ignore_case(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "%vulncheck index cisa-kev --order ASC --auth Cookie --limit 2")
    assert outcome.error is None, outcome.text
    assert outcome.result.attrs["vulncheck"]["params"]["order"] == "asc"
    assert outcome.result.attrs["vulncheck"]["auth_mode"] == "cookie"


def test_ignored_filter_warns(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, "%vulncheck index cisa-kev --threat_actor lazarus --limit 2")
    assert outcome.error is None, outcome.text
    assert outcome.stderr.startswith(
        "Warning: Index 'cisa-kev' does not list threat_actor among its filters"
    )
    assert len(outcome.stderr.strip().splitlines()) == 1
    assert outcome.result.attrs["vulncheck"]["ignored_params"] == ["threat_actor"]
    honoured = run_cell(demo_shell, "%vulncheck index cisa-kev --cve CVE-2021-44228")
    assert honoured.stderr == ""
    assert "ignored_params" not in honoured.result.attrs["vulncheck"]


def test_config_rejects_plain_http_host(
    shell: InteractiveShell, caplog: pytest.LogCaptureFixture
) -> None:
    run_cell(shell, "%config VulnCheckMagic.base_url = 'http://api.example.invalid'")
    assert "plain http:// would expose the token" in caplog.text
    assert run_cell(shell, "%vulncheck status").result["value"]["base_url"] == (
        "https://api.vulncheck.com"
    )


def test_misspelled_index_without_token(shell: InteractiveShell) -> None:
    outcome = run_cell(shell, "%vulncheck index cisa-kv")
    assert isinstance(outcome.error, UsageError)
    assert "did you mean cisa-kev" in str(outcome.error)


def test_help_option_prints_command_help(shell: InteractiveShell) -> None:
    outcome = run_cell(shell, "%vulncheck index --help")
    assert outcome.error is None
    assert "--pubStartDate YYYY-MM-DD" in outcome.stdout


def test_user_namespace_has_no_token(demo_shell: InteractiveShell) -> None:
    run_cell(demo_shell, "df = %vulncheck index cisa-kev --limit 1 --auth query")
    namespace_text = repr({k: v for k, v in demo_shell.user_ns.items() if not k.startswith("_")})
    assert DEMO_TOKEN not in namespace_text
