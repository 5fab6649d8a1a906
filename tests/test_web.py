"""The app shell as a browser gets it: versioned, compressed, locked down by CSP, docs served locally."""
from __future__ import annotations

import base64
import gzip
import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"


def test_shell_and_service_worker_carry_the_same_static_version(client):
    html = client.get("/").get_data(as_text=True)
    sw = client.get("/sw.js").get_data(as_text=True)
    assert "__STATIC_VERSION__" not in html and "__STATIC_VERSION__" not in sw
    version = re.search(r'content="([0-9a-f]{12})"', html).group(1)
    assert version in sw


def test_shell_is_served_compressed_to_browsers_that_accept_it(client):
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"<html" in gzip.decompress(response.data)


def test_pack_etag_revalidates_through_compression(as_inspector, world):
    first = as_inspector.get("/api/v1/pack", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    again = as_inspector.get("/api/v1/pack", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_shell_forbids_inline_scripts_and_other_origins(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "object-src 'none'" in csp


def test_shell_carries_its_stylesheet_inline_admitted_by_its_hash_alone(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert styles == [(STATIC / "app.css").read_text(encoding="utf-8")]
    assert "app.css" not in html  # no request for it before first paint
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    csp = response.headers["Content-Security-Policy"]
    assert f"style-src 'self' 'sha256-{digest}';" in csp and "unsafe-inline" not in csp


def test_api_docs_page_loads_its_assets_from_the_app_itself(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200


def test_openapi_document_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_0-9]+)>", r"{\1}", rule.rule)
        methods = rule.methods - {"OPTIONS"} - ({"HEAD"} if "GET" in rule.methods else set())
        for method in methods:
            assert (path, method.lower()) in documented, f"{method} {rule.rule} is not in the OpenAPI document"
    assert "TargetSchema" in spec["components"]["schemas"] or any("Target" in k for k in spec["components"]["schemas"])
