"""The /docs page: Swagger UI from one pinned CDN version, each file checked by its hash, under a strict CSP.

Swagger UI's script and style come from a CDN. Shipping them would add 1.9 MB (the bundle's
two files; 8.3 MB as the swagger-ui-bundle package) to serve a developer convenience. So the
page names an exact version and carries each file's SHA-384 (Subresource Integrity): a CDN
that served anything else would have it refused by the browser. Its Content-Security-Policy
admits those two URLs and the page's own inline scripts, by hash, and nothing else. When the
files do not load, the page says where the API description is.

To move to another Swagger UI version, change ``VERSION`` and recompute both hashes from the
npm package's files::

    npm pack swagger-ui-dist@VERSION && tar xzf swagger-ui-dist-VERSION.tgz
    openssl dgst -sha384 -binary package/swagger-ui-bundle.js | base64
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

from fastapi.openapi.docs import get_swagger_ui_html

VERSION = "5.35.0"
_CDN = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{VERSION}"
SCRIPT_URL = f"{_CDN}/swagger-ui-bundle.js"
STYLE_URL = f"{_CDN}/swagger-ui.css"
# sha384 of the npm package swagger-ui-dist@5.35.0's files, which jsDelivr serves byte for byte.
SCRIPT_SRI = "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
STYLE_SRI = "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I"

_FALLBACK = """<script>window.addEventListener("load", () => { if (!window.SwaggerUIBundle) {
document.body.innerHTML = '<p>Swagger UI loads from a CDN, which this browser ' +
'cannot reach (offline?). The API description is <a href="openapi.json">openapi.json</a>, served by this API.</p>'; } });
</script>"""


def inline_hashes(html: str, tag: str) -> str:
    """CSP source expressions (``'sha256-...'``) for the body of every inline ``<tag>`` element of ``html``."""
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies)


def _with_integrity(html: str, tag: str, integrity: str) -> str:
    if html.count(tag) != 1:  # FastAPI changed its template: fail loudly, never serve an unchecked script
        raise RuntimeError(f"Swagger UI page: expected one {tag!r} to add integrity to")
    return html.replace(tag, f'{tag[:-1]} integrity="{integrity}" crossorigin="anonymous">')


@functools.cache
def page(title: str) -> tuple[str, dict[str, str]]:
    """The Swagger UI page, reading the relative openapi.json (so it works under a stage path too), and its headers."""
    html = get_swagger_ui_html(
        openapi_url="openapi.json",
        title=title,
        swagger_js_url=SCRIPT_URL,
        swagger_css_url=STYLE_URL,
        swagger_favicon_url="data:,",  # no icon, rather than one from a third party
    ).body.decode()
    html = _with_integrity(html, f'<script src="{SCRIPT_URL}">', SCRIPT_SRI)
    html = _with_integrity(html, f'<link type="text/css" rel="stylesheet" href="{STYLE_URL}">', STYLE_SRI)
    html = html.replace("</body>", _FALLBACK + "</body>")
    policy = (
        f"default-src 'none'; script-src {SCRIPT_URL} {inline_hashes(html, 'script')}; "
        f"style-src {STYLE_URL}; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, {"content-security-policy": policy, "referrer-policy": "no-referrer"}
