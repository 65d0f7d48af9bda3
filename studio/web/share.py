"""`GET /s/{token}`: the page a share link opens first. Link previews (chat apps, social sites) read its
Open Graph tags; browsers are sent straight on to the share page (`/s?t=<token>`), which needs no sign-in.

A password-protected link previews as nothing but that; an invalid, expired or revoked one is a 404.
"""

from html import escape
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from studio import bootstrap
from studio.errors import NotFound
from studio.services.library import sharing

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def share_preview(request: Request) -> Response:
    services = bootstrap.services()
    token = request.path_params["token"]
    try:
        preview = sharing.preview(services, token)
    except NotFound as err:
        return HTMLResponse(_page("Link not valid", str(err), None, None), status_code=404, headers=_HEADERS)
    target = f"{services.settings.public_base_url}/{sharing.SHARE_PATH}?t={quote(token, safe='')}"
    return HTMLResponse(
        _page(preview.title, preview.description, preview.image_url, target), headers=_HEADERS
    )


def _page(title: str, description: str, image_url: str | None, target: str | None) -> str:
    meta = [
        f'<meta property="og:title" content="{escape(title)}">',
        f'<meta property="og:description" content="{escape(description)}">',
        '<meta property="og:type" content="website">',
        '<meta property="og:site_name" content="the studio">',
    ]
    if image_url:
        meta += [
            f'<meta property="og:image" content="{escape(image_url)}">',
            '<meta name="twitter:card" content="summary_large_image">',
        ]
    if target:
        meta += [
            f'<meta property="og:url" content="{escape(target)}">',
            f'<meta http-equiv="refresh" content="0; url={escape(target)}">',
        ]
    link = f'<p><a href="{escape(target)}">Open the shared page</a></p>' if target else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{''.join(meta)}</head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(description)}</p>{link}</body></html>"
    )
