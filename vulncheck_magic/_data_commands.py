"""The ``%vulncheck`` commands that fetch data: parsed arguments in, a frame (or dict) out."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ._paging import PagingInterrupted, PagingWarning
from ._params import InvalidParameterError
from ._parser import index_params

if TYPE_CHECKING:
    import pandas as pd

    from ._client import Client

__all__ = ["DATA_COMMANDS", "run_data_command"]

DATA_COMMANDS = frozenset(
    {
        "indexes",
        "index",
        "backups",
        "backup",
        "purl",
        "purls",
        "cpe",
        "search",
        "tags",
        "pdns",
        "rules",
        "entitlements",
        "get",
        "enrich",
    }
)


def run_data_command(
    client: Client,
    args: argparse.Namespace,
    *,
    progress: bool = True,
    namespace: Mapping[str, Any] | None = None,
    reshape: bool = True,
) -> Any:
    """Run one parsed data command and return its frame, or the JSON body with ``--raw``.

    ``--explode``, ``--columns``, ``--sort-by``, ``--flat`` and ``--export`` apply to the
    frame, in that order. ``reshape=False`` leaves them to the caller, because a batch cell
    applies them to the combined frame.
    ``namespace`` is the notebook's variables, from which ``enrich DF`` reads DF. When it is
    None, the running IPython shell's ``user_ns`` is used.
    """
    check_frame_options(args)
    if args.command == "enrich":
        result = _enrich(client, args, progress, namespace)
    else:
        result = _HANDLERS[args.command](client, args, progress)
    if getattr(args, "raw", False) or not reshape:
        return result
    return reshape_result(result, args)


_FRAME_OPTIONS = ("explode", "columns", "sort_by", "flat", "export")


def check_frame_options(args: argparse.Namespace) -> None:
    """Reject option combinations and export targets that would fail only after the fetch.

    Checking before the request means a mistake costs no request and loses no result.
    """
    used_options = [name for name in _FRAME_OPTIONS if getattr(args, name, None)]
    if getattr(args, "raw", False) and used_options:
        option = "--" + used_options[0].replace("_", "-")
        raise UsageError(f"{option} applies to frames: leave out --raw, or leave out {option}")
    output = getattr(args, "output", None)
    if output and not output.isidentifier():
        raise UsageError(f"invalid variable name {output!r} for --output: use a Python name")
    columns = getattr(args, "columns", None) or []
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise UsageError(f"--columns names {', '.join(repeated)} twice: give each column once")
    if getattr(args, "export", None):
        from ._export import check_export_target

        check_export_target(Path(args.export).expanduser())


def reshape_result(frame: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Apply the frame options of ``args`` to ``frame``.

    A failed export prints a warning and still returns the frame, so the fetched result
    is never lost.
    """
    from ._reshape import explode_field, select_columns, sort_frame

    if getattr(args, "explode", None):
        frame = explode_field(frame, args.explode)
    if getattr(args, "columns", None):
        frame = select_columns(frame, args.columns)
    if getattr(args, "sort_by", None):
        frame = sort_frame(frame, *args.sort_by)
    if getattr(args, "flat", False):
        from ._export import to_flat

        frame = to_flat(frame)
    if getattr(args, "export", None):
        from ._export import export_frame

        try:
            path = export_frame(frame, Path(args.export).expanduser())
        except (OSError, InvalidParameterError) as exc:
            print(f"Warning: the result was not written to {args.export}: {exc}", file=sys.stderr)
        else:
            rows = "1 row" if len(frame) == 1 else f"{len(frame):,} rows"
            print(f"Wrote {rows} to {path}.")
    return frame


def _indexes(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if args.raw:
        return client.fetch("/v3/index", auth_mode=args.auth).body
    return client.indexes(search=args.search, auth_mode=args.auth)


def _index(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    params = index_params(args)
    if args.all:
        if args.raw:
            raise UsageError("--raw returns one page: leave out --all, or leave out --raw")
        if args.page is not None or args.start_cursor:
            raise UsageError(
                "--all pages with the cursor by itself: leave out --page and --start_cursor"
            )
    elif args.max_pages is not None or args.max_rows is not None:
        option = "--max-pages" if args.max_pages is not None else "--max-rows"
        raise UsageError(f"{option} applies to --all: add --all")
    if args.raw and (args.no_tidy or args.raw_columns):
        raise UsageError("--raw returns the JSON response: leave out --no-tidy and --raw-columns")
    if args.no_tidy and args.raw_columns:
        raise UsageError("--raw-columns keeps columns next to the tidy ones: leave out --no-tidy")
    if args.raw:
        return client.index_envelope(args.name, auth_mode=args.auth, **params).body
    try:
        return client.index(
            args.name,
            all_pages=args.all,
            max_pages=args.max_pages,
            max_rows=args.max_rows,
            progress=progress,
            tidy=not args.no_tidy,
            raw_columns=args.raw_columns,
            cache=not args.no_cache,
            auth_mode=args.auth,
            **params,
        )
    except PagingInterrupted as interrupted:
        # In a notebook, Ctrl-C or the stop button during --all keeps what has arrived.
        warnings.warn(interrupted.summary.warning, PagingWarning, stacklevel=2)
        return interrupted.frame


def _backups(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if args.raw:
        return client.fetch("/v3/backup", auth_mode=args.auth).body
    return client.backups(auth_mode=args.auth)


def _backup(client: Client, args: argparse.Namespace, progress: bool) -> Any:

    acting = args.download or args.load or args.parquet
    if args.raw and acting:
        raise UsageError(
            "--raw shows the backup's metadata: leave out --download, --load and --parquet"
        )
    if args.max_rows is not None and not args.load:
        raise UsageError("--max-rows applies to --load: add --load")
    if args.download:
        _check_folder("--download", Path(args.download).expanduser())
    if args.keep_zip:
        _check_folder("--keep-zip", Path(args.keep_zip).expanduser())
    if args.parquet:
        import importlib.util

        if not args.parquet.lower().endswith(".parquet"):
            raise UsageError(
                f"--parquet writes Parquet: use a name ending in .parquet, not {args.parquet!r}"
            )
        if importlib.util.find_spec("pyarrow") is None:
            raise UsageError("--parquet needs pyarrow: pip install 'vulncheck-magic[parquet]'")
        _check_folder("--parquet", Path(args.parquet).expanduser().parent)
    if args.keep_zip and not (args.load or args.parquet):
        raise UsageError("--keep-zip applies to --load and --parquet")
    if (args.no_tidy or args.raw_columns) and not args.load:
        raise UsageError("--no-tidy and --raw-columns apply to --load: add --load")
    if args.no_tidy and args.raw_columns:
        raise UsageError("--raw-columns keeps columns next to the tidy ones: leave out --no-tidy")
    if args.raw:
        return client.backup_envelope(args.name, auth_mode=args.auth).body
    try:
        return _run_backup(client, args, progress)
    except OSError as exc:
        # Checked folders can still fail later: a full disk, or permissions changed.
        raise UsageError(
            f"cannot write the backup files: {exc.strerror or exc} ({exc.filename}); "
            "free some space or choose another folder"
        ) from None


def _run_backup(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    import pandas as pd

    if args.download:
        results = client.download_backup(
            args.name, args.download, progress=progress, auth_mode=args.auth
        )
        rows = []
        for result in results:
            rows.append(
                {"file": str(result.zip_path), "bytes": result.size, "sha256": result.sha256}
            )
            rows += [
                {"file": str(path), "bytes": path.stat().st_size, "sha256": None}
                for path in result.extracted
            ]
        frame = pd.DataFrame(rows, columns=["file", "bytes", "sha256"])
        frame.attrs["vulncheck"] = {"endpoint": f"/v3/backup/{args.name}", "index": args.name}
        return frame
    if args.load:
        return client.load_backup(
            args.name,
            max_rows=args.max_rows,
            directory=args.keep_zip,
            progress=progress,
            tidy=not args.no_tidy,
            raw_columns=args.raw_columns,
            auth_mode=args.auth,
        )
    if args.parquet:
        outputs = client.backup_to_parquet(
            args.name,
            Path(args.parquet),
            directory=args.keep_zip,
            progress=progress,
            auth_mode=args.auth,
        )
        frame = pd.DataFrame(
            [
                {"path": str(output.path), "rows": output.rows, "columns": output.columns}
                for output in outputs
            ]
        )
        frame.attrs["vulncheck"] = {"endpoint": f"/v3/backup/{args.name}", "index": args.name}
        return frame
    return client.backup(args.name, auth_mode=args.auth)


def _purl(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if args.raw:
        return client.fetch("/v3/purl", {"purl": args.purl}, auth_mode=args.auth).body
    return client.purl(args.purl, auth_mode=args.auth)


def _purls(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if not args.purls:
        raise UsageError(
            "missing PURLs: give them after purls, or put one per line in a %%vulncheck purls cell"
        )
    if args.raw:
        return client.request(
            "POST", "/v3/purls", json_body=list(args.purls), auth_mode=args.auth
        ).body
    return client.purls(args.purls, auth_mode=args.auth)


def _cpe(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if args.raw:
        params: dict[str, object] = {
            "cpe": args.cpe,
            "isVulnerable": True if args.vulnerable else None,
        }
        return client.fetch("/v3/cpe", params, auth_mode=args.auth).body
    return client.cpe(args.cpe, vulnerable=args.vulnerable, auth_mode=args.auth)


def _search(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if args.search_kind is None:
        raise UsageError(
            "missing search kind: use %vulncheck search cpe … or %vulncheck search cve ID"
        )
    if args.search_kind == "cpe":
        query = {
            "part": args.part,
            "vendor": args.vendor,
            "product": args.product,
            "version": args.version,
            "vulnerable": True if args.vulnerable else None,
        }
        if args.raw:
            wire = {key: value for key, value in query.items() if key != "vulnerable"}
            wire["isVulnerable"] = query["vulnerable"]
            return client.fetch("/v3/search/cpe", wire, auth_mode=args.auth).body
        return client.search_cpe(auth_mode=args.auth, **query)  # type: ignore[arg-type]
    paging = {"limit": args.limit, "page": args.page}
    if args.raw:
        return client.fetch("/v3/search/cve", {"cve": args.cve, **paging}, auth_mode=args.auth).body
    return client.search_cve(args.cve, auth_mode=args.auth, **paging)


def _tags(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    return client.tags(auth_mode=args.auth)


def _pdns(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    return client.pdns(auth_mode=args.auth)


def _rules(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    from ._endpoints import rules_frame

    if args.save:
        target = Path(args.save).expanduser()
        if target.is_dir():
            raise UsageError(f"--save needs a file name, and {args.save!r} is a folder")
        _check_folder("--save", target.parent)
    text = client.rules_text(args.kind, auth_mode=args.auth)
    frame = rules_frame(text, args.kind)
    if args.save:
        path = Path(args.save).expanduser()
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            # The rules are fetched already: return them and warn that the file is missing.
            warnings.warn(
                f"Could not save the rules to {str(path)!r}: {exc.strerror or exc}. The frame "
                "is returned without the file.",
                stacklevel=2,
            )
        else:
            print(f"Saved {len(frame)} {args.kind} rules to {path}.")
    return frame


def _check_folder(option: str, folder: Path) -> None:
    """Raise UsageError unless ``folder``, or the nearest existing folder above it, is writable.

    Missing folders are created later, so the nearest existing one decides. Checking before
    the request means a mistake costs no download.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} needs a folder, and {str(existing)!r} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} cannot write to {str(folder)!r}, because {str(existing)!r} is not "
            "writable: choose another folder"
        )


def _entitlements(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    if args.raw:
        return client.fetch("/v3/entitlements", auth_mode=args.auth).body
    return client.entitlements(auth_mode=args.auth)


def _get(client: Client, args: argparse.Namespace, progress: bool) -> Any:
    params = dict(args.param)
    if args.raw:
        return client.fetch(args.path, params, auth_mode=args.auth).body
    return client.get(args.path, auth_mode=args.auth, **params)


def _enrich(
    client: Client,
    args: argparse.Namespace,
    progress: bool,
    namespace: Mapping[str, Any] | None,
) -> Any:
    import pandas as pd

    cell_values = getattr(args, "cell_values", None)
    if cell_values is not None:
        if args.cve_column:
            raise UsageError(
                "a %%vulncheck enrich cell puts its ids in a column named cve: leave out "
                "--cve-column"
            )
        if args.frame:
            raise UsageError(
                "a %%vulncheck enrich cell takes its CVE ids from the cell: leave out DF"
            )
        frame = pd.DataFrame({"cve": cell_values})
        return client.enrich(
            frame, cve_column="cve", sources=args.sources, progress=progress, auth_mode=args.auth
        )
    if namespace is None:
        namespace = _shell_namespace()
    name = args.frame
    if not name:
        raise UsageError(
            "missing DF: give the name of a DataFrame, for example %vulncheck enrich df, or use "
            "a %%vulncheck enrich cell with one CVE id per line"
        )
    if name not in namespace:
        raise UsageError(
            f"no variable {name!r} in the notebook: give the name of a DataFrame, for example "
            "%vulncheck enrich df"
        )
    frame = namespace[name]
    if not isinstance(frame, pd.DataFrame):
        raise UsageError(
            f"{name!r} is a {type(frame).__name__}, not a DataFrame: enrich takes a DataFrame"
        )
    return client.enrich(
        frame,
        cve_column=args.cve_column,
        sources=args.sources,
        progress=progress,
        auth_mode=args.auth,
    )


def _shell_namespace() -> Mapping[str, Any]:
    from IPython.core.getipython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise UsageError(
            "enrich DF reads DF from the notebook, and no IPython shell runs: call "
            "Client.enrich(frame) instead"
        )
    return shell.user_ns


_HANDLERS = {
    "indexes": _indexes,
    "index": _index,
    "backups": _backups,
    "backup": _backup,
    "purl": _purl,
    "purls": _purls,
    "cpe": _cpe,
    "search": _search,
    "tags": _tags,
    "pdns": _pdns,
    "rules": _rules,
    "entitlements": _entitlements,
    "get": _get,
}
