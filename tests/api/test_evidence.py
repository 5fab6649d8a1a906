"""Photo evidence through the API: idempotent, resumable, judged by decoding, served only where allowed."""
from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from lianduinspect.db import db
from lianduinspect.models import AuditEvent, Evidence, Inspection
from lianduinspect.rules.phash_index import substrings

from ..imaging.corpus import CASES, CaseUnavailable, exif_block, photo
from ..inspection_bodies import body, new_uuid, visits_of


def jpeg(seed: int = 1, size=(800, 600), exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    photo(*size, seed=seed).save(out, "JPEG", quality=88, **({"exif": exif} if exif else {}))
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(client, data: bytes, digest: str | None = None):
    return client.put(f"/api/v1/evidence/{digest or sha(data)}", data=data, content_type="application/octet-stream")


def test_photo_is_stored_once_and_a_second_upload_is_harmless(app, as_inspector):
    data = jpeg()
    first = put(as_inspector, data)
    assert first.status_code == 201
    assert first.json["complete"] is True and first.json["evidence"]["format"] == "jpeg"
    again = put(as_inspector, data)
    assert again.status_code == 200 and again.json["evidence"]["sha256"] == sha(data)
    with app.app_context():
        assert db.session.query(Evidence).count() == 1
        assert db.session.query(AuditEvent).filter_by(action="evidence.upload").count() == 1


def test_uploaded_photo_keeps_its_hash_substrings_for_the_near_duplicate_lookup(app, as_inspector):
    data = jpeg(seed=5)
    assert put(as_inspector, data).status_code == 201
    with app.app_context():
        row = db.session.get(Evidence, sha(data))
        assert (row.phash_q0, row.phash_q1, row.phash_q2, row.phash_q3) == substrings(row.phash)


def test_original_is_kept_byte_for_byte(app, as_inspector, as_supervisor):
    data = jpeg(exif=exif_block(orientation=6))
    put(as_inspector, data)
    response = as_supervisor.get(f"/api/v1/evidence/{sha(data)}/original")
    assert response.status_code == 200
    assert response.data == data


def test_bytes_that_do_not_match_their_hash_are_422_and_not_stored(app, as_inspector):
    data = jpeg()
    response = put(as_inspector, data, digest=sha(b"something else"))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "evidence.hash_mismatch"
    with app.app_context():
        assert db.session.query(Evidence).count() == 0


def test_upload_resumes_from_the_offset_the_server_holds(app, as_inspector):
    data = jpeg(size=(1200, 900))
    digest = sha(data)
    head = as_inspector.head(f"/api/v1/evidence/{digest}")
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Complete"] == "0"
    half = len(data) // 2
    first = as_inspector.patch(f"/api/v1/evidence/{digest}", data=data[:half], headers={
        "Upload-Offset": "0", "Upload-Length": str(len(data))}, content_type="application/offset+octet-stream")
    assert first.status_code == 200 and first.json == {"sha256": digest, "offset": half, "complete": False,
                                                       "evidence": None}
    assert as_inspector.head(f"/api/v1/evidence/{digest}").headers["Upload-Offset"] == str(half)
    rest = as_inspector.patch(f"/api/v1/evidence/{digest}", data=data[half:], headers={
        "Upload-Offset": str(half), "Upload-Length": str(len(data))}, content_type="application/offset+octet-stream")
    assert rest.status_code == 201 and rest.json["complete"] is True
    head = as_inspector.head(f"/api/v1/evidence/{digest}")
    assert head.headers["Upload-Complete"] == "1" and head.headers["Upload-Offset"] == str(len(data))


def test_chunk_at_the_wrong_offset_is_409_with_the_held_offset(as_inspector):
    data = jpeg()
    digest = sha(data)
    as_inspector.patch(f"/api/v1/evidence/{digest}", data=data[:100], headers={
        "Upload-Offset": "0", "Upload-Length": str(len(data))}, content_type="application/offset+octet-stream")
    response = as_inspector.patch(f"/api/v1/evidence/{digest}", data=data[50:], headers={
        "Upload-Offset": "50", "Upload-Length": str(len(data))}, content_type="application/offset+octet-stream")
    assert response.status_code == 409
    assert response.json["error"] == {"code": "evidence.offset_mismatch", "message": response.json["error"]["message"],
                                      "details": {"offset": 100}}


def test_missing_upload_headers_are_422(as_inspector):
    response = as_inspector.patch(f"/api/v1/evidence/{'a' * 64}", data=b"xx",
                                  content_type="application/offset+octet-stream")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation"


def test_malformed_sha256_is_422(as_inspector):
    response = put(as_inspector, b"abc", digest="ABC")
    assert response.status_code == 422


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_image_gets_its_answer_and_never_a_5xx(app, as_inspector, case):
    try:
        data = case.data
    except CaseUnavailable as why:
        pytest.skip(str(why))
    if len(data) > app.config["MAX_EVIDENCE_BYTES"]:
        pytest.skip("larger than the request limit; covered by the imaging tests")
    response = put(as_inspector, data)
    assert response.status_code < 500
    if case.expected == "accept":
        assert response.status_code == 201, response.json
        thumb = as_inspector.get(f"/api/v1/evidence/{sha(data)}/thumb")
        image = Image.open(io.BytesIO(thumb.data))
        assert image.format == "JPEG" and not image.info.get("exif") and max(image.size) <= 320
    else:
        assert response.json["error"]["code"] == case.expected
        with app.app_context():
            assert db.session.query(Evidence).count() == 0
    assert as_inspector.get("/healthz").status_code == 200


def test_original_is_for_supervisors_only_as_a_sandboxed_attachment(as_inspector, as_supervisor, as_admin):
    data = jpeg()
    put(as_inspector, data)
    assert as_inspector.get(f"/api/v1/evidence/{sha(data)}/original").status_code == 403
    assert as_admin.get(f"/api/v1/evidence/{sha(data)}/original").status_code == 403
    response = as_supervisor.get(f"/api/v1/evidence/{sha(data)}/original")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_other_squad_cannot_see_a_photo_and_learns_nothing(app, world, session, as_inspector, as_stranger, now):
    data = jpeg(seed=7)
    put(as_inspector, data)
    visit = visits_of(session, world.round)[0]
    record = body(world, visit, now=now, scene_photos=[{"sha256": sha(data), "captured_at": None, "lat": None,
                                                        "lon": None, "accuracy_m": None}])
    assert as_inspector.put(f"/api/v1/inspections/{new_uuid()}", json=record).status_code == 201
    assert as_stranger.get(f"/api/v1/evidence/{sha(data)}/thumb").status_code == 404
    assert as_stranger.get(f"/api/v1/evidence/{'0' * 64}/thumb").status_code == 404
    assert as_inspector.get(f"/api/v1/evidence/{sha(data)}/display").status_code == 200


def test_photo_arriving_after_its_record_completes_the_evidence(app, world, session, as_inspector, now):
    data = jpeg(seed=9)
    visit = visits_of(session, world.round)[0]
    record = body(world, visit, now=now, scene_photos=[{"sha256": sha(data), "captured_at": None, "lat": None,
                                                        "lon": None, "accuracy_m": None}])
    uuid = new_uuid()
    created = as_inspector.put(f"/api/v1/inspections/{uuid}", json=record)
    assert created.status_code == 201 and created.json["evidence_complete"] is False
    assert created.json["evidence"]["missing"] == [sha(data)]
    put(as_inspector, data)
    with app.app_context():
        assert db.session.query(Inspection).filter_by(uuid=uuid).one().evidence_complete is True


def test_record_and_photo_committing_at_once_still_complete_the_evidence(app, world, session, now):
    """On two hosts at the same moment, neither may miss the other: the record ends up complete."""
    import threading

    from ..conftest import ApiClient

    visits = visits_of(session, world.round)[:4]
    pairs = []
    for n, visit in enumerate(visits):
        data = jpeg(seed=100 + n)
        record = body(world, visit, now=now, scene_photos=[{"sha256": sha(data), "captured_at": None, "lat": None,
                                                            "lon": None, "accuracy_m": None}])
        pairs.append((new_uuid(), record, data))
    clients = []
    for _ in range(2 * len(pairs)):
        c = ApiClient(app)
        assert c.login(world.inspector.username).status_code == 200
        clients.append(c)
    barrier = threading.Barrier(len(clients))
    statuses = []

    def send(n):
        key, record, data = pairs[n // 2]
        barrier.wait()
        if n % 2:
            statuses.append(put(clients[n], data).status_code)
        else:
            statuses.append(clients[n].put(f"/api/v1/inspections/{key}", json=record).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] * len(clients)
    with app.app_context():
        stored = {i.uuid: i.evidence_complete for i in db.session.query(Inspection)}
    assert stored == {key: True for key, _, _ in pairs}
