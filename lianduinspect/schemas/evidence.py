"""Evidence on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields


class EvidenceSchema(Schema):
    sha256 = fields.String()
    size = fields.Integer()
    format = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    facts = fields.Dict()
    phash = fields.String()
    uploaded_at = fields.DateTime()


class UploadSchema(Schema):
    sha256 = fields.String()
    offset = fields.Integer()
    complete = fields.Boolean()
    evidence = fields.Nested(EvidenceSchema, allow_none=True)
