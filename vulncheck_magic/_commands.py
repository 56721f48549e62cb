"""The ``%vulncheck`` commands and their options, as argparse sub-parsers.

Each ``add_*`` function defines one command. ``_parser.py`` builds the parser from them and
generates the ``%vulncheck?`` help, so the help always lists exactly these options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ._auth import AuthMode
from ._batch import BATCH_WORKERS
from ._params import DATE_PARAMETERS, InvalidParameterError, normalize_cve

__all__ = ["COMMANDS", "ENRICH_SOURCE_NAMES", "INDEX_FILTERS", "add_commands"]

HELP_WIDTH = 92

NewParser = Callable[[str, str], argparse.ArgumentParser]

# Common filters of ``GET /v3/index/{index}``, under their wire names, with their help.
INDEX_FILTERS: dict[str, str] = {
    "cve": "CVE id, for example CVE-2021-44228 (case-insensitive)",
    "alias": "vulnerability alias, for example a GHSA id",
    "iava": "IAVA id",
    "jvndb": "JVNDB id, for example JVNDB-2025-007355",
    "ilvn": "Israeli ILVN id",
    "threat_actor": "threat-actor name",
    "mitre_id": "MITRE ATT&CK group id, for example G0013",
    "misp_id": "MISP galaxy id",
    "ransomware": "ransomware family name",
    "botnet": "botnet name",
    "published": "published date",
    "date": "exact published date, YYYY-MM-DD",
    "updatedAtStartDate": "first VulnCheck update date to include, YYYY-MM-DD",
    "updatedAtEndDate": "last VulnCheck update date to include, YYYY-MM-DD",
    "lastModStartDate": "first last-modified date to include, YYYY-MM-DD",
    "lastModEndDate": "last last-modified date to include, YYYY-MM-DD",
    "pubStartDate": "first published date to include, YYYY-MM-DD",
    "pubEndDate": "last published date to include, YYYY-MM-DD",
}

COMMANDS: dict[str, str] = {
    "demo": "start the embedded offline demo API and point this kernel at it",
    "login": "enter a token in a masked form (or a hidden prompt) for this kernel",
    "logout": "forget the token entered in this kernel",
    "status": "show the base URL, auth mode, token source (masked) and demo state",
    "indexes": "list the indexes the token may read",
    "index": "query one index: one row per record",
    "backups": "list the indexes whose backups the token may download",
    "backup": "show, download, load or convert an index's backup",
    "purl": "vulnerabilities of one package URL (PURL)",
    "purls": "vulnerabilities of many PURLs in one request",
    "cpe": "CVEs that affect a CPE",
    "search": "search CPEs (search cpe) or a CVE across indexes (search cve)",
    "tags": "VulnCheck C2 IP addresses, one per row",
    "pdns": "VulnCheck C2 hostnames for protective DNS, one per row",
    "rules": "Initial Access detection rules for snort or suricata",
    "entitlements": "what the token is entitled to",
    "get": "GET any other endpoint, for example /v4/advisory/list",
    "enrich": "add KEV, NVD, exploit or EPSS columns to a frame of CVE ids",
}

# Sources of ``enrich --with``; the same names as vulncheck_magic._enrich.ENRICH_SOURCES.
ENRICH_SOURCE_NAMES = ("kev", "nvd", "exploits", "epss")


def formatter(prog: str) -> argparse.HelpFormatter:
    """Return the help formatter, with a fixed width so the help does not depend on COLUMNS."""
    return argparse.HelpFormatter(prog, width=HELP_WIDTH, max_help_position=30)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"use a whole number of at least 1, not {text!r}")
    return number


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 for a free one."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"use a TCP port from 0 to 65535, not {text!r}")
    return number


def lower(text: str) -> str:
    """argparse type: the value trimmed and lower-cased, for case-insensitive choices."""
    return text.strip().lower()


def cve_id(text: str) -> str:
    """argparse type: a CVE id, upper-cased and checked."""
    try:
        return normalize_cve(text)
    except InvalidParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def key_value(text: str) -> tuple[str, str]:
    """argparse type: ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"use KEY=VALUE, not {text!r}")
    return key.strip(), value


def column_list(text: str) -> list[str]:
    """argparse type: comma-separated column names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"use comma-separated column names, not {text!r}")
    return names


def source_list(text: str) -> list[str]:
    """argparse type: comma-separated enrichment sources."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENRICH_SOURCE_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"use comma-separated sources from {','.join(ENRICH_SOURCE_NAMES)}, not {text!r}"
        )
    return list(dict.fromkeys(names))


def sort_spec(text: str) -> tuple[str, bool]:
    """argparse type: ``COLUMN`` or ``COLUMN:desc`` (or ``:asc``)."""
    column, _, direction = text.rpartition(":") if ":" in text else (text, "", "asc")
    direction = direction.strip().lower()
    if not column.strip() or direction not in ("asc", "desc"):
        raise argparse.ArgumentTypeError(f"use COLUMN, COLUMN:asc or COLUMN:desc, not {text!r}")
    return column.strip(), direction == "desc"


def add_auth_option(parser: argparse._ActionsContainer) -> None:
    """Add ``--auth`` to a command that sends a request."""
    parser.add_argument(
        "--auth",
        type=lower,
        choices=[mode.value for mode in AuthMode],
        help="where this request carries the token: Authorization header, query parameter or "
        "cookie (default: %%config VulnCheckMagic.auth_mode)",
    )


def add_frame_options(parser: argparse.ArgumentParser, *, raw: bool = True) -> None:
    """Add the options every command that returns a frame shares."""
    group = parser.add_argument_group("common options")
    add_auth_option(group)
    group.add_argument(
        "-o",
        "--output",
        metavar="VAR",
        help="store the result in the variable VAR instead of displaying it",
    )
    group.add_argument(
        "--columns",
        type=column_list,
        metavar="A,B,...",
        help="keep only these columns, in this order",
    )
    group.add_argument(
        "--explode",
        metavar="FIELD",
        help="turn a list column (e.g. vulncheck_xdb, configurations.nodes.cpeMatch) into one row "
        "per item, with the item's fields as FIELD.* columns",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="print the request as a curl command, with the token shown as ***, and send nothing",
    )
    group.add_argument(
        "--flat",
        action="store_true",
        help="turn lists and dicts into JSON strings and timezone-aware datetimes into naive "
        "UTC, so that "
        "to_csv, to_excel and to_parquet accept the frame (applied after --explode, --columns)",
    )
    group.add_argument(
        "--sort-by",
        type=sort_spec,
        metavar="COLUMN[:desc]",
        help="sort the rows of the result by COLUMN, ascending, or descending with :desc",
    )
    group.add_argument(
        "--export",
        metavar="PATH",
        help="also write the result to PATH, as CSV, Excel (.xlsx), Parquet or JSON lines "
        "(.jsonl) by its suffix, flattened like --flat",
    )
    if raw:
        group.add_argument(
            "--raw",
            action="store_true",
            help="return the parsed JSON response (for example _benchmark, _meta, data) as is",
        )


def add_tidy_options(parser: argparse._ActionsContainer) -> None:
    """Add ``--no-tidy`` and ``--raw-columns`` to a command that returns index records."""
    parser.add_argument(
        "--no-tidy",
        action="store_true",
        help="keep the plain flattening: no research-ready columns (cve, cvss_score, "
        "ransomware, ...) for nist-nvd2, vulncheck-nvd2, cisa-kev, vulncheck-kev and exploits",
    )
    parser.add_argument(
        "--raw-columns",
        action="store_true",
        help="keep the nested columns that the tidy columns replace (id, descriptions, "
        "metrics.cvssMetricV31, ...) next to them",
    )


def _add_demo(new: NewParser) -> None:
    demo = new(
        "demo",
        "Start the embedded demo API on 127.0.0.1 (real CISA KEV and NVD records, no network, "
        "no real token needed) and send this kernel's queries to it with the demo token. "
        "--stop stops it and restores the previous base URL.",
    )
    demo.add_argument("--stop", action="store_true", help="stop the demo API")
    demo.add_argument(
        "--port",
        type=port_number,
        default=0,
        help="TCP port on 127.0.0.1 (default: 0, a free port)",
    )


def _add_login(new: NewParser) -> None:
    login = new(
        "login",
        "Show a form with a masked token field, the auth mode, Log in and Log out. Log in checks "
        "the token with one request to the index list and keeps it in this kernel's memory only. "
        "Where widgets cannot render, a hidden prompt asks instead; where no one can type "
        "(nbclient, papermill), it says how to set VULNCHECK_API_TOKEN. The token itself is never "
        "an option, so it never ends up in the notebook.",
    )
    login.add_argument(
        "--auth",
        type=lower,
        choices=[mode.value for mode in AuthMode],
        help="preselect the auth mode; on success it becomes the session's auth mode",
    )
    source = login.add_mutually_exclusive_group()
    source.add_argument(
        "--env",
        metavar="NAME",
        help="read the token from the environment variable NAME instead of asking",
    )
    source.add_argument(
        "--prompt",
        action="store_true",
        help="ask with a hidden text prompt instead of the form (for frontends without widgets)",
    )
    new(
        "logout",
        "Forget the token entered in this kernel, and say whether VULNCHECK_API_TOKEN still "
        "provides one.",
    )
    new(
        "status",
        "Show the base URL, auth mode, token source with the token masked, and whether the "
        "demo API runs.",
    )


def _add_index(new: NewParser) -> None:
    indexes = new(
        "indexes",
        "List the indexes the token may read: one row per index with name, description and href.",
    )
    indexes.add_argument(
        "--search",
        metavar="TEXT",
        help="keep indexes whose name or description contains TEXT (case-insensitive)",
    )
    add_frame_options(indexes)

    index = new(
        "index",
        "Query one index (GET /v3/index/NAME): one row per record, nested fields flattened into "
        "dotted columns, dates as UTC datetimes. Frames of nist-nvd2, vulncheck-nvd2, cisa-kev, "
        "vulncheck-kev and exploits start with research-ready columns (cve, cvss_score, "
        "ransomware, exploit_count, ...); df.attrs['vulncheck']['tidy'] lists them. Besides the "
        "options below, every parameter the API documents for NAME is an option under its wire "
        "name (%vulncheck index NAME --help "
        "lists them), e.g. --max_exploit_maturity weaponized on exploits or --country_code SE on "
        "ipintel-3d. Offset paging reaches page _meta.max_pages (6 on most indexes); --all pages "
        "with the cursor instead. In a %%vulncheck cell, end the line with an option such as "
        "--cve and put one value per line in the cell.",
    )
    index.add_argument("name", metavar="NAME", help="index name, e.g. vulncheck-kev")
    paging = index.add_argument_group("paging and sorting")
    paging.add_argument(
        "--limit", type=positive_int, metavar="N", help="records per page (API default: 100)"
    )
    paging.add_argument(
        "--page", type=positive_int, metavar="N", help="page number, from 1 (default: 1)"
    )
    paging.add_argument("--sort", metavar="FIELD", help="field to sort by, e.g. date_added")
    paging.add_argument("--order", type=lower, choices=["asc", "desc"], help="sort direction")
    paging.add_argument(
        "--no-cache",
        action="store_true",
        help="fetch even when the same query ran within %%config VulnCheckMagic.cache_ttl seconds",
    )
    paging.add_argument(
        "--all",
        action="store_true",
        help="fetch every page with the cursor into one frame (see --max-pages, --max-rows)",
    )
    paging.add_argument(
        "--max-pages",
        type=positive_int,
        metavar="N",
        help="with --all: stop after N pages (default: 1000)",
    )
    paging.add_argument(
        "--max-rows",
        type=positive_int,
        metavar="N",
        help="with --all: stop after the page that reaches N rows (default: 100000); whole "
        "pages only, so that --cursor resumes without gaps or repeats",
    )
    paging.add_argument(
        "--start_cursor",
        action="store_true",
        help="start cursor paging by hand; the next cursor is in df.attrs['vulncheck']['meta']",
    )
    paging.add_argument(
        "--cursor",
        help="continue cursor paging from this _meta.next_cursor (with --all: resume from it)",
    )
    filters = index.add_argument_group("filters (API wire names)")
    for name, text in INDEX_FILTERS.items():
        kind = cve_id if name == "cve" else str
        metavar = "YYYY-MM-DD" if name in DATE_PARAMETERS else name.upper()
        filters.add_argument(f"--{name}", type=kind, metavar=metavar, help=text)
    filters.add_argument(
        "--param",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="any other query parameter, sent as given (repeatable)",
    )
    add_tidy_options(index.add_argument_group("columns"))
    add_frame_options(index)


def _add_backup(new: NewParser) -> None:
    backups = new(
        "backups",
        "List the indexes whose backups the token may download: name, description, href.",
    )
    add_frame_options(backups)

    backup = new(
        "backup",
        "Without an action: the backup's files (filename, sha256, date_added, pre-signed URLs, "
        "which expire and carry their own credentials). --download streams the zip to DIR with a "
        "progress bar, checks its sha256 and unzips it; nothing is held in memory. --load reads "
        "the records into a frame. --parquet converts them to a Parquet file in batches with "
        "bounded memory: columns are flattened as in --load, but dates stay ISO strings, lists "
        "and objects are JSON text and there are no tidy columns. Downloads never carry the "
        "API token.",
    )
    backup.add_argument("name", metavar="NAME", help="index name, e.g. vulncheck-kev")
    action = backup.add_mutually_exclusive_group()
    action.add_argument("--download", metavar="DIR", help="download, verify and unzip into DIR")
    action.add_argument("--load", action="store_true", help="load the records into a frame")
    action.add_argument("--parquet", metavar="PATH", help="convert the records to Parquet at PATH")
    backup.add_argument(
        "--max-rows",
        type=positive_int,
        metavar="N",
        help="with --load: read at most N records",
    )
    backup.add_argument(
        "--keep-zip",
        metavar="DIR",
        help="with --load or --parquet: keep the downloaded zip in DIR (default: a temporary "
        "directory, removed afterwards)",
    )
    add_tidy_options(backup.add_argument_group("columns, with --load"))
    add_frame_options(backup)


def _add_lookups(new: NewParser) -> None:
    purl = new(
        "purl",
        "Look up one package URL (GET /v3/purl): one row per vulnerability (detection, "
        "fixed_version); the CVE list is in df.attrs['vulncheck']['cves']. In a %%vulncheck cell, "
        "give one PURL per line.",
    )
    purl.add_argument("purl", metavar="PURL", help="package URL, e.g. pkg:npm/lodash@4.17.20")
    add_frame_options(purl)

    purls = new(
        "purls",
        "Look up many PURLs in one request (POST /v3/purls): one row per PURL that has "
        "vulnerabilities; PURLs the API could not process are in _meta.unprocessed. In a "
        "%%vulncheck cell, give one PURL per line.",
    )
    purls.add_argument("purls", metavar="PURL", nargs="*", help="package URLs")
    add_frame_options(purls)

    cpe = new(
        "cpe",
        "CVEs that affect a CPE (GET /v3/cpe), as a one-column frame. In a %%vulncheck cell, give "
        "one CPE per line.",
    )
    cpe.add_argument(
        "cpe", metavar="CPE", help="CPE 2.3 string or 2.2 URI, e.g. cpe:2.3:a:apache:log4j:2.14.1"
    )
    cpe.add_argument(
        "--vulnerable",
        action="store_true",
        help="only CVEs for which the CPE is marked vulnerable",
    )
    add_frame_options(cpe)

    search = new("search", "Search CPEs by their parts, or a CVE across every index.")
    kinds = search.add_subparsers(dest="search_kind", metavar="KIND", parser_class=type(search))
    search_cpe = kinds.add_parser(
        "cpe",
        help="CPEs by part, vendor, product and version (GET /v3/search/cpe)",
        description="Search CPEs (GET /v3/search/cpe): one row per CPE with its CVEs.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    search_cpe.add_argument("--part", type=lower, choices=["a", "o", "h"], help="a, o or h")
    search_cpe.add_argument("--vendor", help="vendor, e.g. apache")
    search_cpe.add_argument("--product", help="product, e.g. log4j")
    search_cpe.add_argument("--version", help="version, e.g. 2.14.1")
    search_cpe.add_argument("--vulnerable", action="store_true", help="only CPEs marked vulnerable")
    add_frame_options(search_cpe)
    search_cve = kinds.add_parser(
        "cve",
        help="a CVE across every index the token may read (GET /v3/search/cve)",
        description="Find a CVE in every index (GET /v3/search/cve): one row per hit with id, "
        "index, score and the hit's fields. In a %%vulncheck cell, give one CVE per line.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    search_cve.add_argument("cve", metavar="CVE", type=cve_id, help="CVE id")
    search_cve.add_argument("--limit", type=positive_int, metavar="N", help="hits per page")
    search_cve.add_argument("--page", type=positive_int, metavar="N", help="page number")
    add_frame_options(search_cve)


def _add_lists(new: NewParser) -> None:
    for name, what in (("tags", "ip"), ("pdns", "hostname")):
        text_list = new(
            name,
            f"{COMMANDS[name][0].upper()}{COMMANDS[name][1:]} (a text list on the API, a "
            f"one-column frame of {what} here).",
        )
        add_frame_options(text_list, raw=False)

    rules = new(
        "rules",
        "Initial Access detection rules (GET /v3/rules/initial-access/TYPE): one rule per row "
        "with its sid and msg. --save writes the rule file as the API sent it.",
    )
    rules.add_argument("kind", metavar="TYPE", type=lower, choices=["snort", "suricata"])
    rules.add_argument("--save", metavar="FILE", help="also write the rules to FILE")
    add_frame_options(rules, raw=False)

    entitlements = new(
        "entitlements", "The token's entitlements: one row per role and entitlement."
    )
    add_frame_options(entitlements)

    get = new(
        "get",
        "GET any other endpoint on the API host: a body with a data list gives one row per item, "
        "any other JSON object one row.",
    )
    get.add_argument("path", metavar="PATH", help="path on the API host, e.g. /v4/advisory/list")
    get.add_argument(
        "--param",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="query parameter (repeatable)",
    )
    add_frame_options(get)


def _add_enrich(new: NewParser) -> None:
    enrich = new(
        "enrich",
        "Add columns for the CVE ids of a frame: kev_* from vulncheck-kev, nvd_* from nist-nvd2, "
        "exploits_* from exploits, epss_score and epss_percentile from epss. Ids are trimmed and "
        "upper-cased, and each unique id is looked up once per source, one request each, "
        f"{BATCH_WORKERS} at a time. The result is a new frame with one row per row of DF, in "
        "the same order and with the same index; DF is not changed. CVEs a source does not "
        "have get empty cells. Failed lookups get empty cells, their message in an "
        "enrich_error column and one warning.",
    )
    enrich.add_argument(
        "frame",
        metavar="DF",
        nargs="?",
        help="name of a DataFrame variable in the notebook; in a %%%%vulncheck enrich cell, leave "
        "it out and give one CVE id per line instead",
    )
    enrich.add_argument(
        "--cve-column",
        metavar="NAME",
        help="column with the CVE ids (default: the one column whose values look like CVE ids)",
    )
    enrich.add_argument(
        "--with",
        dest="sources",
        type=source_list,
        default=["kev", "nvd"],
        metavar="SOURCES",
        help=f"comma-separated sources from {','.join(ENRICH_SOURCE_NAMES)} (default: kev,nvd)",
    )
    add_frame_options(enrich, raw=False)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add every command to the sub-parsers of the ``%vulncheck`` parser."""

    def new(name: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=COMMANDS[name],
            description=description,
            formatter_class=formatter,
            allow_abbrev=False,
        )

    for add in (
        _add_demo,
        _add_login,
        _add_index,
        _add_backup,
        _add_lookups,
        _add_lists,
        _add_enrich,
    ):
        add(new)
