"""One error type, one JSON shape, one catalogue of codes the PWA can switch on."""
from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

# code -> (HTTP status, default message). The comment says what `details` holds.
CATALOGUE: dict[str, tuple[int, str]] = {
    "validation": (422, "The request has invalid fields."),  # {field: [messages]}
    "malformed": (400, "The request body is not valid JSON."),  # {}
    "bad_request": (400, "The request is not understood."),  # {}
    "too_large": (413, "The request body is too large."),  # {"limit": bytes}
    "unsupported_media_type": (415, "Unsupported content type."),  # {"expected": type}
    "unauthenticated": (401, "Sign in first."),  # {}
    "session.expired": (401, "The session has ended; sign in again."),  # {}
    "auth.invalid_credentials": (401, "Wrong username or password."),  # {}
    "auth.locked": (429, "Too many failed sign-ins; try later."),  # {"retry_after": seconds}
    "auth.disabled": (403, "This account is disabled."),  # {}
    "csrf": (403, "Missing or wrong CSRF token."),  # {}
    "forbidden": (403, "You may not do this."),  # {}
    "not_found": (404, "No such thing."),  # {}
    "method_not_allowed": (405, "Method not allowed."),  # {}
    "conflict": (409, "This conflicts with stored data."),  # {"field": ...}
    "rate_limited": (429, "Too many requests; slow down."),  # {"retry_after": seconds}
    "import.unreadable": (422, "The file cannot be read as CSV or XLSX."),  # {"reason": str}
    "scene.in_use": (409, "This scene version is pinned by rounds."),  # {}
    "round.exists": (409, "A round for this scene, squad and period exists."),  # {"round_id": id}
    "round.closed": (409, "The round is cancelled or closed."),  # {"status": str}
    # {"needed": 2, "found": [user ids], "passed_over": {user id: reason}}
    "round.team_unavailable": (422, "Not enough certified inspectors for a team."),
    # {"clashes": {user id: {"targets": [target ids], "reason": str}}}: rotation (回避) needs a reason
    "round.rotation_clash": (422, "Someone on this team inspected one of its targets last time; give a reason."),
    "visit.closed": (409, "The visit is no longer pending."),  # {"status": str}
    # {"reason": str, "kept": true (the body waits for a supervisor: GET /conflicts), "stored": record}
    "inspection.conflict": (409, "Same inspection ID, different content."),
    "inspection.locked": (409, "This revision has been reviewed and is locked."),  # {"revision": n, "kept"?}
    "inspection.visit_closed": (409, "The visit is not open for inspection."),  # {"status": str}
    "conflict.resolved": (409, "This kept record has been resolved already."),  # {"resolved_at": time}
    "evidence.hash_mismatch": (422, "The bytes do not match their SHA-256."),  # {"computed": hex}
    "evidence.offset_mismatch": (409, "The upload offset does not match."),  # {"offset": held}
    "evidence.too_large": (413, "The photo is too large."),  # {"limit": bytes}
    "evidence.empty": (422, "The photo is empty."),  # {}
    "evidence.unsupported_format": (415, "Only JPEG, PNG, WebP and HEIC photos."),  # {"format"}
    "evidence.unreadable": (422, "The photo cannot be decoded."),  # {"reason": str}
    "evidence.truncated": (422, "The photo is truncated."),  # {}
    "evidence.too_many_pixels": (422, "The photo has too many pixels."),  # {"pixels", "limit"}
    "evidence.metadata_too_large": (422, "The photo's metadata is too large."),  # {"bytes"}
    "review.state": (409, "This revision cannot take that decision now."),  # {"status": str}
    "rectification.state": (409, "The rectification cannot take that step."),  # {"status"}
    "rectification.same_photo": (422, "The after photo repeats the before photo."),  # {"distance"}
    "audit.broken": (409, "The audit chain is broken; nothing was signed."),  # {"seq": n, "reason": str}
    "evaluation.limit": (409, "This visit has taken all the ratings it accepts."),  # {"limit": n}
    "evaluation.closed": (409, "This visit does not take ratings."),  # {"status": str}
    "internal": (500, "Something went wrong on the server."),  # {}
}


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "details"}}."""

    def __init__(self, code: str, message: str | None = None, details: dict | None = None,
                 status: int | None = None):
        if code not in CATALOGUE:
            raise KeyError(f"error code {code!r} is not in the catalogue")
        default_status, default_message = CATALOGUE[code]
        super().__init__(message or default_message)
        self.code = code
        self.message = message or default_message
        self.details = details or {}
        self.status = status or default_status


class NotFound(ApiError):
    """The thing does not exist, or the caller may not know that it does."""

    def __init__(self, what: str = "resource"):
        super().__init__("not_found", f"No such {what}.")


class Forbidden(ApiError):
    """The caller is known but not allowed."""

    def __init__(self, message: str | None = None):
        super().__init__("forbidden", message)


class ValidationFailed(ApiError):
    """Field errors from a schema or a rule."""

    def __init__(self, details: dict, message: str | None = None):
        super().__init__("validation", message, details)


def body(code: str, message: str, details: dict | None = None) -> dict:
    """Return the one error shape."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
               429: "rate_limited"}


def init_app(app: Flask) -> None:
    """Answer every error, ours or Werkzeug's, in the one shape."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        response = jsonify(body(err.code, err.message, err.details))
        response.status_code = err.status
        if err.code in ("auth.locked", "rate_limited") and "retry_after" in err.details:
            response.headers["Retry-After"] = str(int(err.details["retry_after"]))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code = _HTTP_CODES.get(err.code or 500, "bad_request" if (err.code or 500) < 500 else "internal")
        details = {"limit": app.config["MAX_CONTENT_LENGTH"]} if err.code == 413 else {}
        response = jsonify(body(code, CATALOGUE[code][1], details))
        response.status_code = err.code or 500
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception("unhandled error", exc_info=err)
        response = jsonify(body("internal", CATALOGUE["internal"][1]))
        response.status_code = 500
        return response
