"""Pieces several schemas share: the credit-code check and a name field."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate

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


Name = lambda **kw: fields.String(validate=validate.Length(min=1, max=kw.pop("max", 64)), **kw)  # noqa: E731
