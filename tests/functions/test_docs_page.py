"""/docs: Swagger UI pinned to one version, each CDN file checked by its SHA-384, under a strict CSP (issue 17 §6).

The real files are not fetched here (no network in tests). A real browser shows that it
refuses a CDN file that does not match the hash, and that the fallback then works under the
policy. That the hashes match swagger-ui-dist's files was checked once against the npm
package (functions/predict/swagger.py says how).
"""

import base64
import hashlib
import re
import shutil
from pathlib import Path

import pytest

from functions.predict import swagger
from infra.apigw import http_event
from tests.support.server import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def inline_script_hashes(html: str) -> set[str]:
    bodies = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    return {f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies}


def test_docs_pins_swagger_ui_with_integrity_and_a_csp(api):
    for status, headers, html in (
        (lambda r: (r.status_code, r.headers, r.text))(api.client.get("/docs")),
        api.invoke(http_event("GET", "/docs")),
    ):
        assert status == 200
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
        assert set(script_src) == {swagger.SCRIPT_URL} | inline_script_hashes(html)
        assert f'<script src="{swagger.SCRIPT_URL}" integrity="{swagger.SCRIPT_SRI}" crossorigin="anonymous">' in html
        assert f'href="{swagger.STYLE_URL}" integrity="{swagger.STYLE_SRI}" crossorigin="anonymous">' in html
        assert f"swagger-ui-dist@{swagger.VERSION}/" in html and "@5/" not in html  # a version, not a moving tag
        for sri in (swagger.SCRIPT_SRI, swagger.STYLE_SRI):
            assert len(base64.b64decode(sri.removeprefix("sha384-"), validate=True)) == 48
        assert "https://" not in re.sub(r"https://cdn\.jsdelivr\.net/npm/swagger-ui-dist@[\d.]+/[\w.-]+", "", html)


def test_a_browser_refuses_a_tampered_cdn_file_and_shows_the_way_out(api):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (scripts/test.sh does it)")
    with serve(api.app) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        console = []
        page.on("console", lambda message: console.append(message.text))
        tampered = {swagger.SCRIPT_URL: "window.SwaggerUIBundle = () => {};", swagger.STYLE_URL: "body{}"}
        for cdn_url, body in tampered.items():
            page.route(cdn_url, serving(body))
        page.route("https://**", lambda route: route.abort())  # nothing else may leave the machine
        page.goto(f"{url}/docs")
        page.wait_for_selector("text=openapi.json")
        text = page.inner_text("body")
        browser.close()
    assert "cannot reach" in text  # the tampered script never ran, so the fallback did
    assert sum("integrity" in m for m in console) == 2
    assert not [m for m in console if "Content Security Policy" in m]


def serving(body: str):
    """A route handler that answers with ``body``, as a CDN would (CORS, since the tags ask for it)."""
    headers = {"access-control-allow-origin": "*", "content-type": "text/plain"}
    return lambda route, request: route.fulfill(status=200, body=body, headers=headers)
