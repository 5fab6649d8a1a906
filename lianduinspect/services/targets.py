"""The target registry: browse, edit, and import from CSV or XLSX one result per row."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import or_, select

from ..errors import ApiError, NotFound, ValidationFailed
from ..models import Area, Target
from ..rules import creditcode
from . import audit
from .paging import paginate

FIELDS = ("name", "credit_code", "category", "area_id", "address", "lat", "lon", "risk",
          "contact_name", "contact_phone", "active")

# Column headings accepted in import files, Chinese or English.
HEADINGS = {
    "name": "name", "名称": "name", "单位名称": "name", "企业名称": "name",
    "credit_code": "credit_code", "统一社会信用代码": "credit_code", "信用代码": "credit_code",
    "category": "category", "类别": "category", "类型": "category",
    "area": "area", "属地": "area", "乡镇街道": "area", "所属乡镇（街道）": "area",
    "address": "address", "地址": "address", "经营地址": "address",
    "lat": "lat", "纬度": "lat", "lon": "lon", "经度": "lon",
    "risk": "risk", "风险等级": "risk",
    "contact_name": "contact_name", "联系人": "contact_name",
    "contact_phone": "contact_phone", "联系电话": "contact_phone",
    "active": "active", "状态": "active",
}
RISK_WORDS = {"低": "low", "中": "medium", "高": "high", "低风险": "low", "中风险": "medium", "高风险": "high"}
ACTIVE_WORDS = {"在营": True, "正常": True, "停业": False, "注销": False, "true": True, "false": False,
                "1": True, "0": False, "yes": True, "no": False}


def list_targets(session, *, area_id=None, category=None, risk=None, active=None, q=None, cursor=None, limit=50):
    """Return a page of targets, filtered."""
    stmt = select(Target)
    if area_id is not None:
        stmt = stmt.where(Target.area_id == area_id)
    if category:
        stmt = stmt.where(Target.category == category)
    if risk:
        stmt = stmt.where(Target.risk == risk)
    if active is not None:
        stmt = stmt.where(Target.active.is_(active))
    if q:
        stmt = stmt.where(or_(Target.name.like(f"%{q}%"), Target.credit_code == q.upper()))
    return paginate(session, stmt, Target.id, cursor, limit)


def get_target(session, target_id: int) -> Target:
    """Return one target or 404."""
    target = session.get(Target, target_id)
    if target is None:
        raise NotFound("target")
    return target


def _check_refs(session, values: dict, exclude_id=None) -> None:
    if "area_id" in values and session.get(Area, values["area_id"]) is None:
        raise ValidationFailed({"area_id": ["No such area."]})
    if "credit_code" in values:
        stmt = select(Target.id).where(Target.credit_code == values["credit_code"])
        if exclude_id is not None:
            stmt = stmt.where(Target.id != exclude_id)
        if session.scalar(stmt) is not None:
            raise ApiError("conflict", "A target with this credit code exists.", {"field": "credit_code"})


def create_target(session, actor, values: dict, *, now: datetime) -> Target:
    """Register a target."""
    _check_refs(session, values)
    target = Target(**values, created_at=now, updated_at=now)
    session.add(target)
    session.flush()
    audit.record(session, actor, "target.create", "target", target.id, {"credit_code": target.credit_code}, now=now)
    return target


def update_target(session, actor, target_id: int, values: dict, *, now: datetime) -> Target:
    """Change a target's registry entry."""
    target = get_target(session, target_id)
    _check_refs(session, values, target.id)
    changed = {k: v for k, v in values.items() if getattr(target, k) != v}
    for key, value in changed.items():
        setattr(target, key, value)
    if changed:
        target.updated_at = now
        audit.record(session, actor, "target.update", "target", target.id, {"fields": sorted(changed)}, now=now)
    session.flush()
    return target


def read_table(filename: str, data: bytes) -> list[dict]:
    """Read an uploaded CSV or XLSX into rows of heading → text; unreadable files are a 4xx."""
    if not data:
        raise ApiError("import.unreadable", details={"reason": "empty file"})
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ApiError("import.unreadable", details={"reason": "not UTF-8 or GB18030 text"})
    if "\x00" in text:
        raise ApiError("import.unreadable", details={"reason": "binary data, not CSV"})
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as err:
        raise ApiError("import.unreadable", details={"reason": str(err)}) from None
    return rows


def _read_xlsx(data: bytes) -> list[dict]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # Refuse zip bombs before openpyxl inflates anything.
            if sum(i.file_size for i in archive.infolist()) > 200 * 1024 * 1024:
                raise ApiError("import.unreadable", details={"reason": "workbook inflates too large"})
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ApiError:
        raise
    except Exception as err:  # openpyxl raises many types for broken files
        raise ApiError("import.unreadable", details={"reason": f"not an XLSX workbook ({type(err).__name__})"}) from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    headings = [str(h).strip() if h is not None else "" for h in next(rows, [])]
    out = []
    for values in rows:
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        out.append({h: ("" if v is None else str(v)) for h, v in zip(headings, values)})
    book.close()
    return out


def _normalise_row(raw: dict, areas: dict[str, int]) -> dict:
    """Map headings and words to the schema's fields."""
    row = {}
    for heading, value in raw.items():
        key = HEADINGS.get((heading or "").strip().lower()) or HEADINGS.get((heading or "").strip())
        if key:
            row[key] = (value or "").strip()
    if "credit_code" in row:
        row["credit_code"] = creditcode.normalize(row["credit_code"])
    if "area" in row:
        area = row.pop("area")
        row["area_id"] = areas.get(area) or areas.get(area.lower())
        if row["area_id"] is None:
            row["area_id"] = f"unknown area {area!r}"
    if row.get("risk") in RISK_WORDS:
        row["risk"] = RISK_WORDS[row["risk"]]
    if row.get("active", "").lower() in ACTIVE_WORDS:
        row["active"] = ACTIVE_WORDS[row["active"].lower()]
    for key in ("contact_name", "contact_phone", "risk", "active"):
        if row.get(key) == "":
            row.pop(key)
    return row


def import_targets(session, actor, rows: list[dict], *, now: datetime, progress=None) -> dict:
    """Create or update targets by credit code, one result per row; a bad row never stops the rest."""
    from ..schemas.targets import TargetSchema

    schema = TargetSchema()
    areas = {}
    for area in session.scalars(select(Area)):
        areas[area.name] = areas[area.code] = area.id
    existing = {t.credit_code: t for t in session.scalars(select(Target))}
    seen: dict[str, int] = {}
    results = []
    counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
    for number, raw in enumerate(rows, start=2):  # row 1 is the heading
        if progress:
            progress(1)
        row = _normalise_row(raw, areas)
        try:
            values = schema.load(row)
        except ValidationError as err:
            results.append({"row": number, "status": "error", "credit_code": row.get("credit_code"),
                            "target_id": None, "errors": err.normalized_messages()})
            counts["error"] += 1
            continue
        code = values["credit_code"]
        if code in seen:
            results.append({"row": number, "status": "error", "credit_code": code, "target_id": None,
                            "errors": {"credit_code": [f"Repeats row {seen[code]} of this file."]}})
            counts["error"] += 1
            continue
        seen[code] = number
        target = existing.get(code)
        if target is None:
            target = Target(**values, created_at=now, updated_at=now)
            session.add(target)
            session.flush()
            existing[code] = target
            status = "created"
        else:
            changed = {k: v for k, v in values.items() if getattr(target, k) != v}
            for key, value in changed.items():
                setattr(target, key, value)
            if changed:
                target.updated_at = now
            status = "updated" if changed else "unchanged"
        counts[status] += 1
        results.append({"row": number, "status": status, "credit_code": code, "target_id": target.id, "errors": None})
    session.flush()
    audit.record(session, actor, "target.import", "target", "*", counts, now=now)
    return {"summary": counts, "rows": results}
