"""The PWA shell, its service worker (versioned by a hash of static/), the manifest, and the API docs page."""
from __future__ import annotations

import base64
import hashlib
import os

from flask import Blueprint, current_app, send_from_directory
from flask_compress import Compress

bp = Blueprint("web", __name__)
compress = Compress()  # flask-compress: gzip/brotli for the shell and JSON, by Accept-Encoding


def _once(name: str, build):
    """Return what ``build()`` returns, built once per app: static/ changes only with a deploy."""
    key = f"lianduinspect_{name}"
    if key not in current_app.extensions:
        current_app.extensions[key] = build()
    return current_app.extensions[key]


def static_version() -> str:
    """Return a short hash of every file under static/, so a new deploy names a new cache."""
    return _once("static_version", _hash_static)


def _hash_static() -> str:
    digest = hashlib.sha256()
    root = current_app.static_folder
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
    return digest.hexdigest()[:12]


def _static_text(name: str) -> str:
    with open(os.path.join(current_app.static_folder, name), encoding="utf-8") as fh:
        return fh.read()


def _shell() -> tuple[str, str]:
    """Return the app shell's HTML and its Content-Security-Policy, built once per app (as the version is).

    The stylesheet travels inside the page: over HTTP/1.1 a browser opens at most six connections to a
    host, and a first-paint file beyond six waits for a free one, a round trip late on a slow link.
    The CSP admits exactly this style by its hash.
    """
    return _once("shell", _build_shell)


def _build_shell() -> tuple[str, str]:
    css = _static_text("app.css")
    html = (_static_text("index.html").replace("__STATIC_VERSION__", static_version())
            .replace("__APP_CSS__", css))
    style = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'sha256-{style}'; script-src 'self'; "
           "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
           "frame-ancestors 'none'")
    return html, csp


@bp.get("/")
def index():
    """Serve the app shell with the static version injected and app.css inlined."""
    html, csp = _shell()
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = csp
    return response


@bp.get("/sw.js")
def service_worker():
    """Serve the service worker from the root scope, versioned by the static hash."""
    js = _once("service_worker", lambda: _static_text("sw.js").replace("__STATIC_VERSION__", static_version()))
    response = current_app.response_class(js, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """Serve the web app manifest."""
    response = send_from_directory(current_app.static_folder, "manifest.webmanifest",
                                   mimetype="application/manifest+json")
    return response


@bp.get("/healthz")
def health():
    """Answer that the process is up (for load balancers and crash tests)."""
    return {"status": "ok"}


@bp.get("/api/docs")
def api_docs():
    """Serve the API docs page; its script and styles come from static/, no CDN."""
    return send_from_directory(current_app.static_folder, "apidocs.html", mimetype="text/html")
