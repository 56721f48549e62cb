"""The API's v3 endpoints as Client methods, each returning a pandas DataFrame.

:class:`EndpointMethods` is mixed into :class:`vulncheck_magic.Client`, which supplies
``fetch``, ``request`` and the index-name checks.
"""

from __future__ import annotations

import contextlib
import numbers
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._auth import AuthMode
from ._errors import ResponseFormatError, VulnCheckWarning
from ._gc import gc_paused
from ._logging import logger
from ._paging import PagingInterrupted, PagingSummary, collect_pages
from ._params import InvalidParameterError, normalize_cve, normalize_index_params

if TYPE_CHECKING:
    import pandas as pd
    import requests

    from ._backups import DownloadResult, ParquetResult
    from ._client import Envelope

__all__ = ["EndpointMethods", "IgnoredFilterWarning", "rules_frame"]

AuthArg = str | AuthMode | None

_RULE_SID = re.compile(r"\bsid\s*:\s*(\d+)")
_RULE_MSG = re.compile(r'\bmsg\s*:\s*"((?:[^"\\]|\\.)*)"')
_RULE_KINDS = ("snort", "suricata")
_TEXT_FORMATS = ("txt", "text", "json")


class _ClientCore(Protocol):
    base_url: str
    session: requests.Session
    timeout: tuple[float, float]
    _server_index_names: dict[str, frozenset[str]]

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        json_body: Any = None,
        index: str | None = None,
        auth_mode: AuthArg = None,
        expect: str = "json",
    ) -> Envelope: ...

    def fetch(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        index: str | None = None,
        auth_mode: AuthArg = None,
    ) -> Envelope: ...

    def _check_index_name(self, name: str, auth_mode: AuthArg) -> str: ...


class EndpointMethods:
    """Methods for every VulnCheck API v3 endpoint."""

    # Index list and index queries

    def indexes(
        self: _ClientCore, *, search: str | None = None, auth_mode: AuthArg = None
    ) -> pd.DataFrame:
        """Return the indexes this token may read: one row per index (name, description, href).

        ``search`` keeps the indexes whose name or description contains it, ignoring case.
        """
        envelope = self.fetch("/v3/index", auth_mode=auth_mode)
        names = index_list_names(envelope.body)
        self._server_index_names[self.base_url] = frozenset(names)
        frame = frame_from_data(envelope, columns=("name", "description", "href"))
        if search:
            needle = search.casefold()
            mask = frame["name"].astype(str).str.casefold().str.contains(needle, regex=False)
            if "description" in frame:
                text = frame["description"].astype(str).str.casefold()
                mask |= text.str.contains(needle, regex=False)
            frame = frame[mask].reset_index(drop=True)
            frame.attrs["vulncheck"] = {**envelope.provenance, "search": search}
        return frame

    def index_envelope(
        self: _ClientCore, name: str, *, auth_mode: AuthArg = None, **params: object
    ) -> Envelope:
        """Query an index and return the raw envelope (``_benchmark``, ``_meta``, ``data``)."""
        name = self._check_index_name(name, auth_mode)
        envelope = self.fetch(f"/v3/index/{name}", params, index=name, auth_mode=auth_mode)
        _records_of(envelope.body, name)
        return envelope

    def index(
        self,
        name: str,
        *,
        all_pages: bool = False,
        max_pages: int | None = None,
        max_rows: int | None = None,
        progress: bool = True,
        tidy: bool = True,
        raw_columns: bool = False,
        cache: bool = True,
        auth_mode: AuthArg = None,
        **params: object,
    ) -> pd.DataFrame:
        """Query an index and return one row per record.

        Keyword arguments are the API's query parameters under their wire names, for
        example ``cve="CVE-2021-44228"``, ``limit=100``, ``page=2``, ``sort="date_added"``,
        ``order="asc"``, ``pubStartDate="2024-01-01"``, ``max_exploit_maturity="weaponized"``.

        With ``tidy`` (the default), frames of nist-nvd2, vulncheck-nvd2, cisa-kev,
        vulncheck-kev and exploits get research-ready columns such as ``cve``,
        ``cvss_score`` and ``ransomware`` first (see :func:`vulncheck_magic._tidy.tidy_frame`);
        ``tidy=False`` keeps the plain flattening. ``raw_columns=True`` keeps the nested
        columns that the tidy columns replace.

        With ``all_pages=True`` the query pages with the cursor until the last page, up to
        ``max_pages`` pages and ``max_rows`` rows (1,000 and 100,000 when unset), showing a
        progress bar unless ``progress`` is false. ``df.attrs["vulncheck"]["paging"]`` records
        whether the result is complete, why it stopped and the cursor to resume from. A page
        that fails after the first ends the run with a warning and keeps the rows before it.

        A repeated identical query within ``cache_ttl`` seconds (see :class:`Client`) returns
        a copy of the earlier frame, marked ``attrs["vulncheck"]["cached"]``; ``cache=False``
        always fetches.
        """
        for label, value in (("max_pages", max_pages), ("max_rows", max_rows)):
            if value is None:
                continue
            if not all_pages:
                raise InvalidParameterError(f"{label} applies to all_pages=True: add it")
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise InvalidParameterError(
                    f"invalid {label} {value!r}: use a whole number of at least 1"
                )
        max_pages = None if max_pages is None else int(max_pages)
        max_rows = None if max_rows is None else int(max_rows)
        settings = ("index", name, all_pages, max_pages, max_rows, tidy, raw_columns)
        cache_key = self._cache_key(settings, params) if cache else None  # type: ignore[attr-defined]
        if cache_key is not None:
            cached = self.frame_cache.get(*cache_key)  # type: ignore[attr-defined]
            if cached is not None:
                return cached
        if all_pages:
            try:
                frame = self._index_all_pages(  # type: ignore[attr-defined]
                    name,
                    params,
                    max_pages=max_pages,
                    max_rows=max_rows,
                    progress=progress,
                    auth_mode=auth_mode,
                )
            except PagingInterrupted as interrupted:
                # Interrupted rows are never cached, but shaped like a finished result.
                if tidy:
                    interrupted.frame = _tidy(interrupted.frame, raw_columns=raw_columns)
                _flag_ignored_filters(interrupted.frame.attrs["vulncheck"])
                raise
        else:
            # One pause for decoding and conversion, which ends after the records are
            # freed, so that the collection it defers does not walk them (see _gc).
            with gc_paused():
                envelope = self.index_envelope(name, auth_mode=auth_mode, **params)  # type: ignore[attr-defined]
                frame = frame_from_data(envelope)
                del envelope
        if tidy:
            frame = _tidy(frame, raw_columns=raw_columns)
        _flag_ignored_filters(frame.attrs["vulncheck"])
        paging = frame.attrs["vulncheck"].get("paging") or {}
        # A run that a failed page cut short is not cached: the next call should retry.
        if cache_key is not None and not paging.get("error"):
            self.frame_cache.put(*cache_key, frame)  # type: ignore[attr-defined]
        return frame

    def _index_all_pages(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        max_pages: int | None,
        max_rows: int | None,
        progress: bool,
        auth_mode: AuthArg,
    ) -> pd.DataFrame:
        from ._frames import PagedFrame

        first: list[Envelope] = []

        checked_name = self._check_index_name(name, auth_mode)  # type: ignore[attr-defined]
        # Every page sends these parameters: a mistake fails here, before the first request.
        normalize_index_params(params)

        def fetch_page(
            page_params: dict[str, object],
        ) -> tuple[Callable[[], list[Any]], Mapping[str, Any]]:
            envelope, load = self.fetch_head(  # type: ignore[attr-defined]
                f"/v3/index/{checked_name}", page_params, index=checked_name, auth_mode=auth_mode
            )
            if not first:
                first.append(envelope)
            meta = envelope.body.get("_meta") if isinstance(envelope.body, dict) else None

            def load_records() -> list[Any]:
                return _records_of(load(), checked_name)

            return load_records, meta if isinstance(meta, dict) else {}

        paged = PagedFrame()

        def paged_frame(summary: PagingSummary) -> pd.DataFrame:
            # An interrupt can fall between a page's conversion and its count, so the
            # frame takes only the pages that the summary counts.
            frame = paged.frame(summary.pages)
            provenance = dict(first[0].provenance)
            provenance["paging"] = summary.as_dict()
            frame.attrs["vulncheck"] = provenance
            return frame

        try:
            summary = collect_pages(
                fetch_page,
                params,
                max_pages=max_pages,
                max_rows=max_rows,
                progress=progress,
                description=name,
                on_page=paged.add,
            )
        except PagingInterrupted as interrupted:
            # The pages received so far go with the interrupt; %vulncheck returns them.
            interrupted.frame = paged_frame(interrupted.summary)
            raise
        return paged_frame(summary)

    def enrich(
        self,
        frame: pd.DataFrame,
        *,
        cve_column: str | None = None,
        sources: Sequence[str] = ("kev", "nvd"),
        progress: bool = True,
        auth_mode: AuthArg = None,
    ) -> pd.DataFrame:
        """Return a copy of ``frame`` with KEV, NVD, exploit or EPSS columns for its CVE ids.

        Each unique CVE id is looked up once per source, a few requests at a time; see
        :func:`vulncheck_magic._enrich.enrich` for the columns and how failures show.
        """
        from ._enrich import enrich

        return enrich(
            frame,
            client=self,  # type: ignore[arg-type]
            cve_column=cve_column,
            sources=sources,
            progress=progress,
            auth_mode=auth_mode,
        )

    # Backups

    def backups(self: _ClientCore, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Return the indexes whose backups this token may download (name, description, href)."""
        envelope = self.fetch("/v3/backup", auth_mode=auth_mode)
        return frame_from_data(envelope, columns=("name", "description", "href"))

    def backup_envelope(self: _ClientCore, name: str, *, auth_mode: AuthArg = None) -> Envelope:
        """Return the raw envelope of ``GET /v3/backup/NAME``."""
        name = self._check_index_name(name, auth_mode)
        return self.fetch(f"/v3/backup/{name}", index=name, auth_mode=auth_mode)

    def backup(self, name: str, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Return the backup files of an index: filename, sha256, date_added, download URLs.

        The URLs are pre-signed and expire (``url_expires``); they carry their own
        credentials, so treat a saved notebook that shows them like a short-lived secret.
        """
        envelope = self.backup_envelope(name, auth_mode=auth_mode)  # type: ignore[attr-defined]
        return frame_from_data(envelope)

    def _backup_files(self, name: str, auth_mode: AuthArg) -> list[Any]:
        from ._backups import BackupFile

        envelope = self.backup_envelope(name, auth_mode=auth_mode)  # type: ignore[attr-defined]
        data = envelope.body.get("data") if isinstance(envelope.body, dict) else None
        if not isinstance(data, list) or not data:
            raise ResponseFormatError(
                f"The backup response for {name!r} lists no files: the index may have no backup."
            )
        return [BackupFile.from_metadata(name, item) for item in data]

    def download_backup(
        self,
        name: str,
        directory: str | Path,
        *,
        unzip: bool = True,
        progress: bool = True,
        auth_mode: AuthArg = None,
    ) -> list[DownloadResult]:
        """Download an index's backup zip(s) into ``directory``, verify sha256 and unzip them.

        The download streams to disk and never keeps the whole file in memory. It sends no API
        token: the pre-signed URL carries its own credentials. A checksum mismatch removes
        the file and raises.
        """
        from ._backups import download_backup

        target = Path(directory).expanduser()
        files = self._backup_files(name, auth_mode)
        target.mkdir(parents=True, exist_ok=True)
        return [
            download_backup(
                self.session,  # type: ignore[attr-defined]
                backup,
                target,
                unzip=unzip,
                progress=progress,
            )
            for backup in files
        ]

    def load_backup(
        self,
        name: str,
        *,
        max_rows: int | None = None,
        directory: str | Path | None = None,
        progress: bool = True,
        tidy: bool = True,
        raw_columns: bool = False,
        auth_mode: AuthArg = None,
    ) -> pd.DataFrame:
        """Download an index's backup and load its records into one frame.

        The zip goes to ``directory`` (a temporary directory, removed afterwards, when
        unset). ``max_rows`` stops reading after that many records; the frame's
        ``attrs["vulncheck"]["truncated"]`` records whether it was cut. ``tidy`` and
        ``raw_columns`` work as in :meth:`index`.
        """
        import pandas as pd

        from ._backups import load_backup

        with _work_directory(directory) as folder:
            results = self.download_backup(
                name, folder, unzip=False, progress=progress, auth_mode=auth_mode
            )
            frames = []
            remaining = max_rows
            truncated = False
            for result in results:
                frame = load_backup(result.zip_path, max_rows=remaining)
                truncated = truncated or bool(frame.attrs.get("vulncheck", {}).get("truncated"))
                frames.append(frame)
                if remaining is not None:
                    remaining -= len(frame)
                    if remaining <= 0:
                        truncated = truncated or result is not results[-1]
                        break
        combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        combined.attrs["vulncheck"] = {
            "endpoint": f"/v3/backup/{name}",
            "index": name,
            "files": [result.zip_path.name for result in results],
            "sha256": [result.sha256 for result in results],
            "rows": len(combined),
            "truncated": truncated,
        }
        if tidy:
            combined = _tidy(combined, raw_columns=raw_columns)
        return combined

    def backup_to_parquet(
        self,
        name: str,
        path: str | Path,
        *,
        directory: str | Path | None = None,
        progress: bool = True,
        auth_mode: AuthArg = None,
    ) -> list[ParquetResult]:
        """Download an index's backup and convert it to Parquet in batches, with bounded memory.

        One backup file gives ``path``; several give ``path`` with ``-1``, ``-2``… before
        the suffix. Nested values are stored as JSON strings.
        """
        from ._backups import backup_to_parquet

        destination = Path(path).expanduser()
        with _work_directory(directory) as folder:
            results = self.download_backup(
                name, folder, unzip=False, progress=progress, auth_mode=auth_mode
            )
            outputs = []
            for number, result in enumerate(results, start=1):
                target = destination
                if len(results) > 1:
                    target = destination.with_name(
                        f"{destination.stem}-{number}{destination.suffix}"
                    )
                outputs.append(backup_to_parquet(result.zip_path, target, progress=progress))
        return outputs

    # Packages and CPEs

    def purl(self: _ClientCore, purl: str, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Look up a package URL: one row per vulnerability (detection, fixed_version).

        The CVE list is in ``df.attrs["vulncheck"]["cves"]`` and the parsed PURL in
        ``df.attrs["vulncheck"]["meta"]["purl_struct"]``.
        """
        import pandas as pd

        from ._frames import records_to_frame

        value = _require_text("purl", purl, example="pkg:npm/lodash@4.17.20")
        envelope = self.fetch("/v3/purl", {"purl": value}, auth_mode=auth_mode)
        data = envelope.body.get("data") if isinstance(envelope.body, dict) else None
        if not isinstance(data, dict):
            raise ResponseFormatError("The /v3/purl response has no 'data' object.")
        vulnerabilities = data.get("vulnerabilities") or []
        frame = records_to_frame(vulnerabilities)
        if frame.empty and not len(frame.columns):
            frame = pd.DataFrame(columns=["detection", "fixed_version"])
        frame.insert(0, "purl", value)
        frame.attrs["vulncheck"] = {**envelope.provenance, "cves": list(data.get("cves") or [])}
        return frame

    def purls(
        self: _ClientCore, purls: Iterable[str], *, auth_mode: AuthArg = None
    ) -> pd.DataFrame:
        """Look up many package URLs in one POST: one row per PURL with vulnerabilities.

        PURLs without vulnerabilities are absent, as in the API's response. PURLs the API
        could not process are in ``df.attrs["vulncheck"]["meta"]["unprocessed"]``.
        """
        values = [value.strip() for value in purls if value and value.strip()]
        if not values:
            raise InvalidParameterError(
                "no PURLs given: pass at least one, for example pkg:npm/lodash@4.17.20"
            )
        envelope = self.request("POST", "/v3/purls", json_body=values, auth_mode=auth_mode)
        return frame_from_data(envelope, columns=("purl", "cves", "vulnerabilities"))

    def cpe(
        self: _ClientCore, cpe: str, *, vulnerable: bool = False, auth_mode: AuthArg = None
    ) -> pd.DataFrame:
        """Return the CVEs that affect a CPE (2.2 URI or 2.3 string): one row per CVE id.

        ``vulnerable=True`` keeps only CVEs for which the CPE is marked vulnerable.
        """
        value = _require_text("cpe", cpe, example="cpe:2.3:a:apache:log4j:2.14.1")
        params: dict[str, object] = {"cpe": value}
        if vulnerable:
            params["isVulnerable"] = True
        envelope = self.fetch("/v3/cpe", params, auth_mode=auth_mode)
        frame = frame_from_data(envelope, columns=("cve",))
        return frame.rename(columns={"value": "cve"})

    def search_cpe(
        self: _ClientCore,
        *,
        part: str | None = None,
        vendor: str | None = None,
        product: str | None = None,
        version: str | None = None,
        vulnerable: bool | None = None,
        auth_mode: AuthArg = None,
        **params: object,
    ) -> pd.DataFrame:
        """Search CPEs by part (a, o or h), vendor, product and version: one row per CPE."""
        if part is not None and part not in ("a", "o", "h"):
            raise InvalidParameterError(
                f"invalid part {part!r}: use a (application), o (OS) or h (hardware)"
            )
        query: dict[str, object] = {
            "part": part,
            "vendor": vendor,
            "product": product,
            "version": version,
            "isVulnerable": vulnerable,
            **params,
        }
        if all(query.get(key) is None for key in ("part", "vendor", "product", "version")):
            raise InvalidParameterError("give at least one of part, vendor, product and version")
        envelope = self.fetch("/v3/search/cpe", query, auth_mode=auth_mode)
        return frame_from_data(envelope, columns=("cpe", "cves"))

    def search_cve(
        self: _ClientCore, cve: str, *, auth_mode: AuthArg = None, **params: object
    ) -> pd.DataFrame:
        """Find a CVE across every index the token may read: one row per hit (id, index, score,
        source fields). ``_meta`` in the provenance has the per-index counts.
        """
        envelope = self.fetch(
            "/v3/search/cve", {"cve": normalize_cve(cve), **params}, auth_mode=auth_mode
        )
        return frame_from_data(envelope, columns=("id", "index", "score"))

    # Text lists and rules

    def tags(self, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Return VulnCheck's C2 IP addresses (``/v3/tags/vulncheck-c2``): one ``ip`` per row."""
        return self._text_list("/v3/tags/vulncheck-c2", "ip", auth_mode)  # type: ignore[attr-defined]

    def pdns(self, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Return VulnCheck's C2 hostnames for protective DNS: one ``hostname`` per row."""
        return self._text_list("/v3/pdns/vulncheck-c2", "hostname", auth_mode)  # type: ignore[attr-defined]

    def _text_list(self: _ClientCore, path: str, column: str, auth_mode: AuthArg) -> pd.DataFrame:
        import pandas as pd

        envelope = self.request("GET", path, {"format": "txt"}, auth_mode=auth_mode, expect="text")
        lines = [line.strip() for line in str(envelope.body).splitlines()]
        frame = pd.DataFrame(
            {column: [line for line in lines if line and not line.startswith("#")]}
        )
        frame.attrs["vulncheck"] = envelope.provenance
        return frame

    def rules_text(self: _ClientCore, kind: str, *, auth_mode: AuthArg = None) -> str:
        """Return the Initial Access detection rules for ``snort`` or ``suricata`` as text."""
        if kind not in _RULE_KINDS:
            raise InvalidParameterError(f"invalid rule type {kind!r}: use snort or suricata")
        envelope = self.request(
            "GET", f"/v3/rules/initial-access/{kind}", auth_mode=auth_mode, expect="text"
        )
        return str(envelope.body)

    def rules(self, kind: str, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Return the Initial Access rules for ``snort`` or ``suricata``: one rule per row,
        with its ``sid`` and ``msg`` parsed out. Comment and blank lines are skipped.
        """
        text = self.rules_text(kind, auth_mode=auth_mode)  # type: ignore[attr-defined]
        return rules_frame(text, kind)

    # Account and anything else

    def entitlements(self: _ClientCore, *, auth_mode: AuthArg = None) -> pd.DataFrame:
        """Return the token's entitlements: one row per (role, entitlement)."""
        import pandas as pd

        envelope = self.fetch("/v3/entitlements", auth_mode=auth_mode)
        body = envelope.body if isinstance(envelope.body, dict) else {}
        entitlements = body.get("entitlements")
        if not isinstance(entitlements, dict):
            raise ResponseFormatError("The /v3/entitlements response has no 'entitlements' object.")
        rows = [
            {"role": role, "entitlement": item}
            for role, items in entitlements.items()
            for item in (items if isinstance(items, list) else [items])
        ]
        frame = pd.DataFrame(rows, columns=["role", "entitlement"])
        frame.attrs["vulncheck"] = envelope.provenance
        return frame

    def get(
        self: _ClientCore, path: str, *, auth_mode: AuthArg = None, **params: object
    ) -> pd.DataFrame:
        """GET any other endpoint, for example ``/v4/advisory/list``, as a frame.

        A body with a ``data`` list gives one row per item; any other JSON object gives one
        row with its fields flattened.
        """
        from ._frames import records_to_frame

        if not path.startswith("/") or "://" in path or ".." in path.split("/"):
            raise InvalidParameterError(
                f"invalid path {path!r}: give a path on the API host, such as /v4/advisory/list"
            )
        envelope = self.fetch(path, params, auth_mode=auth_mode)
        body = envelope.body
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            return frame_from_data(envelope)
        frame = records_to_frame(body if isinstance(body, list) else [body])
        frame.attrs["vulncheck"] = envelope.provenance
        return frame


class IgnoredFilterWarning(VulnCheckWarning):
    """A filter was sent that the index does not list among its parameters."""


_NOT_FILTERS = frozenset({"page", "limit", "cursor", "start_cursor", "sort", "order"})


def _flag_ignored_filters(provenance: dict[str, Any]) -> None:
    """Warn about sent filters that ``_meta.parameters`` does not list, and record them.

    The API ignores filters an index does not support instead of rejecting them, so a
    misspelled or unsupported filter would silently return unfiltered rows. Nothing is
    checked when the response has no ``_meta.parameters`` (it is missing on some empty
    results).
    """
    meta = provenance.get("meta") or {}
    listed = meta.get("parameters") if isinstance(meta, dict) else None
    if not isinstance(listed, list) or not listed:
        return
    accepted = {str(item.get("name")) for item in listed if isinstance(item, dict)}
    sent = [name for name in provenance.get("params", {}) if name not in _NOT_FILTERS]
    ignored = [name for name in sent if name not in accepted]
    if not ignored:
        return
    provenance["ignored_params"] = ignored
    index = provenance.get("index")
    names = ", ".join(sorted(name for name in accepted if name))
    message = (
        f"Index {index!r} does not list {', '.join(ignored)} among its filters, so the "
        f"server most likely ignored {'it' if len(ignored) == 1 else 'them'} and the rows are "
        f"not filtered that way. Its filters: {names}."
    )
    logger.warning("%s", message)
    warnings.warn(message, IgnoredFilterWarning, stacklevel=4)


def rules_frame(text: str, kind: str) -> pd.DataFrame:
    """Parse a Snort or Suricata rule file into one row per rule: sid, msg, rule."""
    import pandas as pd

    rows = []
    for line in text.splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        sid = _RULE_SID.search(rule)
        msg = _RULE_MSG.search(rule)
        rows.append(
            {
                "sid": int(sid.group(1)) if sid else None,
                "msg": msg.group(1) if msg else None,
                "rule": rule,
            }
        )
    frame = pd.DataFrame(rows, columns=["sid", "msg", "rule"])
    frame.attrs["vulncheck"] = {"endpoint": f"/v3/rules/initial-access/{kind}", "rules": len(frame)}
    return frame


def _tidy(frame: pd.DataFrame, *, raw_columns: bool) -> pd.DataFrame:
    """Apply the tidy rule of the frame's index, named in its provenance."""
    from ._tidy import tidy_frame

    index = frame.attrs.get("vulncheck", {}).get("index")
    return tidy_frame(frame, str(index), raw_columns=raw_columns) if index else frame


def _require_text(name: str, value: str, *, example: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidParameterError(f"missing {name}: give one, for example {example}")
    return text


@contextlib.contextmanager
def _work_directory(directory: str | Path | None) -> Iterator[Path]:
    """Yield ``directory``, created if needed, or a temporary directory removed at exit."""
    if directory is not None:
        path = Path(directory).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="vulncheck-backup-") as temporary:
        yield Path(temporary)


def index_list_names(body: Any) -> list[str]:
    """Return the names of an index or backup list body; raise if it has no data list."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ResponseFormatError(
            "The index list response has no 'data' list: check the base URL (%vulncheck status)."
        )
    return [str(item["name"]) for item in data if isinstance(item, dict) and "name" in item]


def frame_from_data(envelope: Envelope, columns: Sequence[str] = ()) -> pd.DataFrame:
    """Build the frame of an envelope's ``data`` list, with provenance in ``attrs``.

    An empty list gives an empty frame with ``columns``, so that code that selects those
    columns works on empty results too.
    """
    import pandas as pd

    from ._frames import records_to_frame

    data = envelope.body.get("data") if isinstance(envelope.body, dict) else None
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"The response for {envelope.provenance['endpoint']} has no list in 'data'."
        )
    frame = records_to_frame(data)
    if columns and frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(columns))
    frame.attrs["vulncheck"] = envelope.provenance
    return frame


def _records_of(body: Any, name: str) -> list[Any]:
    """Return the ``data`` list of an index envelope; raise ResponseFormatError without one."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ResponseFormatError(
            f"The response for index {name!r} has no list of records in 'data': "
            "check the base URL (%vulncheck status)."
        )
    records: list[Any] = body["data"]
    return records
