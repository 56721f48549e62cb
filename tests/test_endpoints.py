"""Every data command of %vulncheck against the demo API, as a user types it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from vulncheck_magic.demo import DEMO_TOKEN

from .conftest import run_cell

LOG4J_PURL = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
LOG4J_CPE = "cpe:2.3:a:apache:log4j:2.14.1"


@pytest.fixture
def demo_shell(shell: InteractiveShell) -> InteractiveShell:
    shell.run_line_magic("vulncheck", "demo")
    return shell


def magic(shell: InteractiveShell, line: str) -> pd.DataFrame:
    """Run ``%vulncheck line`` and return its result, failing on any error."""
    outcome = run_cell(shell, f"%vulncheck {line}")
    assert outcome.error is None, outcome.text
    assert DEMO_TOKEN not in outcome.text
    return outcome.result


def test_indexes_search(demo_shell: InteractiveShell) -> None:
    assert magic(demo_shell, "indexes --search KEV")["name"].tolist() == [
        "cisa-kev",
        "vulncheck-kev",
    ]


def test_backups_and_metadata(demo_shell: InteractiveShell) -> None:
    assert sorted(magic(demo_shell, "backups")["name"]) == [
        "cisa-kev",
        "nist-nvd2",
        "vulncheck-kev",
    ]
    files = magic(demo_shell, "backup cisa-kev")
    assert files["filename"].iloc[0].startswith("cisa-kev-")
    assert len(files["sha256"].iloc[0]) == 64


def test_backup_download(demo_shell: InteractiveShell, tmp_path: Path) -> None:
    frame = magic(demo_shell, f"backup nist-nvd2 --download {tmp_path}")
    zip_row = frame.iloc[0]
    zip_path = Path(zip_row["file"])
    assert zip_path.exists()
    assert hashlib.sha256(zip_path.read_bytes()).hexdigest() == zip_row["sha256"]
    extracted = [Path(name) for name in frame["file"].iloc[1:]]
    assert extracted
    assert all(path.suffix == ".json" and path.exists() for path in extracted)
    magics = demo_shell.magics_manager.registry["VulnCheckMagic"]
    download = [seen for seen in magics.demo.requests if seen.path.startswith("/demo-backups/")]
    assert len(download) == 1
    assert "Authorization" not in download[0].headers
    assert "token" not in download[0].query


def test_backup_load_matches_index(demo_shell: InteractiveShell) -> None:
    loaded = magic(demo_shell, "backup cisa-kev --load")
    queried = magic(demo_shell, "index cisa-kev --all --limit 1000")
    assert len(loaded) == len(queried) == 1404
    assert sorted(loaded["cve"].map(tuple)) == sorted(queried["cve"].map(tuple))
    limited = magic(demo_shell, "backup vulncheck-kev --load --max-rows 10")
    assert len(limited) == 10
    assert limited.attrs["vulncheck"]["truncated"]


def test_backup_parquet(demo_shell: InteractiveShell, tmp_path: Path) -> None:
    target = tmp_path / "nvd.parquet"
    summary = magic(
        demo_shell, f"backup nist-nvd2 --parquet {target} --keep-zip {tmp_path / 'zips'}"
    )
    assert summary["rows"].iloc[0] == 44
    frame = pd.read_parquet(target)
    assert len(frame) == 44
    assert "CVE-2021-44228" in set(frame["id"])
    assert list((tmp_path / "zips").glob("nist-nvd2-*.zip"))


def test_purl_lookup(demo_shell: InteractiveShell) -> None:
    frame = magic(demo_shell, f"purl {LOG4J_PURL}")
    assert frame.set_index("detection")["fixed_version"].to_dict() == {
        "CVE-2021-44228": "2.15.0",
        "CVE-2021-45046": "2.16.0",
    }
    assert frame.attrs["vulncheck"]["cves"] == ["CVE-2021-44228", "CVE-2021-45046"]


def test_purls_line_and_cell(demo_shell: InteractiveShell) -> None:
    line = magic(demo_shell, f"purls {LOG4J_PURL} not-a-purl")
    assert line["purl"].tolist() == [LOG4J_PURL]
    assert line.attrs["vulncheck"]["meta"]["unprocessed"][0]["purl"] == "not-a-purl"
    cell = run_cell(demo_shell, f"%%vulncheck purls\n{LOG4J_PURL}\npkg:hex/coherence@0.1.2\n")
    assert cell.error is None, cell.text
    assert set(cell.result["purl"]) == {LOG4J_PURL, "pkg:hex/coherence@0.1.2"}
    magics = demo_shell.magics_manager.registry["VulnCheckMagic"]
    posts = [seen for seen in magics.demo.requests if seen.method == "POST"]
    assert len(posts) == 2


def test_purl_batch_cell(demo_shell: InteractiveShell) -> None:
    outcome = run_cell(demo_shell, f"%%vulncheck purl\n{LOG4J_PURL}\nnot-a-purl\n")
    assert outcome.error is None, outcome.text
    frame = outcome.result
    assert frame["query"].tolist() == [LOG4J_PURL, LOG4J_PURL, "not-a-purl"]
    assert frame["error"].iloc[2].startswith("BadRequestError: HTTP 400")


def test_cpe_lookup(demo_shell: InteractiveShell) -> None:
    frame = magic(demo_shell, f"cpe {LOG4J_CPE} --vulnerable")
    assert frame.columns.tolist() == ["cve"]
    assert frame["cve"].tolist() == ["CVE-2021-44228", "CVE-2021-45046"]
    outcome = run_cell(
        demo_shell, f"%%vulncheck cpe\n{LOG4J_CPE}\ncpe:/a:apache:http_server:2.4.49\n"
    )
    assert outcome.error is None, outcome.text
    assert "CVE-2021-41773" in set(outcome.result["cve"])


def test_search_cpe_and_cve(demo_shell: InteractiveShell) -> None:
    cpes = magic(demo_shell, "search cpe --vendor apache --product log4j")
    assert cpes["cpe"].str.startswith("cpe:2.3:a:apache:log4j:").all()
    hits = magic(demo_shell, "search cve cve-2021-44228")
    assert sorted(hits["index"]) == ["cisa-kev", "nist-nvd2", "vulncheck-kev"]
    outcome = run_cell(demo_shell, "%%vulncheck search cve\nCVE-2021-44228\nCVE-2014-0160\n")
    assert outcome.error is None, outcome.text
    assert set(outcome.result["query"]) == {"CVE-2021-44228", "CVE-2014-0160"}


def test_text_lists(demo_shell: InteractiveShell) -> None:
    ips = magic(demo_shell, "tags")
    assert ips.columns.tolist() == ["ip"]
    assert ips["ip"].str.match(r"^(192\.0\.2|198\.51\.100|203\.0\.113)\.").all()
    hosts = magic(demo_shell, "pdns")
    assert hosts["hostname"].str.endswith(".example").all()


def test_rules(demo_shell: InteractiveShell, tmp_path: Path) -> None:
    target = tmp_path / "demo.rules"
    frame = magic(demo_shell, f"rules suricata --save {target}")
    assert frame["sid"].tolist() == [1000001, 1000002, 1000003]
    assert frame["msg"].str.contains("CVE-2021-44228").any()
    assert target.read_text().count("sid:") == 3


def test_entitlements_and_get(demo_shell: InteractiveShell) -> None:
    entitlements = magic(demo_shell, "entitlements")
    assert ("demo", "index:cisa-kev") in set(
        zip(entitlements["role"], entitlements["entitlement"], strict=True)
    )
    spec = magic(demo_shell, "get /v3/openapi")
    assert spec["openapi"].iloc[0] == "3.1.0"
    listed = magic(demo_shell, "get /v3/index")
    assert "vulncheck-kev" in set(listed["name"])
    raw = magic(demo_shell, "get /v3/index/cisa-kev --param limit=2 --raw")
    assert len(raw["data"]) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("backup cisa-kev --load --parquet x.parquet", "not allowed with argument"),
        ("backup cisa-kev --max-rows 3", "--max-rows applies to --load"),
        ("rules yara", "invalid choice: 'yara'"),
        ("search", "missing search kind"),
        ("search cpe --part x", "invalid choice: 'x'"),
        ("purls", "missing PURLs"),
        ("get v3/index", "invalid path 'v3/index'"),
        ("get https://example.com/v3/index", "invalid path"),
        ("backup vulncheck-kv", "did you mean vulncheck-kev"),
    ],
)
def test_endpoint_mistakes(demo_shell: InteractiveShell, line: str, message: str) -> None:
    outcome = run_cell(demo_shell, f"%vulncheck {line}")
    assert isinstance(outcome.error, UsageError), outcome.text
    assert message in str(outcome.error)


def test_argument_forms(demo_shell: InteractiveShell) -> None:
    spaced = magic(demo_shell, 'search cpe --vendor "Palo Alto Networks" --product pan-os')
    equals = magic(demo_shell, "search cpe --vendor='Palo Alto Networks' --product=pan-os")
    assert spaced.attrs["vulncheck"]["params"] == equals.attrs["vulncheck"]["params"]
    assert spaced.attrs["vulncheck"]["params"]["vendor"] == "Palo Alto Networks"
    raw_json = magic(demo_shell, """index cisa-kev --limit 1 --param 'q={"a": [1, "b c"]}'""")
    assert raw_json.attrs["vulncheck"]["params"]["q"] == '{"a": [1, "b c"]}'


def test_ipython_expansion(demo_shell: InteractiveShell) -> None:
    demo_shell.user_ns["wanted"] = "CVE-2021-44228"
    demo_shell.user_ns["size"] = 2
    by_name = magic(demo_shell, "index cisa-kev --cve $wanted  # Log4Shell")
    assert by_name["cve"].iloc[0] == "CVE-2021-44228"
    by_expression = magic(demo_shell, "index cisa-kev --limit {size * 3}")
    assert len(by_expression) == 6
    assert by_expression.attrs["vulncheck"]["params"] == {"limit": "6"}


def test_mistakes_checked_before_fetching(demo_shell: InteractiveShell, tmp_path: Path) -> None:
    magics = demo_shell.magics_manager.registry["VulnCheckMagic"]
    before = len(magics.demo.requests)
    folder = tmp_path / "looks-like.csv"
    folder.mkdir()
    for line, message in (
        ("index cisa-kev --limit 2 -o 1bad", "invalid variable name '1bad'"),
        (f"index cisa-kev --limit 2 --export {folder}", "it is a folder"),
        ("index cisa-kev --limit 2 --raw --columns cve", "--columns applies to frames"),
        ("index cisa-kev --limit 2 --columns cve,cve", "--columns names cve twice"),
        (f"backup cisa-kev --parquet {tmp_path / 'kev.csv'}", "use a name ending in .parquet"),
    ):
        outcome = run_cell(demo_shell, f"%vulncheck {line}")
        assert isinstance(outcome.error, UsageError), line
        assert message in str(outcome.error)
    assert len(magics.demo.requests) == before


def test_failed_export_keeps_result(demo_shell: InteractiveShell, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    outcome = run_cell(
        demo_shell, f"%vulncheck index cisa-kev --limit 2 -o kept --export {blocker}/out.csv"
    )
    assert outcome.error is None, outcome.text
    assert "Warning: the result was not written to" in outcome.stderr
    assert len(demo_shell.user_ns.pop("kept")) == 2


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("backup cisa-kev --download", "{file}/sub"),
        ("backup cisa-kev --parquet", "{file}/out.parquet"),
        ("backup cisa-kev --load --keep-zip", "{file}"),
        ("rules snort --save", "{file}/snort.rules"),
    ],
)
def test_unwritable_target_rejected_early(
    demo_shell: InteractiveShell, tmp_path: Path, option: str, value: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    outcome = run_cell(demo_shell, f"%vulncheck {option} {value.format(file=blocker)}")

    assert isinstance(outcome.error, UsageError)
    assert "is a file" in str(outcome.error)
    assert len(str(outcome.error).splitlines()) == 1


def test_read_only_folder_rejected(
    demo_shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, which writes anywhere, so the permission check is simulated.
    monkeypatch.setattr("vulncheck_magic._data_commands.os.access", lambda path, mode: False)

    outcome = run_cell(demo_shell, f"%vulncheck backup cisa-kev --parquet {tmp_path}/x.parquet")

    assert isinstance(outcome.error, UsageError)
    assert str(outcome.error) == (
        f"--parquet cannot write to {str(tmp_path)!r}, because {str(tmp_path)!r} is not "
        "writable: choose another folder"
    )
    assert not list(tmp_path.iterdir())
