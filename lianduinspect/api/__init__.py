"""The JSON API under /api/v1: one module per noun, routes parse, call one service, serialize."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, request
from marshmallow import Schema, ValidationError

from ..errors import ApiError, ValidationFailed

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def doc(summary: str, *, body: type[Schema] | Schema | None = None, response=None, status: int = 200,
        query: type[Schema] | None = None, many: bool = False, tag: str | None = None, raw_body: str | None = None):
    """Describe a view for the OpenAPI document (read by api/openapi.py)."""

    def decorate(view):
        view._apidoc = {"summary": summary, "body": body, "response": response, "status": status,
                        "query": query, "many": many, "tag": tag, "raw_body": raw_body}
        return view

    return decorate


def json_body(schema: Schema, *, partial: bool = False):
    """Parse the JSON request body through a schema; 4xx in the one shape when it does not fit."""
    if request.mimetype != "application/json":
        raise ApiError("unsupported_media_type", details={"expected": "application/json"})
    limit = current_app.config["MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError("too_large", details={"limit": limit})
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise ApiError("too_large", details={"limit": limit})
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError("malformed", details={"reason": str(err)[:200]}) from None
    if not isinstance(data, dict):
        raise ApiError("malformed", "The body must be a JSON object.")
    return load(schema, data, partial=partial)


def load(schema: Schema, data, *, partial: bool = False):
    """Validate plain data with a schema; field errors become a 422 validation error."""
    try:
        return schema.load(data, partial=partial)
    except ValidationError as err:
        raise ValidationFailed(err.normalized_messages()) from None


def query_args(schema: Schema):
    """Parse query parameters through a schema (lists from repeated keys are not used)."""
    return load(schema, request.args.to_dict())


def page(items, next_cursor: str | None, schema: Schema) -> dict:
    """Serialize one page of a cursor-paginated list."""
    return {"items": schema.dump(items, many=True), "next_cursor": next_cursor}


def _register_resources() -> None:
    """Import every resource module of this package so its routes register on the blueprint."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_register_resources()
