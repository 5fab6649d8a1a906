"""One error shape everywhere, whichever handler answers."""
from __future__ import annotations

import pytest

from lianduinspect.errors import CATALOGUE, ApiError


def _assert_shape(response, code):
    assert response.is_json
    assert set(response.json) == {"error"}
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


def test_unknown_route_is_404_in_the_one_shape(client):
    _assert_shape(client.get("/api/v1/no-such-thing"), "not_found")


def test_wrong_method_is_405_in_the_one_shape(as_admin):
    _assert_shape(as_admin.delete("/api/v1/departments"), "method_not_allowed")


def test_domain_error_is_in_the_one_shape(as_admin):
    response = as_admin.get("/api/v1/targets/999999")
    assert response.status_code == 404
    _assert_shape(response, "not_found")


def test_unexpected_exception_is_500_in_the_one_shape_without_internals(app, as_admin, monkeypatch):
    from lianduinspect.services import reference

    def boom(session):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(reference, "list_departments", boom)
    app.logger.disabled = True
    response = as_admin.get("/api/v1/departments")
    assert response.status_code == 500
    _assert_shape(response, "internal")
    assert "secret internals" not in response.get_data(as_text=True)


def test_body_beyond_the_request_limit_is_413(app, as_admin):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = as_admin.post("/api/v1/departments", data=big, content_type="application/json")
    assert response.status_code == 413
    _assert_shape(response, "too_large")


def test_json_beyond_the_json_limit_is_413(app, as_admin):
    body = '{"code": "' + "x" * app.config["MAX_JSON_BYTES"] + '"}'
    response = as_admin.post("/api/v1/departments", data=body, content_type="application/json")
    assert response.status_code == 413
    _assert_shape(response, "too_large")


def test_catalogue_codes_have_4xx_or_5xx_statuses():
    assert all(400 <= status < 600 for status, _ in CATALOGUE.values())


def test_unknown_error_code_cannot_be_raised():
    with pytest.raises(KeyError):
        ApiError("no.such.code")
