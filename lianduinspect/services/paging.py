"""Keyset pagination with an opaque cursor."""
from __future__ import annotations

import base64

from ..errors import ValidationFailed


def encode_cursor(last_id: int) -> str:
    """Return an opaque cursor for the row after this id."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """Return the id a cursor points after; a forged cursor is a validation error."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        if prefix != "id":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["Not a cursor from this API."]}) from None


def paginate(session, stmt, id_column, cursor: str | None, limit: int, *, newest_first: bool = False):
    """Run stmt ordered by id after the cursor (descending with ``newest_first``); return (rows, next_cursor)."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column
    rows = list(session.scalars(stmt.order_by(order).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)


__all__ = ["paginate", "encode_cursor", "decode_cursor"]
