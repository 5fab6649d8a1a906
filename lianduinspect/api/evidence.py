"""Photo evidence: idempotent upload by SHA-256, resumable by offset, served only to those allowed."""
from __future__ import annotations

import re

from flask import current_app, request, send_file

from .. import imaging
from ..auth import current_user, now
from ..db import db, transaction
from ..errors import ApiError
from ..schemas.evidence import EvidenceSchema, UploadSchema
from ..services import evidence
from ..storage import for_app
from . import bp, doc

_SHA = re.compile(r"^[0-9a-f]{64}$")


def _storage():
    """Return the app's evidence store (one per app)."""
    return for_app(current_app._get_current_object())


def _limits() -> imaging.Limits:
    return imaging.Limits(max_bytes=current_app.config["MAX_EVIDENCE_BYTES"])


def _sha(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise ApiError("validation", details={"sha256": ["64 lower-case hexadecimal characters."]})
    return sha256


def _header_int(name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError("validation", details={name: ["A non-negative whole number is required."]})
    return int(raw)


def _answer(upload: evidence.Upload):
    body = UploadSchema().dump({"sha256": upload.sha256, "offset": upload.offset,
                                "complete": upload.evidence is not None, "evidence": upload.evidence})
    response = current_app.response_class(current_app.json.dumps(body), mimetype="application/json",
                                          status=201 if upload.created else 200)
    response.headers["Upload-Offset"] = str(upload.offset)
    return response


@bp.put("/evidence/<sha256>")
@doc("Upload a whole photo by its SHA-256 (201 stored, 200 already held)", response=UploadSchema, status=201,
     tag="evidence", raw_body="application/octet-stream")
def evidence_put(sha256):
    sha256 = _sha(sha256)
    data = request.get_data(cache=False)
    with transaction() as session:
        upload = evidence.store(session, current_user(), sha256, data, storage=_storage(), limits=_limits(),
                                now=now(), config=current_app.config)
    return _answer(upload)


@bp.route("/evidence/<sha256>", methods=["HEAD"])
@doc("How many bytes of this photo the server holds (Upload-Offset; Upload-Complete: 1 when stored)",
     tag="evidence")
def evidence_head(sha256):
    upload = evidence.status(db.session, _storage(), _sha(sha256))
    response = current_app.response_class(status=200)
    response.headers["Upload-Offset"] = str(upload.offset)
    response.headers["Upload-Complete"] = "1" if upload.evidence is not None else "0"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.patch("/evidence/<sha256>")
@doc("Continue an upload from Upload-Offset; Upload-Length names the whole size", response=UploadSchema,
     tag="evidence", raw_body="application/offset+octet-stream")
def evidence_patch(sha256):
    sha256 = _sha(sha256)
    offset, total = _header_int("Upload-Offset"), _header_int("Upload-Length")
    chunk = request.get_data(cache=False)
    store = _storage()
    with transaction() as session:
        upload = evidence.append(session, current_user(), sha256, offset, total, chunk, storage=store,
                                 limits=_limits(), now=now(), config=current_app.config)
    if upload.evidence is not None:
        evidence.discard_partial(store, sha256)  # after the commit: the original is in place
    return _answer(upload)


@bp.get("/evidence/<sha256>")
@doc("A photo's facts: format, size, EXIF time and GPS, device, perceptual hash", response=EvidenceSchema,
     tag="evidence")
def evidence_get(sha256):
    return EvidenceSchema().dump(evidence.get_visible(db.session, current_user(), _sha(sha256)))


def _image(sha256: str, key: str):
    evidence.get_visible(db.session, current_user(), _sha(sha256))
    response = send_file(evidence.open_blob(_storage(), key), mimetype="image/jpeg", max_age=0, etag=False)
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"  # content-addressed
    return response


@bp.get("/evidence/<sha256>/thumb")
@doc("The thumbnail (≤320 px JPEG, no metadata)", tag="evidence")
def evidence_thumb(sha256):
    return _image(sha256, evidence.thumb_key(sha256))


@bp.get("/evidence/<sha256>/display")
@doc("The display image (≤1600 px JPEG, orientation applied, no metadata)", tag="evidence")
def evidence_display(sha256):
    return _image(sha256, evidence.display_key(sha256))


@bp.get("/evidence/<sha256>/original")
@doc("The original bytes exactly as received, as an attachment (supervisors only)", tag="evidence")
def evidence_original(sha256):
    record = evidence.get_visible(db.session, current_user(), _sha(sha256))
    response = send_file(evidence.open_blob(_storage(), record.sha256), mimetype="application/octet-stream",
                         as_attachment=True, download_name=f"{record.sha256}.{record.format}", etag=False)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
