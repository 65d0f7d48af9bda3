"""Security headers on every HTTP response of the app: Streamlit's pages, its static files and `/_stcore/*`
endpoints, and the studio's own routes. One ASGI middleware wraps the whole app (`st.App(middleware=...)`);
websockets and the lifespan pass through untouched.

The Content-Security-Policy is the tightest the studio works under in Chromium (tests/browser/
test_security_headers.py visits every kind of page and fails on any reported violation):

- `default-src 'self'`: everything not named below (frames, manifest, media, workers) comes from the app.
- `script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval' blob:` with `script-src-attr 'none'`:
  - Streamlit's bundles come from /static; its page runs one inline `<script>` (window.prerenderReady);
  - the session cookie is written by an `st.html` script (studio/ui/shell/cookies.py) whose text holds the
    token, so no hash can name it: inline script elements must be allowed. `script-src-attr 'none'` still
    refuses every inline event handler (`<img onerror=...>`), the usual way injected markup runs;
  - the studio's inline components (components v2: the tiles, the mask canvas, the compare slider, the
    lineage tree) are run by Streamlit as `blob:` modules it makes from their source;
  - `'wasm-unsafe-eval'` lets Streamlit's protobuf bundle (long.js) compile its tiny 64-bit-multiply
    WebAssembly module on every page load; it falls back to plain JS without it, but the violation would be
    reported on every page. It allows WebAssembly only, never `eval` of JS: no `'unsafe-eval'`, nothing
    needs it (plotly's charts included).
- `style-src 'self' 'unsafe-inline'`: emotion and styled-components write `<style>` elements, and so do
  `st.html` and the components v2.
- `img-src 'self' data: blob:` plus the app's public origin (signed file links name PUBLIC_URL), with S3 the
  origin the presigned URLs name (S3_PUBLIC_URL, else S3_ENDPOINT_URL, else AWS's). The favicon is the
  studio's own file (studio/ui/shell/icon.png): a `:material/...` page icon would be fetched from Google.
- `font-src 'self' data:`: KaTeX's fonts are inlined in Streamlit's stylesheet.
- `connect-src 'self'` plus the websocket origin of PUBLIC_URL: CSP 3 browsers match same-origin
  `ws:`/`wss:` with 'self', older ones (Safari < 16) only with the explicit origin. Never a bare
  `ws:`/`wss:`, which would let a script talk to any host.
- `object-src 'none'`, `base-uri 'self'`, `frame-ancestors 'none'` (with the legacy X-Frame-Options: DENY).
- `form-action 'self'`: Stripe Checkout is opened by a link (`st.link_button`), not a form.

Strict-Transport-Security is sent only on a request that came over HTTPS: its own scheme is https
(uvicorn's TLS, or uvicorn's proxy headers from 127.0.0.1), or a peer in TRUSTED_PROXIES says
`X-Forwarded-Proto: https`.

A header a route set itself is its deliberate choice and stays, unless ours is stricter:
- Content-Security-Policy: ours is added beside it. A browser enforces every policy it gets, so the result
  is at least as strict as each (the file route's `sandbox; default-src 'none'` keeps all its force).
- X-Frame-Options, Referrer-Policy, Cross-Origin-Opener-Policy: the stricter of the two values.
- the others: the route's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from studio.domain import network
from studio.domain.network import Network
from studio.errors import ConfigError
from studio.settings import Settings

HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "hid",
        "magnetometer", "microphone", "midi", "payment", "screen-wake-lock", "serial", "usb",
        "xr-spatial-tracking",
    )
)  # fmt: skip
#: Each header's values from the strictest down; a route's value stays only when it ranks above ours.
STRICTNESS = {
    "x-frame-options": ("deny", "sameorigin"),
    "referrer-policy": (
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "origin",
        "origin-when-cross-origin", "no-referrer-when-downgrade", "unsafe-url",
    ),
    "cross-origin-opener-policy": (
        "same-origin", "noopener-allow-popups", "same-origin-allow-popups", "unsafe-none",
    ),
}  # fmt: skip
#: Streamlit shows a `:material/...:` page icon (Home.py's) as Google's SVG of that symbol, from here.
_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")  # a name or an IP address, nothing to escape in a CSP


# --- trusted proxies ------------------------------------------------------------------------------------


def trusted_networks(spec: str) -> tuple[Network, ...]:
    """TRUSTED_PROXIES (comma-separated addresses or CIDR networks) as networks; a bad entry: ConfigError."""
    try:
        return tuple(network.networks(spec))
    except ValueError as err:
        raise ConfigError(f"TRUSTED_PROXIES: {err}, like 10.0.0.1 or 10.0.0.0/8") from None


def came_over_https(scope: Scope, networks: Iterable[Network]) -> bool:
    """The request reached the studio over HTTPS: directly, or through a trusted proxy that says so."""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if not network.is_trusted(client[0] if client else None, tuple(networks)):
        return False
    forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
    return forwarded.rsplit(",", 1)[-1].strip().lower() == "https"  # the value the nearest proxy added


# --- the policy -----------------------------------------------------------------------------------------


def origin(url: str, setting: str) -> str:
    """`scheme://host[:port]` of an http(s) URL a setting names; ConfigError when it is no such URL."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = -1
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(host) or port == -1:
        raise ConfigError(f"{setting}: {url!r} is not an http(s) URL")
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def image_origins(settings: Settings) -> list[str]:
    """The origins outside 'self' that the browser loads the studio's images from."""
    origins = [origin(settings.public_url, "PUBLIC_URL")]  # signed local file links
    if settings.storage_mode == "s3":  # presigned URLs name the signer's endpoint (path-style addressing)
        if settings.s3_public_url or settings.s3_endpoint_url:
            setting = "S3_PUBLIC_URL" if settings.s3_public_url else "S3_ENDPOINT_URL"
            origins.append(origin(settings.s3_public_url or settings.s3_endpoint_url or "", setting))
        elif settings.s3_region == "us-east-1":
            origins += ["https://s3.amazonaws.com", "https://s3.us-east-1.amazonaws.com"]
        else:
            origins.append(f"https://s3.{settings.s3_region}.amazonaws.com")
    return list(dict.fromkeys(origins))


def content_security_policy(settings: Settings) -> str:
    """The policy the module docstring explains, for these settings' origins."""
    public = origin(settings.public_url, "PUBLIC_URL")
    websocket = "ws" + public.removeprefix("http")  # http -> ws, https -> wss
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-inline'", "'wasm-unsafe-eval'", "blob:"],
        "script-src-attr": ["'none'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *image_origins(settings)],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", websocket],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives.items())


@dataclass(frozen=True)
class HeaderPolicy:
    """The headers the middleware adds, and whose X-Forwarded-Proto it believes."""

    csp: str
    trusted: tuple[Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> HeaderPolicy:
        return cls(content_security_policy(settings), trusted_networks(settings.trusted_proxies))

    def apply(self, headers: MutableHeaders, https: bool) -> None:
        """Add the headers to a response's, keeping a route's own where the rule in the docstring says."""
        headers.append("Content-Security-Policy", self.csp)
        _stricter(headers, "X-Frame-Options", "DENY")
        _stricter(headers, "Referrer-Policy", "same-origin")
        _stricter(headers, "Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)


def _stricter(headers: MutableHeaders, name: str, ours: str) -> None:
    order = STRICTNESS[name.lower()]
    theirs = headers.get(name, "").strip().lower()
    if theirs not in order or order.index(theirs) > order.index(ours.lower()):
        headers[name] = ours  # unknown (or several, comma-joined) values count as weaker


# --- the middleware -------------------------------------------------------------------------------------


class SecurityHeaders:
    """ASGI middleware: the policy's headers on every HTTP response."""

    def __init__(self, app: ASGIApp, *, policy: HeaderPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # websocket, lifespan
            await self.app(scope, receive, send)
            return
        https = came_over_https(scope, self.policy.trusted)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.policy.apply(MutableHeaders(scope=message), https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(settings: Settings) -> Middleware:
    """The middleware for `st.App(middleware=[...])`, built from these settings."""
    return Middleware(SecurityHeaders, policy=HeaderPolicy.from_settings(settings))


__all__ = [
    "HeaderPolicy",
    "SecurityHeaders",
    "came_over_https",
    "content_security_policy",
    "security_headers",
    "trusted_networks",
]
