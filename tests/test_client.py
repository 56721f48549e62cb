"""The Python API against the demo API and a scripted server on 127.0.0.1."""

from __future__ import annotations

import logging
import traceback

import pandas as pd
import pytest
import requests

from vulncheck_magic import (
    AuthenticationError,
    BadRequestError,
    Client,
    EntitlementError,
    InsecureTransportError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TokenMissingError,
    TokenStore,
    UnknownIndexError,
    VulnCheckError,
    __version__,
)
from vulncheck_magic._params import InvalidParameterError
from vulncheck_magic.demo import DemoServer

from .conftest import SECRET_TOKEN
from .scripted_server import Reply, scripted_server

KEV_RECORD = (
    b'{"_benchmark": 0.01, "_meta": {"total_documents": 1}, "data": [{"cve": ["CVE-2021-44228"]}]}'
)


def all_texts(error: BaseException) -> str:
    """str, repr and the formatted traceback of an error, chained causes included."""
    formatted = "".join(traceback.format_exception(error))
    return "\n".join([str(error), repr(error), formatted])


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_token_travels_only_in_chosen_place(demo_server: DemoServer, mode: str) -> None:
    with Client(demo_server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
        frame = client.index("vulncheck-kev", cve="CVE-2021-44228")
    assert len(frame) == 1
    seen = demo_server.requests[-1]
    authorization = seen.headers.get("Authorization")
    assert (authorization == f"Bearer {SECRET_TOKEN}") == (mode == "header")
    assert (seen.query.get("token") == [SECRET_TOKEN]) == (mode == "query")
    assert (seen.cookies.get("token") == SECRET_TOKEN) == (mode == "cookie")
    if mode != "header":
        assert authorization is None
    if mode != "query":
        assert "token" not in seen.query
    if mode != "cookie":
        assert "Cookie" not in seen.headers


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_per_call_auth_mode_overrides_default(demo_server: DemoServer, mode: str) -> None:
    with Client(demo_server.url, token=SECRET_TOKEN, auth_mode="header") as client:
        client.indexes(auth_mode=mode)
    seen = demo_server.requests[-1]
    assert ("Authorization" in seen.headers) == (mode == "header")
    assert ("token" in seen.query) == (mode == "query")


def test_provenance_in_attrs(client: Client) -> None:
    frame = client.index("cisa-kev", limit=5, page=2, cve=None)
    provenance = frame.attrs["vulncheck"]
    assert provenance["endpoint"] == "/v3/index/cisa-kev"
    assert provenance["index"] == "cisa-kev"
    assert provenance["params"] == {"limit": "5", "page": "2"}
    assert provenance["meta"]["total_documents"] == 1404
    assert provenance["meta"]["page"] == 2
    assert isinstance(provenance["benchmark"], float)
    assert provenance["package_version"] == __version__
    assert pd.Timestamp(provenance["fetched_at"]).tzinfo is not None
    assert SECRET_TOKEN not in repr(frame.attrs)


def test_indexes_frame(client: Client) -> None:
    frame = client.indexes()
    assert list(frame.columns) == ["name", "description", "href"]
    assert {"cisa-kev", "vulncheck-kev", "nist-nvd2"} <= set(frame["name"])


def test_cisa_kev_page_three(client: Client) -> None:
    first_three = client.index("cisa-kev", limit=300, page=1)
    page_three = client.index("cisa-kev", limit=100, page=3)
    assert len(page_three) == 100
    expected = first_three["cve"].iloc[200:300].tolist()
    assert page_three["cve"].tolist() == expected
    assert page_three.attrs["vulncheck"]["meta"]["first_item"] == 201
    assert page_three.attrs["vulncheck"]["meta"]["last_item"] == 300


def test_nested_nvd_record_flattens(client: Client) -> None:
    frame = client.index("nist-nvd2", cve="cve-2021-44228", tidy=False)
    assert frame["id"].tolist() == ["CVE-2021-44228"]
    assert "metrics.cvssMetricV31" in frame.columns
    assert isinstance(frame["metrics.cvssMetricV31"].iloc[0], list)
    assert str(frame["published"].dtype) == "datetime64[ns, UTC]"


def test_empty_result_is_empty_frame(client: Client) -> None:
    frame = client.index("vulncheck-kev", cve="CVE-1999-0001")
    assert frame.empty
    assert frame.attrs["vulncheck"]["meta"]["total_documents"] == 0


def test_missing_token_raises(demo_server: DemoServer) -> None:
    with Client(demo_server.url, token=TokenStore(environ={})) as client:
        with pytest.raises(TokenMissingError, match="VULNCHECK_API_TOKEN"):
            client.indexes()
    assert demo_server.requests == []


def test_environment_token_used(demo_server: DemoServer) -> None:
    store = TokenStore(environ={"VULNCHECK_API_TOKEN": f"  {SECRET_TOKEN}\n"})
    with Client(demo_server.url, token=store) as client:
        assert len(client.indexes()) == 3
    assert demo_server.requests[-1].headers["Authorization"] == f"Bearer {SECRET_TOKEN}"


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_rejected_token_is_authentication_error(
    demo_server: DemoServer, mode: str, debug_log: pytest.LogCaptureFixture
) -> None:
    wrong = "vulncheck_wrong0token0000000000000000000000000000"
    with Client(demo_server.url, token=wrong, auth_mode=mode) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.index("vulncheck-kev")
    error = caught.value
    assert error.status == 401
    assert error.index == "vulncheck-kev"
    assert "%vulncheck login" in str(error)
    assert wrong not in all_texts(error)
    assert wrong not in debug_log.text


def test_index_not_served_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.index("exploits")
    assert caught.value.status == 404
    assert "demo API" in str(caught.value)


def test_known_index_errors_suggest_nothing(client: Client) -> None:
    with pytest.raises(BadRequestError) as bad_page:
        client.index("cisa-kev", page=7)
    assert "Did you mean" not in str(bad_page.value)
    with pytest.raises(NotFoundError) as not_served:
        client.index("ipintel-3d")
    assert "Did you mean" not in str(not_served.value)
    assert "%vulncheck indexes" in str(not_served.value)


def test_urllib3_debug_log_redacted(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.index("cisa-kev", limit=1, auth_mode="query")
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("token=***" in line for line in urllib3_lines)
    assert SECRET_TOKEN not in caplog.text


def test_unknown_index_suggests_close_names(client: Client) -> None:
    with pytest.raises(UnknownIndexError, match="did you mean vulncheck-kev"):
        client.index("vulncheck-kv")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cve": "CVE-21-1"}, "invalid CVE id"),
        ({"cve": "CVE-\u0662\u0660\u0662\u0661-44228"}, "invalid CVE id"),
        ({"limit": "\u0661\u0660"}, "invalid limit"),
        ({"limit": 0}, "invalid limit"),
        ({"page": -2}, "invalid page"),
        ({"pubStartDate": "2024/01/01"}, "use YYYY-MM-DD"),
        ({"pubStartDate": "2024-02-30"}, "use YYYY-MM-DD"),
        ({"order": "up"}, "use asc or desc"),
        ({"token": SECRET_TOKEN}, "not a query parameter"),
    ],
)
def test_invalid_parameters_rejected_before_sending(
    demo_server: DemoServer, client: Client, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        client.index("cisa-kev", **params)
    assert SECRET_TOKEN not in all_texts(caught.value)
    assert demo_server.requests == []


def test_plain_http_to_other_host_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_if_sent(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request was sent")

    client = Client("http://api.example.com", token=SECRET_TOKEN)
    monkeypatch.setattr(client.session, "request", fail_if_sent)
    with pytest.raises(InsecureTransportError, match="https://"):
        client.indexes()


def test_base_url_validation() -> None:
    assert Client("http://127.0.0.1:9/v3/", token="x" * 20).base_url == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="invalid base URL"):
        Client("ftp://127.0.0.1", token="x" * 20)
    with pytest.raises(ValueError, match="invalid base URL") as caught:
        Client(f"https://127.0.0.1/?token={SECRET_TOKEN}", token="x" * 20)
    assert SECRET_TOKEN not in str(caught.value)


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_connection_refused_is_network_error(
    mode: str, debug_log: pytest.LogCaptureFixture
) -> None:
    with scripted_server() as server:
        url = server.url
    with Client(url, token=SECRET_TOKEN, auth_mode=mode, max_retries=0) as client:
        with pytest.raises(NetworkError, match="connection refused") as caught:
            client.index("cisa-kev")
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert SECRET_TOKEN not in all_texts(caught.value)
    assert SECRET_TOKEN not in debug_log.text


@pytest.mark.parametrize(
    ("reply", "error_type", "message"),
    [
        (
            Reply(200, b"<!DOCTYPE html><title>Login</title>", {"Content-Type": "text/html"}),
            ResponseFormatError,
            "HTML page titled 'Login'",
        ),
        (Reply(200, b'{"_meta": {}, "data": [{"cve": '), ResponseFormatError, "truncated"),
        (Reply(200, b'{"data": {"not": "a list"}}'), ResponseFormatError, "no list of records"),
        (
            Reply(
                500,
                b"<html><title>502 Bad Gateway</title><body>" + b"x" * 5000 + b"</body>",
                {"Content-Type": "text/html"},
            ),
            ServerError,
            "HTML page titled '502 Bad Gateway'",
        ),
        (
            Reply(
                429, b'{"error": true, "errors": ["Rate limit exceeded. Please try again later."]}'
            ),
            RateLimitError,
            "Rate limit exceeded",
        ),
        (
            Reply(403, b"forbidden for this plan", {"Content-Type": "text/plain"}),
            EntitlementError,
            "plan may not include",
        ),
        (
            Reply(401, f'{{"error": true, "errors": ["bad token {SECRET_TOKEN}"]}}'.encode()),
            AuthenticationError,
            "bad token \\*\\*\\*",
        ),
    ],
)
def test_error_responses_map_to_typed_errors(
    reply: Reply, error_type: type[VulnCheckError], message: str
) -> None:
    with scripted_server() as server:
        server.replies["/v3/index/cisa-kev"] = reply
        with Client(server.url, token=SECRET_TOKEN, auth_mode="query", max_retries=0) as client:
            with pytest.raises(error_type, match=message) as caught:
                client.index("cisa-kev")
    text = all_texts(caught.value)
    assert SECRET_TOKEN not in text
    assert "x" * 400 not in text


def test_same_host_redirect_keeps_token() -> None:
    with scripted_server() as server:
        server.replies["/v3/index/cisa-kev"] = Reply(
            302, b"", {"Location": "/v3/index/cisa-kev-moved"}
        )
        server.replies["/v3/index/cisa-kev-moved"] = Reply(200, KEV_RECORD)
        with Client(server.url, token=SECRET_TOKEN) as client:
            frame = client.index("cisa-kev")
    assert len(frame) == 1
    assert server.seen[-1].path == "/v3/index/cisa-kev-moved"
    assert server.seen[-1].headers["Authorization"] == f"Bearer {SECRET_TOKEN}"


@pytest.mark.parametrize("mode", ["header", "cookie"])
def test_redirect_to_other_host_drops_token(mode: str) -> None:
    with scripted_server() as api, scripted_server("127.0.0.2") as other:
        other.replies["/elsewhere"] = Reply(200, KEV_RECORD)
        api.replies["/v3/index/cisa-kev"] = Reply(302, b"", {"Location": f"{other.url}/elsewhere"})
        with Client(api.url, token=SECRET_TOKEN, auth_mode=mode) as client:
            client.index("cisa-kev")
    assert len(other.seen) == 1
    assert SECRET_TOKEN not in repr(other.seen[0])


def test_query_mode_skips_foreign_redirect() -> None:
    with scripted_server() as api, scripted_server("127.0.0.2") as other:
        api.replies["/v3/index/cisa-kev"] = Reply(302, b"", {"Location": f"{other.url}/elsewhere"})
        with Client(api.url, token=SECRET_TOKEN, auth_mode="query") as client:
            with pytest.raises(NetworkError, match="not followed") as caught:
                client.index("cisa-kev")
    assert other.seen == []
    assert SECRET_TOKEN not in all_texts(caught.value)


@pytest.mark.parametrize("mode", ["header", "query", "cookie"])
def test_debug_log_never_holds_token(
    demo_server: DemoServer, mode: str, debug_log: pytest.LogCaptureFixture
) -> None:
    with Client(demo_server.url, token=SECRET_TOKEN, auth_mode=mode) as client:
        client.index("cisa-kev", limit=2)
        with pytest.raises(NotFoundError):
            client.index("exploits")
    assert any("GET" in record.getMessage() for record in debug_log.records)
    for record in debug_log.records:
        assert SECRET_TOKEN not in record.getMessage()
        assert record.levelno >= logging.DEBUG


def test_client_and_store_repr_masked(client: Client) -> None:
    assert SECRET_TOKEN not in repr(client)
    assert SECRET_TOKEN not in repr(client.token_store)
    assert "vuln…cdef" in repr(client)


def test_keep_alive_reuses_connection(client: Client) -> None:
    client.index("cisa-kev", limit=1)
    adapter = client.session.get_adapter(client.base_url)
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    client.index("cisa-kev", limit=1)
    # urllib3's pool container refuses plain iteration, so go through keys().
    pools = [adapter.poolmanager.pools[key] for key in adapter.poolmanager.pools.keys()]  # noqa: SIM118
    assert sum(pool.num_connections for pool in pools) == 1


def test_signed_queries_masked() -> None:
    from vulncheck_magic._redact import redact_signed_queries

    text = (
        "GET https://bucket.example/x.zip?X-Amz-Credential=AKIA&X-Amz-Signature=SECRETSIG "
        "and https://api.example/v3/index?limit=1"
    )
    masked = redact_signed_queries(text)
    assert "SECRETSIG" not in masked
    assert "AKIA" not in masked
    assert "https://bucket.example/x.zip?***" in masked
    assert "https://api.example/v3/index?limit=1" in masked


def test_urllib3_filter_installed_before_download(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s "GET %s HTTP/1.1" 200 10', "https://s3.example", "/b.zip?X-Amz-Signature=SECRETSIG"
    )
    assert "SECRETSIG" not in caplog.text
    assert "/b.zip?***" in caplog.text
