"""LianduInspect: 综合查一次 joint field inspections for the Liandu law-enforcement bureau."""
from __future__ import annotations

import os
import secrets

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then LIANDUINSPECT_* variables, then the test config."""
    from . import auth, cli, config, errors
    from .api import bp as api_bp, visitcode as visit_page
    from .db import db
    from .web import compress
    from .migrate import migrate
    from .web import bp as web_bp

    app = Flask(__name__, instance_relative_config=True,
                static_folder=os.path.join(os.path.dirname(os.path.dirname(__file__)), "static"),
                static_url_path="/static")
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "lianduinspect.sqlite3")
    if not app.config.get("STORAGE_URL"):
        app.config["STORAGE_URL"] = os.path.join(app.instance_path, "evidence")
    if not app.config.get("SIGNING_KEY_PATH"):
        app.config["SIGNING_KEY_PATH"] = os.path.join(app.instance_path, "audit_ed25519.pem")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    # Werkzeug refuses bodies beyond the largest thing anyone may send (a photo); JSON is capped lower.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_EVIDENCE_BYTES"] + 64 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    # Compress the app shell and JSON on the way out: phones on 3G in townships feel every kilobyte.
    app.config.setdefault("COMPRESS_MIMETYPES", ["text/html", "text/css", "text/javascript", "application/javascript",
                                                 "application/json", "application/manifest+json", "image/svg+xml"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 512)
    compress.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(visit_page.page_bp)  # /v/<code>, the visit code's public page
    cli.init_app(app)
    if app.config["PROXY_HOPS"]:
        # Behind nginx or a load balancer the client's address (rate limits) comes from X-Forwarded-For.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if app.config["SCHEDULER_ENABLED"] and not app.config.get("TESTING"):
        from . import jobs
        jobs.start_in_app(app)
    return app


def _instance_secret(instance_path: str) -> str:
    """Return the instance's secret key, creating it once with owner-only permissions."""
    path = os.path.join(instance_path, "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another worker made it first
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()
