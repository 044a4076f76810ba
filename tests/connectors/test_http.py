"""The shared HTTP base against the sandbox servers: auth kinds, retriable vs fatal, Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import AuthenticationError, FatalResponseError, RateLimitedError, TransportError
from connectors.http import ApiKeyAuth, BearerAuth, HttpClient, OAuth2ClientCredentials, retry_after_seconds
from sandbox.generate import SandboxConfig, generate
from sandbox.server.app import serve


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    out = tmp_path_factory.mktemp("http") / "sbx"
    generate(out, 20, seed=3, workers=1)
    handle = serve(out, faults=0.0, rate_limit=5.0)
    yield out, handle
    handle.stop()


def _creds(sandbox: tuple[Path, Any]) -> dict[str, str]:
    return SandboxConfig.load(sandbox[0]).credentials


def _client(sandbox: tuple[Path, Any], agency: str, auth: Any = None, **kw: Any) -> HttpClient:
    return HttpClient(f"http://127.0.0.1:{sandbox[1].ports[agency]}", auth, **kw)


def test_oauth2_client_credentials_get_a_token_then_search(sandbox: tuple[Path, Any]) -> None:
    creds = _creds(sandbox)
    auth = OAuth2ClientCredentials("/oauth/token", creds["health_client_id"], creds["health_client_secret"])
    client = _client(sandbox, "health", auth)
    assert client.get("/fhir/Patient", params={"_count": "1"}).status == 200
    assert auth._token == creds["health_token"]


def test_wrong_oauth2_secret_is_fatal_at_once(sandbox: tuple[Path, Any]) -> None:
    creds = _creds(sandbox)
    auth = OAuth2ClientCredentials("/oauth/token", creds["health_client_id"], "wrong secret")
    client = _client(sandbox, "health", auth)
    with pytest.raises(AuthenticationError) as exc:
        client.get("/fhir/Patient")
    assert exc.value.status == 401
    assert client.retries == 0


def test_bearer_and_api_key(sandbox: tuple[Path, Any]) -> None:
    creds = _creds(sandbox)
    assert _client(sandbox, "health", BearerAuth(creds["health_token"])).get("/fhir/Condition").status == 200
    assert _client(sandbox, "ngo", ApiKeyAuth(creds["ngo_api_key"])).get("/api/v1/participants").status == 200


def test_fatal_4xx_names_url_and_status_without_retrying(sandbox: tuple[Path, Any]) -> None:
    client = _client(sandbox, "health", BearerAuth(_creds(sandbox)["health_token"]))
    with pytest.raises(FatalResponseError) as exc:
        client.get("/fhir/NoSuchType")
    assert exc.value.status == 404
    assert "/fhir/NoSuchType" in str(exc.value)
    assert client.retries == 0


def test_rate_limit_is_retried_honouring_retry_after(sandbox: tuple[Path, Any]) -> None:
    waits: list[float] = []
    client = _client(sandbox, "ngo", ApiKeyAuth(_creds(sandbox)["ngo_api_key"]), sleep=waits.append,
                     max_attempts=3)
    def hammer() -> None:
        for _ in range(50):
            client.get("/api/v1/participants", params={"limit": "1"})

    with pytest.raises(RateLimitedError):
        hammer()
    assert waits
    assert all(w >= 1.0 for w in waits), waits  # the server says Retry-After: 1


def test_connection_refused_is_retriable_then_raised() -> None:
    waits: list[float] = []
    client = HttpClient("http://127.0.0.1:1", sleep=waits.append, max_attempts=3)
    with pytest.raises(TransportError, match="connection broken"):
        client.get("/x")
    assert len(waits) == 2
    assert client.retries == 2


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
