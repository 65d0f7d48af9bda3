"""The security headers middleware (studio/web/headers.py) on its own: which peers are trusted proxies, HSTS
only over HTTPS, a route's own headers kept unless ours are stricter, websockets untouched, and the CSP each
storage setting asks for. The app under the policy in Chromium: tests/browser/test_security_headers.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from studio.domain.network import is_trusted
from studio.errors import ConfigError
from studio.settings import Settings
from studio.web.headers import (
    HSTS,
    HeaderPolicy,
    SecurityHeaders,
    content_security_policy,
    security_headers,
    trusted_networks,
)

PROXIES = "10.0.0.0/8, 192.168.1.7 ,fd00::/8"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=Path("unused"), **values)


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


# --- trusted proxies ------------------------------------------------------------------------------------


def test_trusted_proxies_are_addresses_and_networks() -> None:
    assert [str(network) for network in trusted_networks(PROXIES)] == [
        "10.0.0.0/8",
        "192.168.1.7/32",
        "fd00::/8",
    ]
    assert trusted_networks("") == ()
    assert trusted_networks(" , ") == ()
    assert [str(network) for network in trusted_networks("172.16.5.4/12")] == ["172.16.0.0/12"]


@pytest.mark.parametrize("entry", ["proxy.internal", "10.0.0.0/33", "300.1.1.1", "10.0.0.1-10.0.0.9"])
def test_a_bad_trusted_proxy_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ConfigError, match=rf"TRUSTED_PROXIES: '{entry}'"):
        trusted_networks(f"10.0.0.1,{entry}")


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("10.20.30.40", True),
        ("192.168.1.7", True),
        ("192.168.1.8", False),
        ("11.0.0.1", False),
        ("127.0.0.1", False),  # loopback is not trusted unless named
        ("::ffff:10.0.0.9", True),  # an IPv4 peer on a dual-stack socket
        ("fd12:3456::1", True),
        ("fe80::1%eth0", False),
        ("::1", False),
        ("testclient", False),  # Starlette's TestClient, a Unix socket: no address
        ("", False),
        (None, False),
    ],
)
def test_a_peer_is_trusted_only_inside_the_networks(peer: str | None, trusted: bool) -> None:
    assert is_trusted(peer, trusted_networks(PROXIES)) is trusted


# --- the middleware -------------------------------------------------------------------------------------


def plain(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("plain")


def own_headers(_request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        "own",
        headers={
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Referrer-Policy": "no-referrer",  # stricter than ours: stays
            "X-Frame-Options": "SAMEORIGIN",  # weaker: DENY
            "Cross-Origin-Opener-Policy": "unsafe-none",  # weaker: same-origin
            "Permissions-Policy": "camera=(self)",  # the route's choice
            "Strict-Transport-Security": "max-age=60",
        },
    )


def client(peer: str = "203.0.113.5", base_url: str = "http://testserver", **values: Any) -> TestClient:
    app = Starlette(
        routes=[Route("/", plain), Route("/own", own_headers)],
        middleware=[security_headers(settings(trusted_proxies=PROXIES, **values))],
    )
    return TestClient(app, base_url=base_url, client=(peer, 50000))


def test_every_response_gets_the_headers() -> None:
    response = client().get("/")
    assert response.text == "plain"
    assert response.headers["content-security-policy"] == content_security_policy(settings())
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "geolocation=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers
    missing = client().get("/no-such-page")  # Starlette's own 404 too
    assert missing.status_code == 404
    assert missing.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("peer", "forwarded", "hsts"),
    [
        ("203.0.113.5", "https", False),  # anybody can send the header
        ("10.0.0.2", "https", True),  # a trusted proxy
        ("10.0.0.2", "HTTPS", True),
        ("::ffff:10.0.0.2", "https", True),
        ("10.0.0.2", "http", False),
        ("10.0.0.2", None, False),
        ("10.0.0.2", "http, https", True),  # the value the trusted proxy added is the last
        ("10.0.0.2", "https, http", False),
    ],
)
def test_hsts_only_when_a_trusted_proxy_says_https(peer: str, forwarded: str | None, hsts: bool) -> None:
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    response = client(peer).get("/", headers=headers)
    assert response.headers.get("strict-transport-security") == (HSTS if hsts else None)


def test_hsts_on_a_request_that_came_over_https_itself() -> None:
    response = client(base_url="https://testserver").get("/")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_a_routes_own_headers_stay_unless_ours_are_stricter() -> None:
    response = client("10.0.0.2").get("/own", headers={"X-Forwarded-Proto": "https"})
    assert response.headers.get_list("content-security-policy") == [
        "sandbox; default-src 'none'",  # both are enforced: at least as strict as each
        content_security_policy(settings()),
    ]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.headers["permissions-policy"] == "camera=(self)"
    assert response.headers["strict-transport-security"] == "max-age=60"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_websockets_and_the_lifespan_pass_through_untouched() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        pass

    middleware = SecurityHeaders(inner, policy=HeaderPolicy.from_settings(settings()))
    for kind in ("websocket", "lifespan"):
        scope: Scope = {"type": kind, "scheme": "ws", "headers": [], "client": ("10.0.0.2", 1)}
        anyio.run(middleware, scope, receive, send)
        assert seen.pop() == (scope, receive, send)  # the very same callables: nothing wraps them


# --- the policy -----------------------------------------------------------------------------------------


def test_the_embedded_policy() -> None:
    policy = directives(content_security_policy(settings(public_url="http://127.0.0.1:8501/")))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "'unsafe-inline'", "'wasm-unsafe-eval'", "blob:"]
    assert policy["script-src-attr"] == ["'none'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["img-src"][:4] == ["'self'", "data:", "blob:", "http://127.0.0.1:8501"]
    assert policy["connect-src"] == ["'self'", "ws://127.0.0.1:8501"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


def test_images_from_the_origin_s3_urls_are_presigned_for() -> None:
    behind_cdn = settings(
        public_url="https://studio.example.com",
        s3_bucket="images",
        s3_endpoint_url="http://minio:9000",
        s3_public_url="https://Files.Example.com:8443/storage",
    )
    policy = directives(content_security_policy(behind_cdn))
    assert "https://files.example.com:8443" in policy["img-src"]
    assert "http://minio:9000" not in policy["img-src"]  # the app's own way in, never the browser's
    assert policy["connect-src"] == ["'self'", "wss://studio.example.com"]

    minio = directives(content_security_policy(settings(s3_bucket="b", s3_endpoint_url="http://[::1]:9000")))
    assert "http://[::1]:9000" in minio["img-src"]
    aws = directives(content_security_policy(settings(s3_bucket="b", s3_region="eu-west-1")))
    assert "https://s3.eu-west-1.amazonaws.com" in aws["img-src"]
    local = directives(content_security_policy(settings(s3_public_url="https://unused.example.com")))
    assert "https://unused.example.com" not in local["img-src"]  # S3 is off without S3_BUCKET


@pytest.mark.parametrize("url", ["minio:9000", "ftp://files.example.com", "https://a;b.example.com"])
def test_a_storage_url_that_cannot_be_an_origin_is_refused_by_name(url: str) -> None:
    with pytest.raises(ConfigError, match="S3_PUBLIC_URL"):
        content_security_policy(settings(s3_bucket="b", s3_public_url=url))


def test_the_settings_build_the_middleware() -> None:
    policy = security_headers(settings(trusted_proxies="10.0.0.0/8")).kwargs["policy"]
    assert isinstance(policy, HeaderPolicy)
    assert [str(network) for network in policy.trusted] == ["10.0.0.0/8"]
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        security_headers(settings(trusted_proxies="10.0.0.0/8; 10.1.0.0/16"))
