"""The ``%vulncheck`` line magic: a thin shell over :class:`vulncheck_magic.Client`."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import CaselessStrEnum, Float, Int, TraitError, Unicode, observe, validate

from ._auth import AuthMode, TokenStore, get_token_store, parse_auth_mode
from ._batch import body_values, run_batch
from ._cache import DEFAULT_CACHE_TTL
from ._client import (
    BASE_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
    Client,
    DryRunRequest,
    default_base_url,
    is_loopback_url,
    normalize_base_url,
    resolve_ca_bundle,
)
from ._data_commands import DATA_COMMANDS, reshape_result, run_data_command
from ._errors import VulnCheckWarning
from ._params import InvalidParameterError
from ._parser import HelpRequested, build_parser, format_help, parse_line, split_line
from ._summary import summarize

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from ._login_form import LoginForm
    from .demo import DemoServer

__all__ = ["VulnCheckMagic"]

# Commands that a %%vulncheck cell runs once per value of its body.
_BATCH_COMMANDS = frozenset({"index", "purl", "cpe", "search cve"})


@magics_class
class VulnCheckMagic(Magics):
    """The ``%vulncheck`` magic and its settings.

    The class name is the ``%config`` section: ``%config VulnCheckMagic.auth_mode = "cookie"``.
    """

    auth_mode = CaselessStrEnum(
        [mode.value for mode in AuthMode],
        default_value=AuthMode.HEADER.value,
        help="Where requests carry the token: header (Authorization: Bearer), query (token= "
        "parameter) or cookie (a cookie named token).",
    ).tag(config=True)

    base_url = Unicode(
        help="API root URL. Defaults to VULNCHECK_API_URL, else https://api.vulncheck.com. "
        "Plain http:// is accepted only for loopback addresses.",
    ).tag(config=True)

    max_retries = Int(
        DEFAULT_MAX_RETRIES,
        min=0,
        help="Retries of a GET after a connection error or HTTP 429, 502, 503 or 504.",
    ).tag(config=True)

    max_retry_wait = Float(
        DEFAULT_MAX_RETRY_WAIT,
        min=0.0,
        help="Maximum wait before one retry, in seconds, whatever Retry-After requests.",
    ).tag(config=True)

    connect_timeout = Float(
        DEFAULT_TIMEOUT[0], min=0.1, help="Seconds to wait for a TCP connection."
    ).tag(config=True)

    read_timeout = Float(
        DEFAULT_TIMEOUT[1], min=0.1, help="Seconds to wait for each read of a response."
    ).tag(config=True)

    cache_ttl = Float(
        DEFAULT_CACHE_TTL,
        min=0.0,
        help="Seconds for which a repeated identical index query returns the earlier frame; "
        "0 turns the cache off. --no-cache skips it for one query.",
    ).tag(config=True)

    ca_bundle = Unicode(
        "",
        help="Path of a CA bundle for TLS verification. Empty: REQUESTS_CA_BUNDLE or "
        "SSL_CERT_FILE when set, else certifi's bundle. Verification cannot be turned off.",
    ).tag(config=True)

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        if not self.base_url:
            try:
                self.base_url = default_base_url()
            except TraitError as exc:
                print(
                    f"Warning: {BASE_URL_ENV_VAR} is ignored: {exc}. Using {DEFAULT_BASE_URL}.",
                    file=sys.stderr,
                )
                self.base_url = DEFAULT_BASE_URL
        self.token_store: TokenStore = get_token_store()
        self.demo: DemoServer | None = None
        self.login_form: LoginForm | None = None
        # Printed after the cell has run, so that each line appears under the displayed frame.
        self.pending_summaries: list[str] = []
        self.client = Client(
            self.base_url,
            auth_mode=self.auth_mode,
            token=self.token_store,
            timeout=(self.connect_timeout, self.read_timeout),
            max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait,
            verify=self.ca_bundle or True,
            cache_ttl=self.cache_ttl,
        )
        self.parser = build_parser()

    @validate("base_url")
    def _validate_base_url(self, proposal: dict[str, Any]) -> str:
        # %config shows the message of a TraitError as one logged error line.
        try:
            url = normalize_base_url(proposal["value"])
        except ValueError as exc:
            raise TraitError(str(exc)) from None
        if url.startswith("http://") and not is_loopback_url(url):
            raise TraitError(
                f"invalid base URL {url!r}: plain http:// would expose the token; use https:// "
                "(plain http is allowed only for loopback addresses such as 127.0.0.1)"
            )
        return url

    @observe("base_url", "auth_mode")
    def _settings_changed(self, change: dict[str, Any]) -> None:
        client = getattr(self, "client", None)
        if client is None:
            return
        if change["name"] == "auth_mode":
            client.auth_mode = change["new"]
        elif self.demo is None:
            client.base_url = change["new"]

    @observe("cache_ttl")
    def _cache_ttl_changed(self, change: dict[str, Any]) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.frame_cache.ttl = change["new"]

    @observe("max_retries", "max_retry_wait", "connect_timeout", "read_timeout", "ca_bundle")
    def _transport_changed(self, change: dict[str, Any]) -> None:
        client = getattr(self, "client", None)
        if client is None:
            return
        client.timeout = (self.connect_timeout, self.read_timeout)
        client.set_retry_policy(self.max_retries, self.max_retry_wait)
        client.session.verify = resolve_ca_bundle(self.ca_bundle or True)

    @line_cell_magic
    def vulncheck(self, line: str, cell: str | None = None) -> Any:
        # The docstring is generated from the parser below, after the class.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", VulnCheckWarning)
            try:
                if cell is None:
                    args, result = self._run_line(line)
                else:
                    args, result = self._run_cell(line, cell)
            except HelpRequested:
                return None
            except InvalidParameterError as exc:
                raise UsageError(str(exc)) from None
            finally:
                _show_warnings(caught)
        summary = summarize(result)
        if summary:
            self.pending_summaries.append(self.client.redact(summary))
        output = getattr(args, "output", None)
        if output:
            if not output.isidentifier():
                raise UsageError(f"invalid variable name {output!r} for --output")
            self.shell.user_ns[output] = result
            return None
        return result

    def print_summaries(self, *args: object) -> None:
        """Print the summaries of this cell's results; IPython calls it after each cell."""
        summaries, self.pending_summaries = self.pending_summaries, []
        for summary in summaries:
            print(summary)

    def _run_line(self, line: str) -> tuple[argparse.Namespace, Any]:
        args = parse_line(self.parser, line)
        if args.command in DATA_COMMANDS:
            if getattr(args, "dry_run", False):
                return args, self._dry_run(args)
            return args, run_data_command(self.client, args, namespace=self.shell.user_ns)
        handler = getattr(self, f"_command_{args.command}", None)
        if handler is None:
            raise UsageError("missing command. Run %vulncheck? for help.")
        return args, handler(args)

    def _dry_run(self, args: argparse.Namespace) -> None:
        """Print the first request the command would send, as curl, and send nothing."""
        self.client.dry_run = True
        try:
            run_data_command(self.client, args, progress=False, namespace=self.shell.user_ns)
        except DryRunRequest as request:
            print(request.curl)
        else:
            print("This command sends no request.")
        finally:
            self.client.dry_run = False
        args.output = None

    def _run_cell(self, line: str, cell: str) -> tuple[argparse.Namespace, Any]:
        """Run a ``%%vulncheck`` cell: the line once per body value, or purls as one batch."""
        words = split_line(line)
        command = words[0] if words else ""
        if command == "search":
            command = " ".join(words[:2])
        values = body_values(cell)
        if command == "enrich":
            args = parse_line(self.parser, line)
            if not values:
                raise UsageError("the cell has no CVE ids: put one per line below the magic line")
            args.cell_values = values
            if getattr(args, "dry_run", False):
                return args, self._dry_run(args)
            return args, run_data_command(self.client, args, namespace=self.shell.user_ns)
        if command == "purls":
            args = parse_line(self.parser, line)
            args.purls = [*args.purls, *values]
            if getattr(args, "dry_run", False):
                return args, self._dry_run(args)
            return args, run_data_command(self.client, args)
        if command not in _BATCH_COMMANDS:
            raise UsageError(
                f"a %%vulncheck cell runs {', '.join(sorted(_BATCH_COMMANDS))}, purls or "
                f"enrich, not "
                f"{command or 'nothing'}: use the line magic %vulncheck for it"
            )
        if command == "index" and (len(words) < 3 or not words[-1].startswith("--")):
            raise UsageError(
                "end the line with the option that takes each value, and put other options "
                "before it, for example %%vulncheck index vulncheck-kev -o kev --cve"
            )
        if not values:
            raise UsageError("the cell has no values: put one value per line below the magic line")
        parsed: dict[str, argparse.Namespace] = {}
        problems: list[str] = []
        for value in values:
            try:
                parsed[value] = parse_line(self.parser, f"{line} {shlex.quote(value)}")
            except UsageError as exc:
                problems.append(str(exc))
        if not parsed:
            raise UsageError(problems[0])
        first = next(iter(parsed.values()))
        if getattr(first, "raw", False) or getattr(first, "dry_run", False):
            raise UsageError(
                "--raw and --dry-run work on one value: use the line magic %vulncheck for them"
            )

        def run_one(value: str) -> Any:
            # A value that did not parse is parsed again, so that its row gets its message.
            args = parsed.get(value) or parse_line(self.parser, f"{line} {shlex.quote(value)}")
            return run_data_command(self.client, args, progress=False, reshape=False)

        # --explode, --columns, --sort-by, --flat and --export apply to the combined frame.
        return first, reshape_result(run_batch(values, run_one), first)

    # Session commands

    def _command_demo(self, args: argparse.Namespace) -> None:
        if args.stop:
            self.stop_demo()
            return
        if self.demo is not None and self.demo.running:
            print(f"The demo API already runs at {self.demo.url}.")
            return
        from .demo import DEMO_TOKEN, DemoServer

        try:
            server = DemoServer(port=args.port).start()
        except OSError as exc:
            raise UsageError(
                f"cannot start the demo API on port {args.port}: {exc.strerror or exc}. "
                "Choose another --port, or leave it out to use a free port."
            ) from None
        self.demo = server
        self.client.base_url = server.url
        self.token_store.set_demo_token(DEMO_TOKEN)
        print(
            f"Demo API running at {server.url} with real CISA KEV and NVD records. "
            "This kernel's queries go there now; %vulncheck demo --stop restores "
            f"{self.base_url}."
        )

    def stop_demo(self) -> None:
        """Stop the demo API, if it runs, and send queries to ``base_url`` again."""
        if self.demo is None:
            print("The demo API is not running.")
            return
        self.demo.stop()
        self.demo = None
        self.token_store.clear_demo_token()
        self.client.base_url = self.base_url
        print(f"Demo API stopped. Queries go to {self.base_url} again.")

    def _command_login(self, args: argparse.Namespace) -> None:
        from ._login import login_from_environment, start_login

        mode = parse_auth_mode(args.auth or self.auth_mode)
        if args.env:
            outcome = login_from_environment(args.env, self.client, mode, self.token_store)
            if outcome.ok:
                self.auth_mode = mode.value
            print(outcome.message)
            return
        form = start_login(
            self.shell, self.client, mode, self.token_store, self, prompt=args.prompt
        )
        if form is not None:
            from IPython.display import display

            self.login_form = form
            display(form)

    def _command_logout(self, args: argparse.Namespace) -> None:
        from ._login import logout_message

        had_token = self.token_store.clear_session_token()
        print(logout_message(self.token_store, had_token))

    def _command_status(self, args: argparse.Namespace) -> pd.DataFrame:
        import pandas as pd

        demo = f"running at {self.demo.url}" if self.demo is not None else "off"
        rows = {
            "base_url": self.client.base_url,
            "auth_mode": self.client.auth_mode.value,
            "token": self.token_store.describe(),
            "demo": demo,
        }
        return pd.DataFrame({"value": list(rows.values())}, index=pd.Index(rows, name="setting"))


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print our warnings as one line each; pass any other warning on unchanged."""
    for item in caught:
        if issubclass(item.category, VulnCheckWarning):
            print(f"Warning: {item.message}", file=sys.stderr)
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)


VulnCheckMagic.vulncheck.__doc__ = format_help()
