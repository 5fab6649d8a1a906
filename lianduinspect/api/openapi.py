"""The OpenAPI document, generated from the marshmallow schemas the views declare with @doc."""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from ..errors import CATALOGUE
from ..permissions import PUBLIC, endpoint_roles
from . import bp

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_0-9]+)>")


def build_spec(app) -> dict:
    """Walk the URL map and describe every documented /api/v1 route."""
    spec = APISpec(title="LianduInspect API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "综合查一次 joint inspections. Errors always have the shape "
                                        "{\"error\": {\"code\", \"message\", \"details\"}}; codes: "
                                        + ", ".join(sorted(CATALOGUE))})
    spec.components.schema("Error", {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string", "enum": sorted(CATALOGUE)}, "message": {"type": "string"},
        "details": {"type": "object"}}}}})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie",
                                                 "name": app.config["SESSION_COOKIE_NAME"]})
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "_apidoc", None)
        if meta is None or not rule.rule.startswith("/api/v1"):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        methods = rule.methods - {"OPTIONS"}
        if "GET" in methods:
            methods -= {"HEAD"}  # Flask answers HEAD for every GET; document only a HEAD of its own
        for method in sorted(methods):
            op: dict = {"summary": meta["summary"], "operationId": rule.endpoint.split(".")[-1],
                        "tags": [meta["tag"] or "api"], "responses": {}}
            roles = endpoint_roles(rule.endpoint)
            if roles != PUBLIC:
                op["security"] = [{"session": []}]
                op["description"] = "Roles: " + ", ".join(sorted(roles))
            params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                      for a in rule.arguments]
            if meta["query"] is not None:
                params.append({"in": "query", "schema": meta["query"]})
            if params:
                op["parameters"] = params
            if meta["body"] is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": meta["body"]}}}
            elif meta["raw_body"]:
                op["requestBody"] = {"required": True, "content": {meta["raw_body"]: {"schema": {
                    "type": "string", "format": "binary"}}}}
            ok: dict = {"description": "success"}
            if meta["response"] is not None:
                schema = meta["response"]
                if meta["many"]:
                    ok["content"] = {"application/json": {"schema": {"type": "object", "properties": {
                        "items": {"type": "array", "items": schema}, "next_cursor": {"type": "string", "nullable": True}}}}}
                else:
                    ok["content"] = {"application/json": {"schema": schema}}
            op["responses"][str(meta["status"])] = ok
            op["responses"]["default"] = {"description": "error",
                                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            paths.setdefault(path, {})[method.lower()] = op
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI document."""
    cached = current_app.extensions.get("lianduinspect_openapi")
    if cached is None:
        cached = current_app.extensions["lianduinspect_openapi"] = build_spec(current_app)
    return cached
