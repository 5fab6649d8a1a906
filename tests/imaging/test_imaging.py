"""Evidence photos are judged by their bytes, refused with a clear code, and derived clean."""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from lianduinspect.imaging import ImageRejected, Limits, Processed, phash_distance, process

from .corpus import (
    ACCEPT,
    CASES,
    Case,
    CaseUnavailable,
    encode,
    exif_block,
    heic,
    jpeg_insert,
    jpeg_segment,
    oriented_jpeg,
    photo,
    webp_with_canvas,
)

CODES = {
    "evidence.too_large",
    "evidence.empty",
    "evidence.unsupported_format",
    "evidence.unreadable",
    "evidence.truncated",
    "evidence.too_many_pixels",
    "evidence.metadata_too_large",
}
FACT_KEYS = {
    "exif_present",
    "exif_readable",
    "captured_at",
    "captured_offset",
    "gps_lat",
    "gps_lon",
    "make",
    "model",
    "software",
    "orientation",
    "has_camera_metadata",
}
ACCEPTED = [case for case in CASES if case.expected == ACCEPT]
REJECTED = [case for case in CASES if case.expected != ACCEPT]
# Rejected from the container scan alone: Pillow must never be handed these bytes.
REFUSED_BEFORE_PILLOW = [
    case
    for case in REJECTED
    if case.expected in ("evidence.too_many_pixels", "evidence.metadata_too_large")
    or case.name
    in ("jpeg_truncated_in_header", "png_truncated", "png_missing_iend", "webp_truncated", "png_bad_crc")
]


def built(case: Case) -> bytes:
    """Return the case's bytes, or skip with the reason this machine cannot make them."""
    try:
        return case.data
    except CaseUnavailable as exc:
        pytest.skip(str(exc))


def jpeg_structure(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Return the marker segments before the first scan and the offset just past EOI."""
    assert data[:2] == b"\xff\xd8"
    pos, segments = 2, []
    while True:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            break
    # In entropy-coded data every 0xFF is followed by 0x00 or a restart marker.
    while match := re.compile(rb"\xff[^\x00\xd0-\xd7]").search(data, pos):
        if data[match.start() + 1] == 0xD9:
            return segments, match.end()
        length = struct.unpack(">H", data[match.start() + 2 : match.start() + 4])[0]
        pos = match.start() + 2 + length
    raise AssertionError("no EOI marker")


def assert_clean_jpeg(data: bytes, max_side: int) -> tuple[int, int]:
    """Check a derivative is a plain JPEG with no metadata and nothing after EOI."""
    segments, end = jpeg_structure(data)
    assert end == len(data), "bytes after the final FFD9"
    for marker, body in segments:
        assert not (0xE1 <= marker <= 0xEF), f"APP{marker - 0xE0} segment in derivative"
        assert marker != 0xFE, "comment in derivative"
        if marker == 0xE0:
            assert body.startswith(b"JFIF\x00")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.format == "JPEG"
        assert not {"exif", "icc_profile", "comment", "xmp"} & im.info.keys()
        assert not im.getexif()
        assert max(im.size) <= max_side
        return im.size


def decoded(data: bytes) -> Image.Image:
    """Decode derivative bytes to RGB."""
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def close(pixel: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    """Compare colours loosely: derivatives are lossy JPEG."""
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


# --- the corpus ----------------------------------------------------------------------------


def test_corpus_has_at_least_thirty_kinds_and_covers_every_code():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.expected for case in REJECTED} == CODES


@pytest.mark.parametrize("case", REJECTED, ids=lambda case: case.name)
def test_hostile_input_is_rejected_with_its_code(case):
    data = built(case)
    with pytest.raises(ImageRejected) as rejected:
        process(data)
    assert rejected.value.code == case.expected, rejected.value
    assert rejected.value.message
    json.dumps(rejected.value.details)


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
def test_accepted_input_yields_clean_oriented_derivatives(case):
    data = built(case)
    result = process(data)
    assert isinstance(result, Processed)
    assert result.format in {"jpeg", "png", "webp", "heic"}
    display_size = assert_clean_jpeg(result.display, 1600)
    thumb_size = assert_clean_jpeg(result.thumbnail, 320)
    longest = max(result.width, result.height)
    assert max(display_size) == min(longest, 1600)
    assert max(thumb_size) == min(longest, 320)
    # Derivatives keep the oriented aspect: the long side stays long.
    assert (display_size[0] >= display_size[1]) == (result.width >= result.height)
    assert set(result.facts) == FACT_KEYS
    json.dumps(result.facts)
    assert re.fullmatch(r"[0-9a-f]{16}", result.phash)
    assert result.phash_rotations[0] == result.phash
    assert len(result.phash_rotations) == 4


def test_processing_leaves_pillows_global_guards_alone():
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    for case in CASES[:40]:
        with contextlib.suppress(ImageRejected):
            process(built(case))
    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)


# --- limits and bombs ----------------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSED_BEFORE_PILLOW, ids=lambda case: case.name)
def test_decompression_bomb_is_rejected_before_decoding(case, monkeypatch):
    data = built(case)
    touched = []

    def spy(self, *args, **kwargs):
        touched.append(type(self).__name__)
        raise AssertionError("Pillow was handed a file the header scan should refuse")

    monkeypatch.setattr(ImageFile.ImageFile, "__init__", spy)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    with pytest.raises(ImageRejected) as rejected:
        process(data)
    assert rejected.value.code == case.expected
    assert touched == []


def test_pillows_own_bomb_guard_maps_to_too_many_pixels_when_limits_are_lax():
    data = webp_with_canvas(encode(photo(64, 48), "WEBP", lossless=True), 16384, 16384)
    with pytest.raises(ImageRejected) as rejected:
        process(data, Limits(max_pixels=10**12))
    assert rejected.value.code == "evidence.too_many_pixels"


def test_pixel_limit_is_checked_from_the_header():
    data = encode(photo(640, 480), "JPEG")
    assert process(data, Limits(max_pixels=640 * 480)).width == 640
    with pytest.raises(ImageRejected) as rejected:
        process(data, Limits(max_pixels=640 * 480 - 1))
    assert rejected.value.code == "evidence.too_many_pixels"
    assert rejected.value.details == {"width": 640, "height": 480, "max_pixels": 640 * 480 - 1}


def test_byte_limit_counts_every_byte():
    data = encode(photo(64, 48), "PNG")
    assert process(data, Limits(max_bytes=len(data))).format == "png"
    with pytest.raises(ImageRejected) as rejected:
        process(data, Limits(max_bytes=len(data) - 1))
    assert rejected.value.code == "evidence.too_large"


def test_metadata_limit_counts_exif_and_app_segments():
    data = encode(photo(64, 48), "JPEG", exif=exif_block(captured="2023:03:15 10:20:30"))
    with pytest.raises(ImageRejected) as rejected:
        process(data, Limits(max_metadata_bytes=100))
    assert rejected.value.code == "evidence.metadata_too_large"


def test_heic_metadata_limit_is_checked_before_decoding():
    try:
        data = heic(photo(64, 48), exif_block(captured="2023:03:15 10:20:30"))
    except CaseUnavailable as exc:
        pytest.skip(str(exc))
    with pytest.raises(ImageRejected) as rejected:
        process(data, Limits(max_metadata_bytes=50))
    assert rejected.value.code == "evidence.metadata_too_large"


FUZZ_BASES = ["jpeg_baseline", "jpeg_progressive", "png_rgb", "webp_lossy", "webp_lossless", "heic"]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(FUZZ_BASES),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_damaged_images_raise_nothing_but_image_rejected(base, flips, cut):
    case = next(case for case in CASES if case.name == base)
    try:
        data = bytearray(case.data)
    except CaseUnavailable:
        return
    for where, value in flips:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        result = process(bytes(data))
    except ImageRejected as rejected:
        assert rejected.code in CODES
    else:
        assert_clean_jpeg(result.display, 1600)


# --- facts ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_damaged_exif_never_fails_the_upload(flips):
    block = bytearray(exif_block(orientation=6, captured="2023:03:15 10:20:30", gps=(28.45, 119.92)))
    for where, value in flips:
        block[6 + where % (len(block) - 6)] = value  # keep the "Exif" header: damage the TIFF
    data = jpeg_insert(encode(photo(32, 24), "JPEG"), jpeg_segment(0xE1, bytes(block)))
    facts = process(data).facts
    assert facts["exif_present"] is True
    assert isinstance(facts["exif_readable"], bool)
    assert facts["orientation"] in (None, *range(1, 9))
    json.dumps(facts)


def test_malformed_exif_is_accepted_with_exif_readable_false():
    case = next(case for case in CASES if case.name == "jpeg_malformed_exif")
    facts = process(case.data).facts
    assert facts["exif_present"] is True
    assert facts["exif_readable"] is False
    assert facts["has_camera_metadata"] is False
    assert facts["orientation"] is None and facts["captured_at"] is None


def test_exif_pointing_outside_its_block_is_malformed_not_an_error():
    block = bytearray(exif_block(captured="2023:03:15 10:20:30"))
    struct.pack_into(">I", block, 10, 0xFFFFFF00)  # IFD0 offset far past the end
    data = jpeg_insert(encode(photo(64, 48), "JPEG"), jpeg_segment(0xE1, bytes(block)))
    facts = process(data).facts
    assert facts["exif_present"] and not facts["exif_readable"]


def test_image_without_exif_reports_it_absent_not_malformed():
    facts = process(encode(photo(64, 48), "PNG")).facts
    assert facts["exif_present"] is False
    assert facts["exif_readable"] is False
    assert facts["has_camera_metadata"] is False


def test_gps_capture_time_and_device_are_parsed():
    case = next(case for case in CASES if case.name == "jpeg_gps_and_capture_time")
    facts = process(case.data).facts
    assert facts["exif_readable"] is True
    assert facts["captured_at"] == "2023-03-15T10:20:30"
    assert facts["captured_offset"] == "+08:00"
    assert facts["gps_lat"] == pytest.approx(28.4534278, abs=1e-6)
    assert facts["gps_lon"] == pytest.approx(119.92, abs=1e-6)
    assert (facts["make"], facts["model"]) == ("HUAWEI", "ELS-AN00")
    assert facts["has_camera_metadata"] is True


def test_southern_and_western_coordinates_are_negative():
    exif = exif_block(gps=(-33.8568, -70.6483))
    facts = process(encode(photo(64, 48), "JPEG", exif=exif)).facts
    assert facts["gps_lat"] == pytest.approx(-33.8568, abs=1e-6)
    assert facts["gps_lon"] == pytest.approx(-70.6483, abs=1e-6)


def test_unset_camera_clock_gives_no_capture_time():
    exif = exif_block(captured="0000:00:00 00:00:00", make=None, model=None)
    facts = process(encode(photo(64, 48), "JPEG", exif=exif)).facts
    assert facts["exif_readable"] is True
    assert facts["captured_at"] is None
    assert facts["has_camera_metadata"] is False


def test_png_exif_chunk_is_read():
    case = next(case for case in CASES if case.name == "png_small_text_and_exif")
    assert process(case.data).facts["captured_at"] == "2023-01-02T03:04:05"


# --- pixels --------------------------------------------------------------------------------


def quadrants(width: int = 90, height: int = 60) -> Image.Image:
    """Paint red, green, blue and white quadrants: every flip and turn looks different."""
    im = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    im.paste((255, 0, 0), (0, 0, half_w, half_h))
    im.paste((0, 255, 0), (half_w, 0, width, half_h))
    im.paste((0, 0, 255), (0, half_h, half_w, height))
    im.paste((255, 255, 255), (half_w, half_h, width, height))
    return im


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_restores_the_upright_picture(orientation):
    result = process(oriented_jpeg(orientation, quadrants()))
    assert (result.width, result.height) == (90, 60)
    assert result.facts["orientation"] == orientation
    display = decoded(result.display)
    assert display.size == (90, 60)
    assert close(display.getpixel((20, 15)), (255, 0, 0))
    assert close(display.getpixel((70, 15)), (0, 255, 0))
    assert close(display.getpixel((20, 45)), (0, 0, 255))
    assert close(display.getpixel((70, 45)), (255, 255, 255))


def test_orientation_6_swaps_reported_width_and_height():
    stored = encode(photo(320, 240), "JPEG", exif=exif_block(orientation=6))
    result = process(stored)
    assert (result.width, result.height) == (240, 320)
    assert decoded(result.display).size == (240, 320)
    assert decoded(result.thumbnail).size == (240, 320)


def test_heic_rotation_is_applied_exactly_once():
    try:
        data = heic(quadrants(), exif_block(orientation=6))
    except CaseUnavailable as exc:
        pytest.skip(str(exc))
    result = process(data)
    assert result.format == "heic"
    # pillow-heif stores the EXIF orientation as the container's rotation (irot).
    assert (result.width, result.height) == (60, 90)
    assert decoded(result.display).size == (60, 90)
    assert result.facts["orientation"] == 6


def test_large_jpeg_is_shrunk_to_display_and_thumbnail_sizes():
    result = process(encode(photo(4000, 3000), "JPEG", quality=90, exif=exif_block(orientation=6)))
    assert (result.width, result.height) == (3000, 4000)
    assert decoded(result.display).size == (1200, 1600)
    assert decoded(result.thumbnail).size == (240, 320)


def test_small_image_is_never_enlarged():
    result = process(encode(Image.new("RGB", (1, 1), "red"), "PNG"))
    assert decoded(result.display).size == (1, 1)
    assert close(decoded(result.display).getpixel((0, 0)), (255, 0, 0))


def test_cmyk_jpeg_keeps_its_colours():
    data = encode(quadrants().convert("CMYK"), "JPEG", quality=95)
    display = decoded(process(data).display)
    assert close(display.getpixel((20, 15)), (255, 0, 0))
    assert close(display.getpixel((70, 45)), (255, 255, 255))


def test_transparency_is_flattened_on_white():
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (20, 0, 40, 40))
    for fmt, params in (("PNG", {}), ("WEBP", {"lossless": True})):
        display = decoded(process(encode(rgba, fmt, **params)).display)
        assert close(display.getpixel((5, 20)), (255, 0, 0)), fmt
        assert close(display.getpixel((35, 20)), (255, 255, 255)), fmt


def test_palette_transparency_is_flattened_on_white():
    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    palette.paste(0, (20, 0, 40, 40))
    display = decoded(process(encode(palette, "PNG", transparency=0)).display)
    assert close(display.getpixel((5, 20)), (255, 0, 0))
    assert close(display.getpixel((35, 20)), (255, 255, 255))


def test_16bit_greyscale_is_scaled_not_clipped():
    grey = Image.new("I;16", (8, 8), 32768)
    display = decoded(process(encode(grey, "PNG")).display)
    assert abs(display.getpixel((4, 4))[0] - 128) <= 3


def test_polyglot_derivatives_carry_no_trailing_bytes():
    case = next(case for case in CASES if case.name == "jpeg_polyglot_zip")
    result = process(case.data)
    for derivative in (result.display, result.thumbnail):
        assert b"PK\x03\x04" not in derivative
        assert derivative.endswith(b"\xff\xd9")


def test_derivatives_drop_gps_comment_and_profile():
    case = next(case for case in CASES if case.name == "jpeg_icc_xmp_comment_exif")
    result = process(case.data)
    assert result.facts["gps_lat"] is not None
    for derivative in (result.display, result.thumbnail):
        assert b"secret comment" not in derivative
        assert b"ICC_PROFILE" not in derivative
        assert b"Exif" not in derivative
        assert b"adobe:ns:meta" not in derivative


# --- perceptual hash -----------------------------------------------------------------------


def test_phash_survives_reencoding_and_resizing():
    original = photo(1200, 900, seed=11)
    reference = process(encode(original, "JPEG", quality=90)).phash
    copies = {
        "jpeg q40": encode(original, "JPEG", quality=40),
        "half-size png": encode(original.resize((600, 450)), "PNG"),
        "quarter-size webp": encode(original.resize((300, 225)), "WEBP", quality=60),
        "4000px jpeg": encode(original.resize((4000, 3000)), "JPEG", quality=85),
        "greyscale": encode(original.convert("L"), "JPEG"),
    }
    for label, data in copies.items():
        assert phash_distance(reference, process(data).phash) <= 10, label


def test_phash_separates_different_photos():
    hashes = [process(encode(photo(800, 600, seed=seed), "JPEG")).phash for seed in range(20, 26)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert phash_distance(a, b) > 10


def test_phash_follows_exif_orientation():
    upright = photo(640, 480, seed=12)
    tagged = process(oriented_jpeg(6, upright))
    plain = process(encode(upright, "JPEG", quality=95))
    assert phash_distance(tagged.phash, plain.phash) <= 10


def test_phash_rotations_find_a_copy_turned_by_a_quarter():
    original = photo(800, 600, seed=13)
    a = process(encode(original, "JPEG"))
    turned = process(encode(original.transpose(Image.Transpose.ROTATE_270), "JPEG"))  # 90° clockwise
    assert phash_distance(a.phash, turned.phash) > 10
    assert phash_distance(a.phash_rotations[1], turned.phash) <= 10
    assert phash_distance(turned.phash_rotations[3], a.phash) <= 10


def test_phash_distance_counts_differing_bits():
    assert phash_distance("0000000000000000", "0000000000000000") == 0
    assert phash_distance("0000000000000000", "ffffffffffffffff") == 64
    assert phash_distance("00000000000000F0", "0000000000000010") == 3


@pytest.mark.parametrize("bad", ["", "0x00000000000000", "000000000000000g", "0" * 17, " 000000000000000"])
def test_phash_distance_refuses_malformed_hashes(bad):
    with pytest.raises(ValueError):
        phash_distance(bad, "0" * 16)
