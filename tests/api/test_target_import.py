"""Target import from CSV and XLSX: one result per row, bad rows never stop good ones, re-import changes nothing."""
from __future__ import annotations

import io

from openpyxl import Workbook

from lianduinspect.db import db
from lianduinspect.models import Target

from ..factories import credit_code

HEAD = ["名称", "统一社会信用代码", "类别", "属地", "地址", "纬度", "经度", "风险等级", "联系人", "联系电话"]


def _rows():
    return [
        ["莲都区瓯江小吃店", credit_code(700001), "restaurant", "紫金街道", "丽水市莲都区紫金街道大众街8号", "28.452", "119.913", "中", "叶建华", "13905780001"],
        ["碧湖镇好味道餐馆", credit_code(700002), "restaurant", "碧湖镇", "丽水市莲都区碧湖镇碧湖大街21号", "28.341", "119.802", "低", "", ""],
        ["坏行：信用代码错", "91331102XXXXXXXXX1", "restaurant", "紫金街道", "丽水市莲都区紫金街道中山街1号", "28.45", "119.92", "低", "", ""],
        ["坏行：属地不存在", credit_code(700003), "restaurant", "火星街道", "某地", "28.45", "119.92", "低", "", ""],
        ["坏行：纬度", credit_code(700004), "restaurant", "紫金街道", "丽水市莲都区紫金街道中山街2号", "北纬", "119.92", "低", "", ""],
    ]


def _csv(rows, encoding="utf-8-sig") -> bytes:
    lines = [",".join(HEAD)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEAD)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(client, name, data):
    return client.post("/api/v1/targets/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_bad_rows_are_reported_and_good_rows_imported(app, as_admin, world):
    response = _upload(as_admin, "targets.csv", _csv(_rows()))
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json["rows"]]
    assert statuses == ["created", "created", "error", "error", "error"]
    assert response.json["summary"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 3}
    errors = {r["row"]: r["errors"] for r in response.json["rows"] if r["errors"]}
    assert "credit_code" in errors[4] and "area_id" in errors[5] and "lat" in errors[6]
    with app.app_context():
        made = db.session.query(Target).filter(Target.name == "莲都区瓯江小吃店").one()
        assert made.risk == "medium" and made.area.name == "紫金街道"


def test_reimporting_the_same_file_changes_nothing(app, as_admin, world):
    data = _xlsx(_rows())
    _upload(as_admin, "targets.xlsx", data)
    with app.app_context():
        before = {(t.credit_code, t.updated_at) for t in db.session.query(Target)}
    again = _upload(as_admin, "targets.xlsx", data)
    assert again.json["summary"] == {"created": 0, "updated": 0, "unchanged": 2, "error": 3}
    with app.app_context():
        assert {(t.credit_code, t.updated_at) for t in db.session.query(Target)} == before


def test_changed_row_updates_the_target(app, as_admin, world):
    rows = _rows()[:1]
    _upload(as_admin, "a.csv", _csv(rows))
    rows[0][7] = "高"
    response = _upload(as_admin, "a.csv", _csv(rows))
    assert response.json["rows"][0]["status"] == "updated"
    with app.app_context():
        assert db.session.query(Target).filter_by(credit_code=rows[0][1]).one().risk == "high"


def test_gbk_csv_from_excel_is_read(as_admin, world):
    response = _upload(as_admin, "targets.csv", _csv(_rows()[:2], encoding="gb18030"))
    assert response.status_code == 200
    assert response.json["summary"]["created"] == 2


def test_same_credit_code_twice_in_a_file_is_a_row_error(as_admin, world):
    rows = _rows()[:1] * 2
    response = _upload(as_admin, "dup.csv", _csv(rows))
    assert [r["status"] for r in response.json["rows"]] == ["created", "error"]


def test_unreadable_file_is_422_and_writes_nothing(app, as_admin, world):
    before = len(world.targets) + len(world.other_targets)
    response = _upload(as_admin, "targets.xlsx", b"PK\x03\x04 this is not really a zip")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "import.unreadable"
    response = _upload(as_admin, "targets.csv", b"\xff\xfe\x00\x00\x00binary")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.query(Target).count() == before


def test_import_without_file_is_422(as_admin, world):
    response = as_admin.post("/api/v1/targets/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "file" in response.json["error"]["details"]


def test_cli_import_reports_bad_rows_and_summarises(runner, world, tmp_path):
    path = tmp_path / "targets.csv"
    path.write_bytes(_csv(_rows()))
    result = runner.invoke(args=["targets", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "5 rows: 2 created, 0 updated, 0 unchanged, 3 with errors" in result.output
