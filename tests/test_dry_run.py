"""--dry-run prints the request as curl with the token as ***, and sends nothing."""

from __future__ import annotations

import shlex

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic.demo import DemoServer

from .conftest import SECRET_TOKEN, run_cell


@pytest.fixture
def api_shell(
    shell: InteractiveShell, demo_server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> InteractiveShell:
    monkeypatch.setenv("VULNCHECK_API_TOKEN", SECRET_TOKEN)
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    return shell


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("header", "Authorization: Bearer ***"),
        ("query", "cve=CVE-2021-44228&token=***"),
        ("cookie", "Cookie: token=***"),
    ],
)
def test_dry_run_each_mode(
    api_shell: InteractiveShell, demo_server: DemoServer, mode: str, expected: str
) -> None:
    outcome = run_cell(
        api_shell, f"%vulncheck index vulncheck-kev --cve CVE-2021-44228 --auth {mode} --dry-run"
    )
    assert outcome.error is None, outcome.text
    assert outcome.result is None
    words = shlex.split(outcome.stdout)
    assert words[0] == "curl"
    assert words[-1].startswith(f"{demo_server.url}/v3/index/vulncheck-kev?cve=CVE-2021-44228")
    assert expected in outcome.stdout
    assert SECRET_TOKEN not in outcome.text
    assert demo_server.requests == []


def test_dry_run_post_body(api_shell: InteractiveShell, demo_server: DemoServer) -> None:
    outcome = run_cell(api_shell, "%vulncheck purls pkg:npm/lodash@4.17.20 --dry-run")
    words = shlex.split(outcome.stdout)
    assert words[:3] == ["curl", "-X", "POST"]
    assert words[words.index("--data-raw") + 1] == '["pkg:npm/lodash@4.17.20"]'
    assert demo_server.requests == []


def test_dry_run_without_token(shell: InteractiveShell, demo_server: DemoServer) -> None:
    run_cell(shell, f"%config VulnCheckMagic.base_url = '{demo_server.url}'")
    outcome = run_cell(shell, "%vulncheck indexes --dry-run --auth query")
    assert outcome.error is None, outcome.text
    assert "token=***" in outcome.stdout
    assert demo_server.requests == []


def test_dry_run_not_in_batch(api_shell: InteractiveShell) -> None:
    outcome = run_cell(api_shell, "%%vulncheck index vulncheck-kev --dry-run --cve\nCVE-2021-44228")
    assert isinstance(outcome.error, UsageError)
    assert "--dry-run work on one value" in str(outcome.error)
