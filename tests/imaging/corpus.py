"""Generate the hostile-image corpus: every case is made here from Pillow, struct and zlib."""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from lianduinspect.demo.activity import draw_scene

ACCEPT = "accept"
MAX_BYTES = 30 * 1024 * 1024  # Limits().max_bytes, restated so the corpus stands alone


class CaseUnavailable(Exception):
    """Signal that this machine cannot build a case (say why)."""


@dataclass(frozen=True)
class Case:
    """One input and the outcome `process()` must give it."""

    name: str
    expected: str  # ACCEPT or an ImageRejected code
    build: Callable[[], bytes]

    @property
    def data(self) -> bytes:
        """Build the bytes once per run."""
        return _built(self)


@functools.cache
def _built(case: Case) -> bytes:
    return case.build()


# --- pictures ------------------------------------------------------------------------------


def photo(width: int = 640, height: int = 480, seed: int = 1) -> Image.Image:
    """Draw a deterministic scene: gradient sky, shapes placed by the seed, sensor noise."""
    return draw_scene(random.Random(seed), width, height, shapes=6, noise=0.12)


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    """Save a picture to bytes."""
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def exif_block(
    *,
    orientation: int | None = None,
    captured: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    make: str | None = "HUAWEI",
    model: str | None = "ELS-AN00",
) -> bytes:
    """Build an EXIF block as a phone writes it."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation is not None:
        exif[0x0112] = orientation
    if captured:
        exif.get_ifd(0x8769)[0x9003] = captured
    if offset:
        exif.get_ifd(0x8769)[0x9011] = offset
    if gps:
        lat, lon = gps
        tags = exif.get_ifd(0x8825)
        tags[1], tags[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        tags[3], tags[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    return exif.tobytes()


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600 * 10000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 10000)


def oriented_jpeg(orientation: int, upright: Image.Image) -> bytes:
    """Store an upright picture the way a camera does for `orientation`, tagged so."""
    undo = {
        1: None,
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    stored = upright if undo is None else upright.transpose(undo)
    return encode(stored, "JPEG", quality=95, exif=exif_block(orientation=orientation))


def heic(im: Image.Image, exif: bytes | None = None) -> bytes:
    """Encode HEIC with pillow-heif, or say why this machine cannot."""
    try:
        import pillow_heif
    except ImportError as exc:  # pragma: no cover - pillow-heif is a project dependency
        raise CaseUnavailable("pillow-heif is not installed") from exc
    if not pillow_heif.libheif_info().get("encoders", {}).get("x265"):
        raise CaseUnavailable("this libheif build has no HEVC encoder")
    out = io.BytesIO()
    # from_pillow keeps the Pillow registry untouched: imaging.py owns the opener's options.
    pillow_heif.from_pillow(im).save(out, format="HEIF", quality=80, exif=exif)
    return out.getvalue()


# --- container surgery ---------------------------------------------------------------------


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    """Frame a PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_file(
    width: int, height: int, depth: int, colour: int, idat: bytes, extra: bytes = b""
) -> bytes:
    """Assemble a PNG from an IHDR, optional ancillary chunks and one IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + extra
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_insert(png: bytes, chunks: bytes) -> bytes:
    """Insert chunks right after IHDR."""
    return png[:33] + chunks + png[33:]


def jpeg_insert(jpeg: bytes, segments: bytes) -> bytes:
    """Insert marker segments right after SOI."""
    return jpeg[:2] + segments + jpeg[2:]


def jpeg_segment(marker: int, body: bytes) -> bytes:
    """Frame a JPEG marker segment."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def jpeg_with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the SOF header's dimensions."""
    pos = 2
    while True:
        marker, length = jpeg[pos + 1], struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            body = bytearray(jpeg)
            struct.pack_into(">HH", body, pos + 5, height, width)
            return bytes(body)
        pos += 2 + length


def png_16bit(width: int, height: int, colour: int, channels: int) -> bytes:
    """Encode 16-bit-per-sample gradients by hand (Pillow cannot write 16-bit RGB PNGs)."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")  # filter type None
        for x in range(width):
            across, down = x * 65535 // (width - 1), y * 65535 // (height - 1)
            row += struct.pack(">4H", across, down, 32768, 65535)[: 2 * channels]
        rows.append(bytes(row))
    return png_file(width, height, 16, colour, zlib.compress(b"".join(rows)))


def png_adam7(im: Image.Image) -> bytes:
    """Encode an RGB picture as an Adam7-interlaced PNG by hand (Pillow writes none)."""
    width, height = im.size
    pixels = im.convert("RGB").tobytes()
    passes = (
        (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)
    )  # (first column, first row, column step, row step) of each Adam7 pass
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        columns = range(x0, width, dx)
        if not columns:
            continue
        for y in range(y0, height, dy):
            raw += b"\x00"
            for x in columns:
                raw += pixels[(y * width + x) * 3 : (y * width + x) * 3 + 3]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(bytes(raw)))
        + png_chunk(b"IEND", b"")
    )


def png_bomb(side: int) -> bytes:
    """Encode a real, decodable 1-bit PNG of side x side pixels in a few kilobytes."""
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = bytearray()
    block = row * 1000
    for _ in range(side // 1000):
        idat += compressor.compress(block)
    idat += compressor.compress(row * (side % 1000)) + compressor.flush()
    return png_file(side, side, 1, 0, bytes(idat))


def webp_with_canvas(webp: bytes, width: int, height: int) -> bytes:
    """Rewrap a still WebP bitstream under a VP8X header declaring another canvas size."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + webp[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def zip_bytes() -> bytes:
    """Make a small real ZIP archive."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "not a photo\n" * 50)
    return out.getvalue()


def animated(fmt: str) -> bytes:
    """Encode a two-frame animation."""
    frames = [photo(64, 48, seed=3), photo(64, 48, seed=4)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


# --- the corpus ----------------------------------------------------------------------------


@functools.cache
def _jpeg() -> bytes:
    return encode(photo(), "JPEG", quality=90)


@functools.cache
def _png() -> bytes:
    return encode(photo(), "PNG")


@functools.cache
def _webp() -> bytes:
    return encode(photo(), "WEBP", quality=80)


@functools.cache
def _heic_photo() -> bytes:
    return heic(photo())


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _svg() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>"
    )


def _html() -> bytes:
    return b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _wave() -> bytes:
    return b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(28)


def _small(fmt: str) -> Callable[[], bytes]:
    return lambda: encode(photo(64, 48), fmt)


def _grey_16bit_png() -> bytes:
    grey = photo().convert("L").point(lambda v: v * 257, "I")
    return encode(grey.convert("I;16"), "PNG")


def _huge_webp() -> bytes:
    return webp_with_canvas(encode(photo(64, 48), "WEBP", lossless=True), 16384, 16384)


def _html_polyglot() -> bytes:
    return _jpeg() + b"<html><script>alert(document.cookie)</script></html>"


def _malformed_exif_jpeg() -> bytes:
    garbage = random.Random(7).randbytes(400)
    return jpeg_insert(_jpeg(), jpeg_segment(0xE1, b"Exif\x00\x00" + garbage))


def _cmyk_jpeg() -> bytes:
    return encode(photo().convert("CMYK"), "JPEG", quality=90)


def _jpeg_with_everything_removable() -> bytes:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    return encode(
        photo(),
        "JPEG",
        quality=90,
        icc_profile=icc,
        comment=b"secret comment",
        xmp=xmp,
        exif=exif_block(captured="2023:03:15 10:20:30", gps=(28.45, 119.92)),
    )


def _palette_png_with_transparency() -> bytes:
    im = photo(160, 120).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return encode(im, "PNG", transparency=0)


def _rgba(im: Image.Image) -> Image.Image:
    alpha = Image.linear_gradient("L").resize(im.size)
    rgba = im.convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


def _png_with_small_metadata() -> bytes:
    chunks = png_chunk(b"tEXt", b"Software\x00LianduInspect test") + png_chunk(
        b"eXIf", exif_block(captured="2023:01:02 03:04:05")[6:]
    )
    return png_insert(_png(), chunks)


def _text_flood_png() -> bytes:
    chunks = b"".join(png_chunk(b"tEXt", b"k%d\x00" % i + b"x" * 60) for i in range(70000))
    return png_insert(_png(), chunks)


def _ztxt_bomb_png() -> bytes:
    bomb = zlib.compress(b"A" * 20_000_000, 9)
    return png_insert(_png(), png_chunk(b"zTXt", b"Comment\x00\x00" + bomb))


def _itxt_bomb_png() -> bytes:
    bomb = zlib.compress(b"A" * 20_000_000, 9)
    return png_insert(_png(), png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + bomb))


def _app_flood_jpeg() -> bytes:
    segments = b"".join(jpeg_segment(0xE0 + (i % 16), b"\x00" * 65000) for i in range(100))
    return jpeg_insert(_jpeg(), segments)


def _xmp_depth_map_jpeg() -> bytes:
    """A phone portrait: about 1 MB of extended XMP (a depth map), as Pixel cameras write."""
    head = b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 32 + b"\x00\x10\x00\x00\x00\x00\x00\x00"
    segments = b"".join(jpeg_segment(0xE1, head + bytes([i % 251]) * 64000) for i in range(16))
    return jpeg_insert(_jpeg(), segments)


def _bad_crc_png() -> bytes:
    data = bytearray(_png())
    data[60] ^= 0xFF  # inside the first IDAT's compressed data; the stored CRC now disagrees
    return bytes(data)


def _bad_zlib_png() -> bytes:
    return png_file(16, 16, 8, 2, b"\x78\x9c" + b"\xff" * 64)


def _gps_jpeg() -> bytes:
    exif = exif_block(captured="2023:03:15 10:20:30", offset="+08:00", gps=(28.4534278, 119.92))
    return encode(photo(), "JPEG", quality=90, exif=exif)


def _polyglot_png_zip() -> bytes:
    return _png() + zip_bytes()


def _cases() -> list[Case]:
    return [
        # size and identity
        Case("empty", "evidence.empty", lambda: b""),
        Case("over_max_bytes", "evidence.too_large", lambda: b"\xff\xd8\xff" + bytes(MAX_BYTES)),
        Case("random_bytes", "evidence.unreadable", lambda: random.Random(5).randbytes(4096)),
        Case("wrong_magic_png", "evidence.unreadable", lambda: b"\x89PNX" + _png()[4:]),
        Case("soi_only", "evidence.unreadable", lambda: b"\xff\xd8"),
        Case("svg_named_jpg", "evidence.unsupported_format", _svg),
        Case("html_named_jpg", "evidence.unreadable", _html),
        Case("pdf_named_jpg", "evidence.unreadable", _pdf),
        Case("zip_named_jpg", "evidence.unreadable", zip_bytes),
        Case("wave_riff", "evidence.unreadable", _wave),
        Case("gif", "evidence.unsupported_format", _small("GIF")),
        Case("bmp", "evidence.unsupported_format", _small("BMP")),
        Case("tiff", "evidence.unsupported_format", _small("TIFF")),
        Case("ico", "evidence.unsupported_format", _small("ICO")),
        Case("jpeg2000", "evidence.unsupported_format", _small("JPEG2000")),
        Case("avif", "evidence.unsupported_format", _small("AVIF")),
        Case("animated_webp", "evidence.unsupported_format", lambda: animated("WEBP")),
        Case("animated_png", "evidence.unsupported_format", lambda: animated("PNG")),
        # bombs
        Case(
            "png_ihdr_100000x100000",
            "evidence.too_many_pixels",
            lambda: png_file(100_000, 100_000, 8, 2, zlib.compress(b"")),
        ),
        Case(
            "jpeg_sof_60000x60000",
            "evidence.too_many_pixels",
            lambda: jpeg_with_frame_size(_jpeg(), 60_000, 60_000),
        ),
        Case("png_real_bomb_20000x20000", "evidence.too_many_pixels", lambda: png_bomb(20_000)),
        Case("webp_canvas_16384x16384", "evidence.too_many_pixels", _huge_webp),
        # truncation and corruption
        Case("jpeg_truncated_in_scan", "evidence.truncated", lambda: _half(_jpeg())),
        Case("jpeg_truncated_in_header", "evidence.truncated", lambda: _jpeg()[:100]),
        Case("jpeg_missing_last_byte", "evidence.truncated", lambda: _jpeg()[:-1]),
        Case("png_truncated", "evidence.truncated", lambda: _half(_png())),
        Case("png_missing_iend", "evidence.truncated", lambda: _png()[:-12]),
        Case("webp_truncated", "evidence.truncated", lambda: _half(_webp())),
        Case("heic_truncated", "evidence.truncated", lambda: _half(_heic_photo())),
        Case("png_bad_crc", "evidence.unreadable", _bad_crc_png),
        Case("png_bad_zlib_stream", "evidence.unreadable", _bad_zlib_png),
        # metadata
        Case("png_ztxt_bomb", "evidence.metadata_too_large", _ztxt_bomb_png),
        Case("png_itxt_bomb", "evidence.metadata_too_large", _itxt_bomb_png),
        Case("png_70000_text_chunks", "evidence.metadata_too_large", _text_flood_png),
        Case("jpeg_app_segment_flood", "evidence.metadata_too_large", _app_flood_jpeg),
        Case("jpeg_phone_portrait_1mb_xmp", ACCEPT, _xmp_depth_map_jpeg),
        Case("jpeg_malformed_exif", ACCEPT, _malformed_exif_jpeg),
        # accepted variety
        Case("jpeg_baseline", ACCEPT, _jpeg),
        Case("jpeg_progressive", ACCEPT, lambda: encode(photo(), "JPEG", progressive=True)),
        Case("jpeg_cmyk", ACCEPT, _cmyk_jpeg),
        Case("jpeg_grayscale", ACCEPT, lambda: encode(photo().convert("L"), "JPEG")),
        Case("jpeg_orientation_6", ACCEPT, lambda: oriented_jpeg(6, photo(320, 240))),
        Case("jpeg_gps_and_capture_time", ACCEPT, _gps_jpeg),
        Case("jpeg_icc_xmp_comment_exif", ACCEPT, _jpeg_with_everything_removable),
        Case("jpeg_large_3000x2000", ACCEPT, lambda: encode(photo(3000, 2000), "JPEG", quality=85)),
        Case("jpeg_1x1", ACCEPT, lambda: encode(Image.new("RGB", (1, 1), "red"), "JPEG")),
        Case("jpeg_polyglot_html", ACCEPT, _html_polyglot),
        Case("jpeg_polyglot_zip", ACCEPT, lambda: _jpeg() + zip_bytes()),
        Case("png_polyglot_zip", ACCEPT, _polyglot_png_zip),
        Case("png_rgb", ACCEPT, _png),
        Case("png_rgba", ACCEPT, lambda: encode(_rgba(photo()), "PNG")),
        Case("png_la", ACCEPT, lambda: encode(_rgba(photo()).convert("LA"), "PNG")),
        Case("png_palette_transparency", ACCEPT, _palette_png_with_transparency),
        Case("png_1bit", ACCEPT, lambda: encode(photo().convert("1"), "PNG")),
        Case("png_grayscale_16bit", ACCEPT, _grey_16bit_png),
        Case("png_rgb_16bit", ACCEPT, lambda: png_16bit(64, 48, 2, 3)),
        Case("png_rgba_16bit", ACCEPT, lambda: png_16bit(64, 48, 6, 4)),
        Case("png_interlaced_adam7", ACCEPT, lambda: png_adam7(photo(97, 61))),
        Case("png_small_text_and_exif", ACCEPT, _png_with_small_metadata),
        Case("png_1x1", ACCEPT, lambda: encode(Image.new("RGB", (1, 1), "blue"), "PNG")),
        Case("webp_lossy", ACCEPT, _webp),
        Case("webp_lossless", ACCEPT, lambda: encode(photo(), "WEBP", lossless=True)),
        Case("webp_rgba", ACCEPT, lambda: encode(_rgba(photo()), "WEBP", quality=80)),
        Case("heic", ACCEPT, _heic_photo),
        Case("heic_orientation_6", ACCEPT, lambda: heic(photo(320, 240), exif_block(orientation=6))),
    ]


CASES: list[Case] = _cases()


def corpus() -> list[tuple[str, bytes, str]]:
    """Return every buildable case as (name, bytes, expected)."""
    built = []
    for case in CASES:
        try:
            built.append((case.name, case.data, case.expected))
        except CaseUnavailable:
            continue
    return built
