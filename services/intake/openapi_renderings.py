"""What /schema serves besides the document's building: the document as JSON and YAML, and
in development only an explorer (Redoc, pinned and checked by its hash)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    YamlRenderPlugin,
)

# The explorer (development only) loads Redoc from jsDelivr, pinned, with the SHA-384 of
# bundles/redoc.standalone.js of the npm package redoc@2.5.4 (jsDelivr serves npm files as
# published): `npm pack redoc@2.5.4`, then `openssl dgst -sha384 -binary <file> | base64`.
REDOC_URL = "https://cdn.jsdelivr.net/npm/redoc@2.5.4/bundles/redoc.standalone.js"
REDOC_SRI = "sha384-w447zOpYfw/1Tv/5AK9NfHTlQIqE3RVR6KY62jCyy9zNDgO64cMwGGP1Fj0zJVf5"
# Redoc needs inline styles (styled-components), a worker from a blob and data: images.
EXPLORER_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net; style-src 'unsafe-inline'; "
    "img-src 'self' data:; font-src data:; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class _PinnedRedoc(RedocRenderPlugin):
    """Redoc from a pinned URL checked by its hash (Subresource Integrity), reading the
    document by URL: no inline script, no web fonts, no icon from elsewhere."""

    def __init__(self) -> None:
        super().__init__(js_url=REDOC_URL, google_fonts=False, path=["/", "/redoc"], favicon="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        document = self.get_openapi_json_route(request)
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{openapi_schema['info']['title']}</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"</head><body><redoc spec-url='{document}'></redoc>"
            f"<script src='{REDOC_URL}' integrity='{REDOC_SRI}' crossorigin='anonymous'>"
            "</script></body></html>"
        ).encode()


def renderings(environment: str) -> list[OpenAPIRenderPlugin]:
    """What /schema serves: the document as JSON (also at /schema itself) and YAML; in
    development also the explorer at /schema and /schema/redoc. A deployment loads no
    script from another origin."""
    if environment == "development":
        return [_PinnedRedoc(), JsonRenderPlugin(), YamlRenderPlugin()]
    return [JsonRenderPlugin(path=["/openapi.json", "/"]), YamlRenderPlugin()]
