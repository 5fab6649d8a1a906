"""Anomaly flags computed from the database: each is raised by its case and stays silent otherwise."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import event, select

from lianduinspect.models import Evidence
from lianduinspect.rules.phash_index import parse_phash, substrings
from lianduinspect.services import authenticity

from ..factories import make_round
from ..factories_review import (STARTED, bare_facts, camera_facts, evidence_from_bytes, jpeg,
                                make_evidence, make_inspection, make_review, scene_image, sha, visits_of)


def _codes(flags, photo=None):
    return sorted(f["code"] for f in flags if photo is None or f["photo"] == photo)


def _inspect(session, world, *, facts=None, photo_extra=None, phash=None, visit=None, **kw):
    """A record of the world's first visit with one photo whose facts are given; return (record, sha)."""
    visit = visit or visits_of(session, world.round)[0]
    evidence = make_evidence(session, uploaded_by=world.inspector, facts=facts, phash=phash)
    photo = {"sha256": evidence.sha256, **(photo_extra or {})}
    inspection = make_inspection(session, visit, [world.inspector, world.partner], photos=[photo], **kw)
    return inspection, evidence.sha256


@pytest.fixture
def flag(app, session, world, now):
    """Compute and return a record's flags."""

    def compute(inspection):
        return authenticity.refresh_flags(session, inspection, now=now, config=app.config)

    return compute


def test_flags_are_stored_on_the_record_with_photo_and_values(session, world, flag):
    inspection, photo = _inspect(session, world, facts=bare_facts())
    flags = flag(inspection)
    assert inspection.flags == flags
    assert flags == [{"code": "no_camera_metadata", "photo": photo, "values": {}}]


def test_photo_taken_hours_before_the_visit_is_flagged(session, world, flag):
    inspection, photo = _inspect(session, world, facts=camera_facts(STARTED - timedelta(hours=3)))
    flags = [f for f in flag(inspection) if f["code"] == "time_outside_visit"]
    assert [f["values"]["clock"] for f in flags] == ["exif"]
    assert flags[0]["photo"] == photo


def test_photo_taken_during_the_visit_in_local_time_is_not_flagged(session, world, flag):
    # EXIF holds Beijing wall-clock time; read as UTC it would be eight hours off.
    inspection, photo = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=15)))
    assert _codes(flag(inspection)) == []


def test_phone_clock_outside_the_visit_is_flagged_too(session, world, flag):
    inspection, _ = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=15)),
                             photo_extra={"captured_at": STARTED + timedelta(hours=5)})
    assert [f["values"]["clock"] for f in flag(inspection) if f["code"] == "time_outside_visit"] == ["phone"]


def test_photo_taken_before_the_round_existed_is_flagged(session, world, flag):
    old = world.round.created_at - timedelta(days=2)
    inspection, _ = _inspect(session, world, facts=camera_facts(old), photo_extra={"captured_at": None})
    assert "before_round" in _codes(flag(inspection))


def test_photo_taken_after_the_round_existed_is_not_flagged_as_before_it(session, world, flag):
    inspection, _ = _inspect(session, world, facts=camera_facts(world.round.created_at + timedelta(hours=1)),
                             photo_extra={"captured_at": None})
    assert "before_round" not in _codes(flag(inspection))


def test_photo_gps_far_from_the_target_is_flagged(session, world, flag):
    target = world.targets[0]
    far = (target.lat + 0.02, target.lon)  # about 2.2 km north
    inspection, _ = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=5), gps=far))
    flags = [f for f in flag(inspection) if f["code"] == "gps_far"]
    assert len(flags) == 1 and flags[0]["values"]["source"] == "exif"
    assert 2000 < flags[0]["values"]["distance_m"] < 2500


def test_photos_without_gps_are_not_flagged_as_far(session, world, flag):
    inspection, _ = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=5), gps=None))
    assert "gps_far" not in _codes(flag(inspection))


def test_phone_fix_within_its_accuracy_is_not_flagged_as_far(session, world, flag):
    target = world.targets[0]
    inspection, _ = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=5)),
                             photo_extra={"lat": target.lat + 0.006, "lon": target.lon, "accuracy_m": 300})
    assert "gps_far" not in _codes(flag(inspection))  # 670 m away, but the fix is only good to 300 m


def test_same_photo_at_another_target_is_flagged(session, world, flag):
    visits = visits_of(session, world.round)
    inspection, photo = _inspect(session, world, visit=visits[0])
    other = make_inspection(session, visits[1], [world.inspector, world.partner], photos=[{"sha256": photo}])
    flags = [f for f in flag(other) if f["code"] == "same_photo_elsewhere"]
    assert flags[0]["values"]["others"] == [{"visit_id": visits[0].id, "target_id": visits[0].target_id}]


def test_same_photo_at_another_visit_of_the_same_target_is_not_flagged(session, world, flag):
    first, photo = _inspect(session, world)
    target = visits_of(session, world.round)[0].target
    later = make_round(session, world.scene, world.squad, [world.inspector, world.partner], [target],
                       period_key="2023-05", window_start=STARTED + timedelta(days=20))
    again = make_inspection(session, visits_of(session, later)[0], [world.inspector, world.partner],
                            photos=[{"sha256": photo}], started_at=STARTED + timedelta(days=25))
    assert "same_photo_elsewhere" not in _codes(flag(again))


def _photo_pair(session, world, first_bytes, second_bytes, *, keep_rotations=True):
    """Store two photos, at visits of two different targets; return the second record."""
    visits = visits_of(session, world.round)
    one = evidence_from_bytes(session, first_bytes, uploaded_by=world.inspector, keep_rotations=keep_rotations)
    make_inspection(session, visits[0], [world.inspector, world.partner], photos=[{"sha256": one.sha256}])
    two = evidence_from_bytes(session, second_bytes, uploaded_by=world.inspector, keep_rotations=keep_rotations)
    return make_inspection(session, visits[1], [world.inspector, world.partner], photos=[{"sha256": two.sha256}])


def test_reencoded_copy_at_another_target_is_flagged_as_near_duplicate(session, world, flag):
    picture = scene_image(11)
    second = _photo_pair(session, world, jpeg(picture, 92), jpeg(picture.resize((480, 360)), 55))
    flags = [f for f in flag(second) if f["code"] == "near_duplicate_elsewhere"]
    assert len(flags) == 1 and flags[0]["values"]["distance"] <= flags[0]["values"]["limit"]


def test_rotated_copy_at_another_target_is_flagged_as_near_duplicate(session, world, flag):
    picture = scene_image(12)
    second = _photo_pair(session, world, jpeg(picture), jpeg(picture.transpose(Image.Transpose.ROTATE_90), 80))
    assert "near_duplicate_elsewhere" in _codes(flag(second))


def test_rotated_copy_is_found_even_when_stored_without_its_rotations(session, world, flag):
    # Photos stored before the evidence service kept exact rotations: the hash's bits are turned.
    picture = scene_image(3)
    second = _photo_pair(session, world, jpeg(picture), jpeg(picture.transpose(Image.Transpose.ROTATE_270), 80),
                         keep_rotations=False)
    assert "near_duplicate_elsewhere" in _codes(flag(second))


def test_a_different_picture_is_not_flagged_as_near_duplicate(session, world, flag):
    second = _photo_pair(session, world, jpeg(scene_image(21)), jpeg(scene_image(22)))
    assert "near_duplicate_elsewhere" not in _codes(flag(second))


def test_photo_without_camera_metadata_is_flagged(session, world, flag):
    inspection, _ = _inspect(session, world, facts=bare_facts())
    assert "no_camera_metadata" in _codes(flag(inspection))


def test_photo_with_camera_metadata_is_not_flagged_as_bare(session, world, flag):
    inspection, _ = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=5)))
    assert "no_camera_metadata" not in _codes(flag(inspection))


def test_photo_saved_by_an_editor_is_flagged(session, world, flag):
    facts = camera_facts(STARTED + timedelta(minutes=5), software="Adobe Photoshop 24.1 (Windows)")
    inspection, _ = _inspect(session, world, facts=facts)
    flags = [f for f in flag(inspection) if f["code"] == "editing_software"]
    assert flags[0]["values"]["editor"] == "Photoshop"


def test_photo_with_phone_firmware_software_is_not_flagged_as_edited(session, world, flag):
    facts = camera_facts(STARTED + timedelta(minutes=5), software="ELS-AN00 3.1.0.150(C00E150R2P3)")
    inspection, _ = _inspect(session, world, facts=facts)
    assert "editing_software" not in _codes(flag(inspection))


def test_record_entered_days_late_without_reason_is_flagged(session, world, flag):
    inspection, _ = _inspect(session, world, received_at=STARTED + timedelta(days=6))
    flags = [f for f in flag(inspection) if f["code"] == "late_entry"]
    assert flags[0]["photo"] is None and flags[0]["values"]["days"] > 5


def test_record_entered_late_with_a_reason_is_not_flagged(session, world, flag):
    inspection, _ = _inspect(session, world, received_at=STARTED + timedelta(days=6),
                             late_reason="山区无信号，回城后上传")
    assert "late_entry" not in _codes(flag(inspection))


def test_photo_not_uploaded_yet_gets_its_flags_when_it_arrives(app, session, world, now, flag):
    missing = sha()
    visit = visits_of(session, world.round)[0]
    inspection = make_inspection(session, visit, [world.inspector, world.partner], photos=[{"sha256": missing}])
    assert flag(inspection) == []
    make_evidence(session, missing, uploaded_by=world.inspector, facts=bare_facts())
    refreshed = authenticity.refresh_for_photo(session, missing, now=now, config=app.config)
    assert [i.id for i in refreshed] == [inspection.id]
    assert _codes(inspection.flags) == ["no_camera_metadata"]


def test_reviewed_record_keeps_the_flags_it_was_judged_on(app, session, world, now, flag):
    inspection, photo = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=5)))
    assert flag(inspection) == []
    make_review(session, inspection, world.supervisor, "approved")
    # A copy turns up later at another target: the new record is flagged, the approved one unchanged.
    other = make_inspection(session, visits_of(session, world.round)[1], [world.inspector, world.partner],
                            photos=[{"sha256": photo}])
    authenticity.refresh_for_photo(session, photo, now=now, config=app.config)
    assert inspection.flags == []
    assert "same_photo_elsewhere" in _codes(flag(other))


def test_thresholds_come_from_the_app_config(app, session, world, flag):
    app.config["PHOTO_DISTANCE_M"] = 5000
    target = world.targets[0]
    inspection, _ = _inspect(session, world, facts=camera_facts(STARTED + timedelta(minutes=5),
                                                                gps=(target.lat + 0.02, target.lon)))
    assert "gps_far" not in _codes(flag(inspection))


def test_quarter_turns_of_a_hash_come_back_after_four(session, world):
    phash = "c3a5f00f0ff0a53c"
    once = authenticity.rotations(phash)
    assert once[0] == phash
    turned = phash
    for _ in range(4):
        turned = authenticity.rotations(turned)[1]
    assert turned == phash



def test_records_inserted_elsewhere_are_flagged_by_id(app, session, world, now):
    inspection, _ = _inspect(session, world, facts=bare_facts())
    refreshed = authenticity.refresh_by_ids(session, [inspection.id], now=now, config=app.config)
    assert refreshed == [inspection] and _codes(inspection.flags) == ["no_camera_metadata"]


# --- near copies are looked up in the database, and it finds what a linear scan finds -----------

SEED = 20230410


def _flip(value: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value


def _plant(session, world, rng: random.Random):
    """Store 360 photos at 12 visits of 8 targets: random hashes, and near copies of 20 of them.

    Each original gets copies 0, 1, 2..8, 8 and 9 bits away, and one turned a quarter (as its bits
    would be) with up to 8 bits flipped. Return the records, the stored (phash, visit, target) rows,
    the originals' evidence and every evidence row.
    """
    later = make_round(session, world.scene, world.squad, [world.inspector, world.partner], world.targets,
                       period_key="2023-05", window_start=STARTED + timedelta(days=20))
    visits = visits_of(session, world.round) + visits_of(session, world.other_round) + visits_of(session, later)
    hashes = [rng.getrandbits(64) for _ in range(240)]
    originals = rng.sample(range(len(hashes)), 20)
    for position in originals:
        value = hashes[position]
        hashes += [_flip(value, bits, rng) for bits in (0, 1, rng.randint(2, 8), 8, 9)]
        turned = parse_phash(authenticity.rotations(f"{value:016x}")[rng.randrange(1, 4)])
        hashes.append(_flip(turned, rng.randint(0, 8), rng))
    at: dict[int, list[Evidence]] = {}
    stored = []
    for value in hashes:
        visit = rng.choice(visits)
        evidence = make_evidence(session, uploaded_by=world.inspector, phash=f"{value:016x}")
        at.setdefault(visit.id, []).append(evidence)
        stored.append((evidence, visit))
    records = [make_inspection(session, visit, [world.inspector, world.partner],
                               photos=[{"sha256": e.sha256} for e in at[visit.id]])
               for visit in visits if visit.id in at]
    rows = {(e.phash, v.id, v.target_id) for e, v in stored}
    return records, rows, [stored[p][0] for p in originals], [e for e, _ in stored]


def _turns(evidence: Evidence) -> list[int]:
    return [parse_phash(h) for h in authenticity.rotations(evidence.phash, evidence.facts)]


def _scan(evidence: Evidence, phashes, limit: int = 8) -> dict[str, int]:
    """Every stored hash within the limit of the photo in any turn, by reading them all."""
    turns = _turns(evidence)
    distances = {h: min((parse_phash(h) ^ t).bit_count() for t in turns) for h in phashes}
    return {h: d for h, d in distances.items() if d <= limit}


@pytest.fixture
def statements(app, session):
    """Collect the SQL statements sent while the test runs."""
    from lianduinspect.db import db

    sent: list[str] = []

    def collect(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", collect)
    yield sent
    event.remove(db.engine, "before_cursor_execute", collect)


def test_stored_photos_keep_their_hash_substrings_for_the_lookup(session, world):
    evidence = make_evidence(session, uploaded_by=world.inspector, phash="0123456789abcdef")
    session.expire_all()
    row = session.execute(select(Evidence.phash_q0, Evidence.phash_q1, Evidence.phash_q2, Evidence.phash_q3)
                          .where(Evidence.sha256 == evidence.sha256)).one()
    assert tuple(row) == substrings("0123456789abcdef") == (0x0123, 0x4567, 0x89AB, 0xCDEF)


def test_near_copies_found_in_one_statement_equal_a_linear_scan(session, world, statements):
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    _, rows, originals, everything = _plant(session, world, rng)
    queries = originals + rng.sample(everything, 5)
    phashes = {h for h, _, _ in rows}
    statements.clear()
    found = authenticity.near_hashes(session, {e.sha256: _turns(e) for e in queries}, 8)
    assert len(statements) == 1
    expected = {e.sha256: hits for e in queries if (hits := _scan(e, phashes))}
    assert found == expected, f"seed {SEED}"
    # The planted copies are there, on both sides of the limit.
    assert all(len(found[e.sha256]) >= 5 for e in originals)


def test_photos_looked_up_together_get_the_near_copies_each_gets_alone(session, world, statements):
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    _, _, originals, everything = _plant(session, world, rng)
    # Many photos in one call, each with its own four turns: no photo gets another's copies.
    photos = originals + rng.sample([e for e in everything if e not in originals], 100)
    turns = {e.sha256: _turns(e) for e in photos}
    statements.clear()
    together = authenticity.near_hashes(session, turns, 8)
    assert len(statements) == 1
    alone = {sha: hits for sha, photo_turns in turns.items()
             if (hits := authenticity.near_hashes(session, {sha: photo_turns}, 8).get(sha))}
    assert together == alone, f"seed {SEED}"
    assert sum(len(hits) >= 5 for hits in together.values()) >= len(originals)


def test_near_duplicate_flags_equal_those_of_a_linear_scan(app, session, world, now, statements):
    print(f"seed {SEED}")
    records, rows, _, _ = _plant(session, world, random.Random(SEED))
    statements.clear()
    authenticity.refresh_many(session, records, now=now, config=app.config)
    # 360 photos looked up together in one statement, not one per photo, let alone one per stored photo.
    assert sum("phash_q0 =" in sql for sql in statements) == 1
    evidence = {e.sha256: e for e in session.scalars(select(Evidence))}
    expected, got = {}, {}
    for record in records:
        visit = record.visit
        for photo in record.photos:
            near: dict[tuple[int, int], int] = {}
            close = _scan(evidence[photo.sha256], {h for h, _, _ in rows})
            for phash, visit_id, target_id in rows:
                if visit_id == visit.id or target_id == visit.target_id:
                    continue  # the same visit or target is not borrowed evidence (rules/flags.py)
                distance = close.get(phash)
                if distance is not None:
                    near[visit_id, target_id] = min(distance, near.get((visit_id, target_id), distance))
            if near:
                expected[photo.sha256] = sorted((d, v, t) for (v, t), d in near.items())
        for flag in record.flags:
            if flag["code"] == "near_duplicate_elsewhere":
                got[flag["photo"]] = [(o["distance"], o["visit_id"], o["target_id"]) for o in flag["values"]["others"]]
    assert len(expected) >= 20
    assert got == expected, f"seed {SEED}"
