"""The offline pack a phone loads on Wi-Fi, revalidated by ETag."""
from __future__ import annotations

from flask import jsonify, request

from ..auth import current_user
from ..db import db
from ..schemas.pack import PackSchema
from ..services import pack
from . import bp, doc


@bp.get("/pack")
@doc("Everything the phone needs for the signed-in user's open rounds; If-None-Match answers 304 when unchanged",
     response=PackSchema, tag="inspections")
def pack_get():
    content = PackSchema().dump(pack.build_pack(db.session, current_user()))
    tag = pack.etag(content)
    response = jsonify(content)
    response.set_etag(tag)
    # Stored by the phone but revalidated every time (no-store would forbid the 304 round trip).
    response.headers["Cache-Control"] = "no-cache, private"
    return response.make_conditional(request)
