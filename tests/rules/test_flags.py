"""Each anomaly flag is raised by the fact it names, and only by it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from lianduinspect.rules.flags import (
    FLAG_CODES,
    Dup,
    Flag,
    PhotoFacts,
    Thresholds,
    VisitContext,
    compute_flags,
    editor_named,
    record_flags,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGET = (28.4500, 119.9200)
# 0.01° of latitude is 1112 m; these points lie due north of the target.
NORTH_700_M = (28.4500 + 700 / 111_195, 119.9200)
NORTH_2_KM = (28.4500 + 2000 / 111_195, 119.9200)


@pytest.fixture
def ctx() -> VisitContext:
    """Return a visit from 09:00 to 10:00 Lishui time on 17 May 2024, submitted at 10:05."""
    return VisitContext(
        target_id=11,
        visit_id=101,
        target_lat=TARGET[0],
        target_lon=TARGET[1],
        started_at=datetime(2024, 5, 17, 9, 0, tzinfo=SHANGHAI),
        finished_at=datetime(2024, 5, 17, 10, 0, tzinfo=SHANGHAI),
        round_created_at=datetime(2024, 5, 1, 2, 0, tzinfo=SHANGHAI),
        submitted_at=datetime(2024, 5, 17, 10, 5, tzinfo=SHANGHAI),
    )


@pytest.fixture
def photo() -> PhotoFacts:
    """Return an unremarkable phone photo taken at the target during the visit."""
    return PhotoFacts(
        sha256="ab" * 32,
        has_camera_metadata=True,
        captured_at_exif=datetime(2024, 5, 17, 9, 30),  # naive camera time, Beijing time
        captured_at_phone=datetime(2024, 5, 17, 1, 30, 5, tzinfo=timezone.utc),
        gps_lat=TARGET[0] + 0.0005,
        gps_lon=TARGET[1],
        phone_lat=TARGET[0],
        phone_lon=TARGET[1] + 0.0005,
        phone_accuracy_m=12.0,
        make="vivo",
        model="V2219A",
        software="MediaTek Camera Application",
        phash="f0e1d2c3b4a59687",
    )


def codes(flags: list[Flag]) -> list[str]:
    """Return the flags' codes."""
    return [flag.code for flag in flags]


def test_unremarkable_photo_raises_no_flag(photo: PhotoFacts, ctx: VisitContext) -> None:
    assert compute_flags(photo, ctx, Thresholds(), []) == []


# time_outside_visit


def test_camera_time_before_the_visit_is_outside_it(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, captured_at_exif=datetime(2024, 5, 17, 8, 15))
    flags = compute_flags(photo, ctx, Thresholds(), [])
    assert flags == [Flag("time_outside_visit", {
        "clock": "exif",
        "captured": "2024-05-17T00:15:00+00:00",
        "window": ["2024-05-17T01:00:00+00:00", "2024-05-17T02:00:00+00:00"],
        "tolerance_min": 30,
    })]


def test_camera_time_within_the_tolerance_is_inside(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, captured_at_exif=datetime(2024, 5, 17, 10, 29))
    assert "time_outside_visit" not in codes(compute_flags(photo, ctx, Thresholds(), []))


def test_camera_time_is_read_as_lishui_local_time(photo: PhotoFacts, ctx: VisitContext) -> None:
    # 09:30 read as UTC would be 17:30 in Lishui, long after the visit.
    photo = replace(photo, captured_at_exif=datetime(2024, 5, 17, 9, 30), captured_at_phone=None)
    assert compute_flags(photo, ctx, Thresholds(), []) == []


def test_photo_without_exif_time_is_judged_by_the_phone_clock(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, captured_at_exif=None,
                    captured_at_phone=datetime(2024, 5, 17, 11, 0, tzinfo=SHANGHAI))
    [flag] = compute_flags(photo, ctx, Thresholds(), [])
    assert (flag.code, flag.values["clock"]) == ("time_outside_visit", "phone")


def test_photo_without_exif_time_inside_by_phone_clock_is_not_flagged(
    photo: PhotoFacts, ctx: VisitContext
) -> None:
    photo = replace(photo, captured_at_exif=None,
                    captured_at_phone=datetime(2024, 5, 17, 9, 45, tzinfo=SHANGHAI))
    assert compute_flags(photo, ctx, Thresholds(), []) == []


def test_photo_without_any_time_is_not_flagged_for_time(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, captured_at_exif=None, captured_at_phone=None)
    assert compute_flags(photo, ctx, Thresholds(), []) == []


def test_old_gallery_photo_attached_during_the_visit_is_flagged_by_its_camera_time(
    photo: PhotoFacts, ctx: VisitContext
) -> None:
    photo = replace(photo, captured_at_exif=datetime(2024, 5, 16, 9, 30))
    flags = compute_flags(photo, ctx, Thresholds(), [])
    assert [(f.code, f.values["clock"]) for f in flags] == [("time_outside_visit", "exif")]


# before_round


def test_photo_taken_before_the_round_existed_is_flagged(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, captured_at_exif=datetime(2024, 4, 28, 15, 0))
    flags = compute_flags(photo, ctx, Thresholds(), [])
    assert codes(flags) == ["time_outside_visit", "before_round"]
    assert flags[1].values == {
        "clock": "exif",
        "captured": "2024-04-28T07:00:00+00:00",
        "round_created_at": "2024-04-30T18:00:00+00:00",
        "tolerance_min": 30,
    }


def test_photo_minutes_before_an_ad_hoc_round_is_not_before_it(photo: PhotoFacts, ctx: VisitContext) -> None:
    # A complaint-driven round created at 09:05 for a visit that started at 09:00.
    ctx = replace(ctx, round_created_at=datetime(2024, 5, 17, 9, 5, tzinfo=SHANGHAI))
    photo = replace(photo, captured_at_exif=datetime(2024, 5, 17, 9, 1))
    assert "before_round" not in codes(compute_flags(photo, ctx, Thresholds(), []))


# gps_far


def test_photo_gps_2_km_from_the_target_is_far(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, gps_lat=NORTH_2_KM[0], gps_lon=NORTH_2_KM[1])
    assert compute_flags(photo, ctx, Thresholds(), []) == [
        Flag("gps_far", {"source": "exif", "distance_m": 2000, "accuracy_m": None, "limit": 500})
    ]


def test_phone_fix_beyond_limit_plus_accuracy_is_far(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, phone_lat=NORTH_700_M[0], phone_lon=NORTH_700_M[1], phone_accuracy_m=150.0)
    assert compute_flags(photo, ctx, Thresholds(), []) == [
        Flag("gps_far", {"source": "phone", "distance_m": 700, "accuracy_m": 150.0, "limit": 500})
    ]


def test_phone_fix_within_limit_plus_accuracy_is_not_far(photo: PhotoFacts, ctx: VisitContext) -> None:
    # 700 m away, but the fix is only good to 300 m: the phone may well have been within 500 m.
    photo = replace(photo, phone_lat=NORTH_700_M[0], phone_lon=NORTH_700_M[1], phone_accuracy_m=300.0)
    assert compute_flags(photo, ctx, Thresholds(), []) == []


def test_photo_without_gps_is_not_far(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, gps_lat=None, gps_lon=None, phone_lat=None, phone_lon=None,
                    phone_accuracy_m=None)
    assert compute_flags(photo, ctx, Thresholds(), []) == []


def test_photo_gps_at_null_island_is_no_fix_not_far(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, gps_lat=0.0, gps_lon=0.0)
    assert compute_flags(photo, ctx, Thresholds(), []) == []


def test_target_without_gps_makes_no_photo_far(photo: PhotoFacts, ctx: VisitContext) -> None:
    ctx = replace(ctx, target_lat=None, target_lon=None)
    photo = replace(photo, gps_lat=NORTH_2_KM[0], gps_lon=NORTH_2_KM[1])
    assert compute_flags(photo, ctx, Thresholds(), []) == []


# same_photo_elsewhere and near_duplicate_elsewhere


def test_same_photo_at_another_target_is_flagged(photo: PhotoFacts, ctx: VisitContext) -> None:
    dups = [Dup("sha256", 0, 205, 22), Dup("sha256", 0, 205, 22), Dup("sha256", 0, 309, 33)]
    assert compute_flags(photo, ctx, Thresholds(), dups) == [Flag("same_photo_elsewhere", {
        "others": [{"visit_id": 205, "target_id": 22}, {"visit_id": 309, "target_id": 33}],
    })]


def test_same_photo_within_the_visit_or_target_is_not_flagged(photo: PhotoFacts, ctx: VisitContext) -> None:
    dups = [Dup("sha256", 0, 101, 11), Dup("sha256", 0, 87, 11), Dup("phash", 2, 87, 11)]
    assert compute_flags(photo, ctx, Thresholds(), dups) == []


def test_near_duplicate_at_another_target_is_flagged_closest_first(
    photo: PhotoFacts, ctx: VisitContext
) -> None:
    dups = [Dup("phash", 6, 205, 22), Dup("phash", 3, 309, 33), Dup("phash", 5, 205, 22)]
    assert compute_flags(photo, ctx, Thresholds(), dups) == [Flag("near_duplicate_elsewhere", {
        "distance": 3,
        "limit": 8,
        "others": [
            {"visit_id": 309, "target_id": 33, "distance": 3},
            {"visit_id": 205, "target_id": 22, "distance": 5},
        ],
    })]


def test_picture_farther_than_the_phash_limit_is_not_a_near_duplicate(
    photo: PhotoFacts, ctx: VisitContext
) -> None:
    assert compute_flags(photo, ctx, Thresholds(), [Dup("phash", 9, 205, 22)]) == []


def test_identical_copy_is_not_also_reported_as_near(photo: PhotoFacts, ctx: VisitContext) -> None:
    dups = [Dup("sha256", 0, 205, 22), Dup("phash", 0, 205, 22)]
    assert codes(compute_flags(photo, ctx, Thresholds(), dups)) == ["same_photo_elsewhere"]


# no_camera_metadata


def test_photo_without_camera_metadata_is_flagged(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(photo, has_camera_metadata=False, make=None, model=None, software=None)
    assert compute_flags(photo, ctx, Thresholds(), []) == [Flag("no_camera_metadata", {})]


def test_photo_with_camera_metadata_is_not_flagged_for_it(photo: PhotoFacts, ctx: VisitContext) -> None:
    assert "no_camera_metadata" not in codes(compute_flags(photo, ctx, Thresholds(), []))


# editing_software


@pytest.mark.parametrize(
    ("software", "editor"),
    [
        ("Adobe Photoshop 25.0 (Windows)", "Photoshop"),
        ("Adobe Lightroom 7.0", "Lightroom"),
        ("GIMP 2.10.34", "GIMP"),
        ("Snapseed 2.0", "Snapseed"),
        ("美图秀秀", "美图秀秀"),
        ("MEITU", "美图秀秀"),
        ("醒图 8.3.0", "醒图"),
        ("PicsArt", "PicsArt"),
        ("vsco", "VSCO"),
    ],
)
def test_editing_software_is_named(photo: PhotoFacts, ctx: VisitContext, software: str, editor: str) -> None:
    flags = compute_flags(replace(photo, software=software), ctx, Thresholds(), [])
    assert flags == [Flag("editing_software", {"software": software, "editor": editor})]


@pytest.mark.parametrize(
    "software",
    [None, "", "HDR+ 1.0.540104767zd", "17.2", "V2219A_A_13.1.14", "ILCE-7M3 v3.01",
     "MediaTek Camera Application", "vscodec 1.2"],
)
def test_camera_firmware_is_not_editing_software(software: str | None) -> None:
    assert editor_named(software) is None


# late_entry


def test_record_submitted_days_late_without_reason_is_flagged(ctx: VisitContext) -> None:
    ctx = replace(ctx, submitted_at=ctx.finished_at + timedelta(days=5, hours=12))
    assert record_flags(ctx, Thresholds()) == [Flag("late_entry", {
        "finished_at": "2024-05-17T02:00:00+00:00",
        "submitted_at": "2024-05-22T14:00:00+00:00",
        "days": 5.5,
        "limit_days": 3,
    })]


def test_record_submitted_late_with_a_blank_reason_is_flagged(ctx: VisitContext) -> None:
    ctx = replace(ctx, submitted_at=ctx.finished_at + timedelta(days=4), late_reason="  ")
    assert codes(record_flags(ctx, Thresholds())) == ["late_entry"]


def test_record_submitted_late_with_a_reason_is_not_flagged(ctx: VisitContext) -> None:
    ctx = replace(ctx, submitted_at=ctx.finished_at + timedelta(days=5), late_reason="山区无信号，返队后同步")
    assert record_flags(ctx, Thresholds()) == []


def test_record_submitted_within_the_limit_is_not_flagged(ctx: VisitContext) -> None:
    ctx = replace(ctx, submitted_at=ctx.finished_at + timedelta(days=2, hours=23))
    assert record_flags(ctx, Thresholds()) == []


# the flags as a whole


def test_every_flag_is_json_and_from_the_catalogue(photo: PhotoFacts, ctx: VisitContext) -> None:
    photo = replace(
        photo, captured_at_exif=datetime(2024, 4, 1, 9, 0), gps_lat=NORTH_2_KM[0],
        gps_lon=NORTH_2_KM[1], has_camera_metadata=False, software="Snapseed",
    )
    ctx = replace(ctx, submitted_at=ctx.finished_at + timedelta(days=9))
    dups = [Dup("sha256", 0, 205, 22), Dup("phash", 4, 309, 33)]
    flags = compute_flags(photo, ctx, Thresholds(), dups) + record_flags(ctx, Thresholds())
    assert codes(flags) == [
        "time_outside_visit", "before_round", "gps_far", "same_photo_elsewhere",
        "near_duplicate_elsewhere", "no_camera_metadata", "editing_software", "late_entry",
    ]
    assert set(codes(flags)) == set(FLAG_CODES)
    json.dumps([flag.values for flag in flags])


def test_naive_visit_times_are_refused(photo: PhotoFacts, ctx: VisitContext) -> None:
    ctx = replace(ctx, started_at=datetime(2024, 5, 17, 9, 0))
    with pytest.raises(ValueError, match="started_at"):
        compute_flags(photo, ctx, Thresholds(), [])
