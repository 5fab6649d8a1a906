"""Pieces several schemas share: list queries with a cursor, and field validators."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from ..rules import creditcode

CREDIT_CODE_REASONS = {
    "length": "统一社会信用代码应为18位 / must be 18 characters",
    "alphabet": "统一社会信用代码含非法字符 / contains characters outside GB 32100 (no I, O, S, V, Z)",
    "check_character": "统一社会信用代码校验位错误 / check character does not match (GB 32100-2015)",
}


def validate_credit_code(value: str) -> None:
    """Refuse a credit code whose length, alphabet or check character is wrong."""
    reason = creditcode.validate(value)
    if reason:
        raise ValidationError(CREDIT_CODE_REASONS.get(reason, reason))


class ListQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


Name = lambda **kw: fields.String(validate=validate.Length(min=1, max=kw.pop("max", 64)), **kw)  # noqa: E731
