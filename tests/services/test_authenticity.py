"""Anomaly flags computed from the database: each is raised by its case and stays silent otherwise."""
from __future__ import annotations

from datetime import timedelta

import pytest
from PIL import Image

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
