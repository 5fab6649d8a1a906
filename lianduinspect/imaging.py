"""Judge evidence photos and derive what the app shows: every Pillow call of the project lives here.

`process()` takes untrusted bytes and returns a `Processed` or raises `ImageRejected`;
no other exception type escapes for any input. The path is:

1. size: empty or over `Limits.max_bytes` is refused before anything is parsed;
2. sniff: the container is recognised by its leading bytes (never by name or declared type);
   JPEG, PNG, WebP and HEIC go on, other known formats are `unsupported_format`, the rest
   `unreadable`;
3. scan: a small pure-Python walk of the container (JPEG markers up to the first scan, PNG
   chunks with their CRCs, WebP RIFF chunks, ISO-BMFF boxes) gives the declared dimensions,
   the metadata volume and the EXIF block, so bombs, floods and truncated headers are refused
   before Pillow sees a byte;
4. decode: the format's own Pillow plugin class parses and decodes (JPEG via `draft()` at
   1/2, 1/4 or 1/8 scale, so a phone photo is never decoded at full resolution);
5. derive: mode normalised (16-bit scaled, palette/alpha flattened on white, CMYK to RGB),
   resized, EXIF orientation applied, re-encoded as JPEG from pixels only;
6. facts: EXIF read by a strict reader of our own (deterministic, no warnings, never raises).

Plugin classes are constructed directly rather than through `Image.open()`: it keeps the
allowlist exact (no MPO/other factories), and keeps Pillow's global `MAX_IMAGE_PIXELS` guard
and its process-wide warning out of the request path; our `Limits` are checked from the header
instead, and if Pillow's guard fires anyway it maps to the same rejection.

Perceptual hash: a 64-bit DCT pHash of the oriented picture. `Processed.phash_rotations` holds
the hash of the same picture turned 0/90/180/270 degrees clockwise (exact, derived from the DCT
coefficients at no extra cost): to find a rotated copy, compare each of a new photo's rotations
with the stored `phash` of earlier photos.
"""

from __future__ import annotations

import functools
import io
import math
import operator
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

__all__ = ["ImageRejected", "Limits", "Processed", "phash_distance", "process"]


@dataclass(frozen=True)
class Limits:
    """Bound what one upload may cost."""

    max_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_metadata_bytes: int = 4 * 1024 * 1024  # phones write MBs of XMP (depth maps, gain maps)
    display_px: int = 1600
    thumb_px: int = 320


class ImageRejected(Exception):
    """Refuse an upload with a catalogue code the client can switch on.

    Codes and their `details`:
    - ``evidence.empty``: {}
    - ``evidence.too_large``: {"size", "max_bytes"}
    - ``evidence.unsupported_format``: {"format"} (gif, bmp, tiff, svg, avif, animated-webp, ...)
    - ``evidence.unreadable``: {"format"?, "reason"?, "looks_like"?} (not an image, corrupt data)
    - ``evidence.truncated``: {"format"}
    - ``evidence.too_many_pixels``: {"width", "height", "max_pixels"}
    - ``evidence.metadata_too_large``: {"max_metadata_bytes"}
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def __repr__(self) -> str:
        return f"ImageRejected({self.code!r}, {self.message!r}, {self.details!r})"


@dataclass(frozen=True)
class Processed:
    """Hold what the evidence service keeps besides the original bytes.

    `width`/`height` are the picture's as shown (after EXIF orientation). `display` and
    `thumbnail` are baseline JPEGs of at most `display_px`/`thumb_px` on the long side, pixels
    only. `facts` (JSON-able): exif_present, exif_readable (False when absent or malformed),
    captured_at ("YYYY-MM-DDTHH:MM:SS", the camera's naive local time) and captured_offset
    ("+08:00", when the camera wrote OffsetTimeOriginal), gps_lat/gps_lon (signed degrees),
    make, model, software, orientation (1-8), has_camera_metadata (device, time or GPS).
    `phash` is a 64-bit DCT hash as 16 hex digits; `phash_rotations` are the hashes of the
    picture turned 0/90/180/270 degrees clockwise (the first equals `phash`).
    """

    format: str
    width: int
    height: int
    display: bytes
    thumbnail: bytes
    facts: dict[str, Any]
    phash: str
    phash_rotations: tuple[str, str, str, str]


DISPLAY_QUALITY: Final = 85
_HEX16: Final = re.compile(r"[0-9a-f]{16}", re.IGNORECASE)
THUMB_QUALITY: Final = 80

_DECODE_ERRORS: Final = (
    # Pillow's parsers and decoders report hostile input through all of these (Image.open
    # itself catches most of them), and a warning escalated by the process's filters must
    # not escape either.
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
    RuntimeError,
    Warning,
)


def process(data: bytes, limits: Limits = Limits()) -> Processed:
    """Judge one upload by its bytes and derive display, thumbnail, facts and hashes."""
    if not data:
        raise ImageRejected("evidence.empty", "the upload is empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            "evidence.too_large",
            "the upload is larger than allowed",
            {"size": len(data), "max_bytes": limits.max_bytes},
        )
    fmt = _sniff(data)
    header = _SCANNERS[fmt](data, limits)  # bombs, floods and cut headers stop here
    stream = io.BytesIO(data) if header.head is None else _Spliced(header.head, data, header.tail)
    im = _open(fmt, stream)
    try:
        _check_pixels(im.size, limits)  # HEIC's size is known only now; the rest re-checked
        exif = header.exif
        if fmt == "heic":
            _check_metadata(_info_metadata_bytes(im.info), limits)
            exif = _as_bytes(im.info.get("exif"))
        facts = _exif_facts(exif)
        if fmt == "heic":
            # libheif has already applied the container's rotation/mirroring (irot/imir), and
            # the HEIF spec makes the EXIF tag informational; pillow-heif keeps the original.
            original = im.info.get("original_orientation")
            if isinstance(original, int) and 1 <= original <= 8:
                facts["orientation"] = original
            orientation = 1
        else:
            orientation = facts["orientation"] or 1
        stored_w, stored_h = im.size
        _decode(im, fmt, limits)
        display, thumbnail = _derive(im, orientation, limits)
        display_jpeg = _encode_jpeg(display, DISPLAY_QUALITY)
        thumbnail_jpeg = _encode_jpeg(thumbnail, THUMB_QUALITY)
        rotations = [_hash_bits(d) for d in _rotated(_dct_8x8(thumbnail))]
    finally:
        im.close()

    width, height = (stored_h, stored_w) if orientation in _SWAPS_AXES else (stored_w, stored_h)
    return Processed(
        format=fmt,
        width=width,
        height=height,
        display=display_jpeg,
        thumbnail=thumbnail_jpeg,
        facts=facts,
        phash=rotations[0],
        phash_rotations=(rotations[0], rotations[1], rotations[2], rotations[3]),
    )


def phash_distance(a: str, b: str) -> int:
    """Count the differing bits of two 16-hex-digit perceptual hashes."""
    for value in (a, b):
        # fullmatch: int(x, 16) alone would also take "0x…", "_" and surrounding spaces.
        if not isinstance(value, str) or not _HEX16.fullmatch(value):
            raise ValueError(f"a perceptual hash is 16 hexadecimal digits, not {value!r}")
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- sniffing ------------------------------------------------------------------------------

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_HEIC_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
)
_GENERIC_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
_UNSUPPORTED_SIGNATURES: Final = (
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"8BPS", "psd"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg2000"),
    (b"\xff\x4f\xff\x51", "jpeg2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jpegxl"),
    (b"\xff\x0a", "jpegxl"),
    (b"qoif", "qoi"),
    (b"\x00\x00\x01\x00", "ico"),
)
_BMP_HEADER_SIZES: Final = frozenset({12, 40, 52, 56, 64, 108, 124})
_NOT_IMAGES: Final = (
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"<!doctype html", "html"),
    (b"<html", "html"),
    (b"<?xml", "xml"),
)


def _sniff(data: bytes) -> str:
    """Name the accepted container the bytes start with, or refuse them."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        brands = _ftyp_brands(data)
        if brands & _HEIC_BRANDS or (brands & _GENERIC_HEIF_BRANDS and not brands & _AVIF_BRANDS):
            return "heic"
        if brands & _AVIF_BRANDS:
            raise _unsupported("avif")
        raise ImageRejected(
            "evidence.unreadable", "the upload is a media file, not a photo", {"looks_like": "iso-bmff"}
        )
    for signature, name in _UNSUPPORTED_SIGNATURES:
        if data.startswith(signature):
            raise _unsupported(name)
    if data[:2] == b"BM" and len(data) >= 18 and _u32le(data, 14) in _BMP_HEADER_SIZES:
        raise _unsupported("bmp")
    text = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and b"<svg" in text:
        raise _unsupported("svg")
    for signature, name in _NOT_IMAGES:
        if text.startswith(signature):
            raise ImageRejected(
                "evidence.unreadable", "the upload is not an image", {"looks_like": name}
            )
    raise ImageRejected("evidence.unreadable", "the upload is not an image")


def _ftyp_brands(data: bytes) -> frozenset[bytes]:
    """Return the major and compatible brands of an ISO-BMFF `ftyp` box."""
    size = min(_u32be(data, 0), len(data), 4096)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, size - 3, 4))
    return frozenset(brands)


def _unsupported(name: str) -> ImageRejected:
    """Build the rejection for a recognised format outside the allowlist."""
    return ImageRejected(
        "evidence.unsupported_format",
        f"{name} images are not accepted; send JPEG, PNG, WebP or HEIC",
        {"format": name},
    )


# --- container scans -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    size: tuple[int, int] | None
    exif: bytes | None
    # For JPEG, Pillow is handed `head` (the kept segments) followed by the file from byte
    # `tail` on (the first scan to the end), spliced without copying the entropy-coded data.
    head: bytes | None = None
    tail: int = 0


def _u16be(data: bytes, pos: int) -> int:
    """Read a big-endian 16-bit integer."""
    return (data[pos] << 8) | data[pos + 1]


def _u32be(data: bytes, pos: int) -> int:
    """Read a big-endian 32-bit integer."""
    return int.from_bytes(data[pos : pos + 4], "big")


def _u32le(data: bytes, pos: int) -> int:
    """Read a little-endian 32-bit integer."""
    return int.from_bytes(data[pos : pos + 4], "little")


def _truncated(fmt: str) -> ImageRejected:
    """Build the rejection for a file that ends too early."""
    return ImageRejected("evidence.truncated", "the image file is cut short", {"format": fmt})


def _corrupt(fmt: str, reason: str) -> ImageRejected:
    """Build the rejection for a file whose structure or data is broken."""
    return ImageRejected(
        "evidence.unreadable", "the image data is corrupt", {"format": fmt, "reason": reason}
    )


def _check_pixels(size: tuple[int, int], limits: Limits) -> None:
    """Refuse a picture whose declared dimensions exceed the pixel budget."""
    width, height = size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            "evidence.too_many_pixels",
            "the image has more pixels than allowed",
            {"width": width, "height": height, "max_pixels": limits.max_pixels},
        )


def _check_metadata(total: int, limits: Limits) -> None:
    """Refuse a file whose metadata exceeds the metadata budget."""
    if total > limits.max_metadata_bytes:
        raise ImageRejected(
            "evidence.metadata_too_large",
            "the image carries more metadata than allowed",
            {"max_metadata_bytes": limits.max_metadata_bytes},
        )


_JPEG_SOF: Final = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
# Real files carry a dozen or two segments before the first scan; thousands of tiny ones are
# only there to make the parser loop.
_JPEG_MAX_SEGMENTS: Final = 1024


def _scan_jpeg(data: bytes, limits: Limits) -> _Header:
    """Walk JPEG markers up to the first scan: frame size, APP/COM volume, EXIF block."""
    n = len(data)
    pos, metadata, segments = 2, 0, 0
    size: tuple[int, int] | None = None
    exif: bytes | None = None
    kept = [b"\xff\xd8"]
    while True:
        if pos >= n:
            raise _truncated("jpeg")
        if data[pos] != 0xFF:
            raise _corrupt("jpeg", "marker expected")
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise _truncated("jpeg")
        marker = data[pos]
        start = pos - 1
        pos += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # standalone markers carry no length
        if marker == 0xD9:
            raise _corrupt("jpeg", "no image data before end of image")
        if pos + 2 > n:
            raise _truncated("jpeg")
        length = _u16be(data, pos)
        end = pos + length
        if length < 2:
            raise _corrupt("jpeg", "bad segment length")
        if end > n:
            raise _truncated("jpeg")
        if marker in _JPEG_SOF:
            if length < 8:
                raise _corrupt("jpeg", "bad frame header")
            if size is None:
                size = (_u16be(data, pos + 5), _u16be(data, pos + 3))
                if 0 in size:
                    raise _corrupt("jpeg", "zero image dimension")
                _check_pixels(size, limits)
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            metadata += length + 2
            _check_metadata(metadata, limits)
            if marker == 0xE1 and exif is None and data.startswith(b"Exif\x00", pos + 2):
                exif = data[pos + 2 : end]
            # Pillow would parse EXIF (for DPI), ICC and MPF at open, with warnings that
            # escalate under strict filters; JFIF and Adobe markers steer colour decoding.
            if marker in (0xE0, 0xEE):
                kept.append(data[start:end])
        elif marker == 0xDA:
            if size is None:
                raise _corrupt("jpeg", "scan before frame header")
            return _Header(size, exif, b"".join(kept), start)
        else:
            kept.append(data[start:end])
        segments += 1
        if segments > _JPEG_MAX_SEGMENTS:
            raise _corrupt("jpeg", "too many segments")
        pos = end


# Chunks that describe pixels; every other chunk counts as metadata.
_PNG_IMAGE_CHUNKS: Final = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"})
# Encoders write IDAT in 8-64 KiB pieces; a 30 MB file needs a few thousand chunks at most.
_PNG_MAX_CHUNKS: Final = 100_000


def _scan_png(data: bytes, limits: Limits) -> _Header:
    """Walk PNG chunks to IEND: CRCs, IHDR size, metadata volume inflated, eXIf block."""
    view = memoryview(data)
    n = len(data)
    pos, metadata, chunks = 8, 0, 0
    size: tuple[int, int] | None = None
    exif: bytes | None = None
    while True:
        if pos + 8 > n:
            raise _truncated("png")
        length = _u32be(data, pos)
        ctype = data[pos + 4 : pos + 8]
        body = pos + 8
        end = body + length + 4
        if length > 0x7FFFFFFF:
            raise _corrupt("png", "bad chunk length")
        if end > n:
            raise _truncated("png")
        # Pillow skips the CRC of IDAT chunks; a flipped bit there must not pass as evidence.
        if zlib.crc32(view[pos + 4 : body + length]) != _u32be(data, body + length):
            raise _corrupt("png", f"bad CRC in {ctype.decode('latin-1')!r} chunk")
        if size is None:
            if ctype != b"IHDR" or length != 13:
                raise _corrupt("png", "IHDR must come first")
            size = (_u32be(data, body), _u32be(data, body + 4))
            if 0 in size:
                raise _corrupt("png", "zero image dimension")
            _check_pixels(size, limits)
        elif ctype == b"acTL":
            raise _unsupported("animated-png")
        elif ctype == b"IEND":
            return _Header(size, exif)
        elif ctype not in _PNG_IMAGE_CHUNKS:
            metadata += 12 + length
            _check_metadata(metadata, limits)
            if ctype == b"eXIf" and exif is None:
                exif = bytes(view[body : body + length])
            budget = limits.max_metadata_bytes - metadata
            metadata += _png_inflated_size(ctype, bytes(view[body : body + length]), budget)
            _check_metadata(metadata, limits)
        chunks += 1
        if chunks > _PNG_MAX_CHUNKS:
            raise _corrupt("png", "too many chunks")
        pos = end


def _png_inflated_size(ctype: bytes, payload: bytes, budget: int) -> int:
    """Measure a compressed text/profile chunk inflated, stopping just past the budget."""
    if ctype in (b"zTXt", b"iCCP"):
        start = payload.find(b"\x00") + 2
    elif ctype == b"iTXt":
        keyword_end = payload.find(b"\x00")
        if keyword_end < 0 or payload[keyword_end + 1 : keyword_end + 2] != b"\x01":
            return 0
        language_end = payload.find(b"\x00", keyword_end + 3)
        translated_end = payload.find(b"\x00", language_end + 1) if language_end >= 0 else -1
        if translated_end < 0:
            return 0
        start = translated_end + 1
    else:
        return 0
    if start < 2:
        return 0
    try:
        # max_length bounds the work: a bomb is measured only to one byte past the budget.
        return len(zlib.decompressobj().decompress(payload[start:], max(budget, 0) + 1))
    except zlib.error:
        return 0  # malformed stream: Pillow's decoder gives the verdict


def _scan_webp(data: bytes, limits: Limits) -> _Header:
    """Walk WebP RIFF chunks: canvas or bitstream size, metadata volume, EXIF, animation."""
    riff_end = 8 + _u32le(data, 4)
    if riff_end > len(data):
        raise _truncated("webp")
    pos, metadata = 12, 0
    canvas: tuple[int, int] | None = None
    bitstream: tuple[int, int] | None = None
    exif: bytes | None = None
    while pos + 8 <= riff_end:
        fourcc = data[pos : pos + 4]
        length = _u32le(data, pos + 4)
        body = pos + 8
        if body + length > riff_end:
            raise _truncated("webp")
        if fourcc == b"VP8X":
            if length < 10:
                raise _corrupt("webp", "bad VP8X chunk")
            if data[body] & 0x02:
                raise _unsupported("animated-webp")
            canvas = (
                1 + int.from_bytes(data[body + 4 : body + 7], "little"),
                1 + int.from_bytes(data[body + 7 : body + 10], "little"),
            )
            _check_pixels(canvas, limits)
        elif fourcc == b"VP8 ":
            if length < 10 or data[body + 3 : body + 6] != b"\x9d\x01\x2a":
                raise _corrupt("webp", "bad VP8 frame header")
            bitstream = (
                int.from_bytes(data[body + 6 : body + 8], "little") & 0x3FFF,
                int.from_bytes(data[body + 8 : body + 10], "little") & 0x3FFF,
            )
        elif fourcc == b"VP8L":
            if length < 5 or data[body] != 0x2F:
                raise _corrupt("webp", "bad VP8L header")
            bits = _u32le(data, body + 1)
            bitstream = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif fourcc in (b"ANIM", b"ANMF"):
            raise _unsupported("animated-webp")
        elif fourcc != b"ALPH":
            metadata += 8 + length
            _check_metadata(metadata, limits)
            if fourcc == b"EXIF" and exif is None:
                exif = data[body : body + length]
        pos = body + length + (length & 1)
    if bitstream is None:
        raise _corrupt("webp", "no image bitstream")
    size = canvas or bitstream
    if 0 in size:
        raise _corrupt("webp", "zero image dimension")
    return _Header(size, exif)


def _scan_heic(data: bytes, limits: Limits) -> _Header:
    """Walk top-level ISO-BMFF boxes until ftyp, meta and mdat are seen whole."""
    n = len(data)
    pos = 0
    seen: set[bytes] = set()
    # Stop once the three boxes a still image needs are whole: whatever follows (a polyglot's
    # tail) is not ours to judge.
    while not {b"ftyp", b"meta", b"mdat"} <= seen:
        if pos >= n:
            if b"meta" not in seen:
                raise _truncated("heic")
            break
        if pos + 8 > n:
            raise _truncated("heic")
        size = _u32be(data, pos)
        header = 8
        if size == 1:
            if pos + 16 > n:
                raise _truncated("heic")
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = n - pos
        if size < header:
            raise _corrupt("heic", "bad box size")
        if pos + size > n:
            raise _truncated("heic")
        seen.add(data[pos + 4 : pos + 8])
        pos += size
    # Dimensions and metadata come from libheif's parse, checked before decoding.
    return _Header(None, None)


_SCANNERS: Final = {"jpeg": _scan_jpeg, "png": _scan_png, "webp": _scan_webp, "heic": _scan_heic}


# --- decoding ------------------------------------------------------------------------------


@functools.cache
def _heif_plugin() -> type[ImageFile.ImageFile]:
    """Register pillow-heif once and return its plugin class."""
    import pillow_heif

    # Embedded thumbnails may show another picture than the primary image, so the display
    # image is always decoded from the primary; depth and auxiliary images are never used.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return pillow_heif.HeifImageFile


class _Spliced(io.RawIOBase):
    """Read `head` then `data[tail:]` as one seekable file, without copying `data`."""

    def __init__(self, head: bytes, data: bytes, tail: int) -> None:
        super().__init__()
        self._parts = (memoryview(head), memoryview(data)[tail:])
        self._size = len(self._parts[0]) + len(self._parts[1])
        self._pos = 0

    def readable(self) -> bool:
        """Say the stream can be read."""
        return True

    def seekable(self) -> bool:
        """Say the stream can seek."""
        return True

    def tell(self) -> int:
        """Return the read position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Copy the next bytes into a buffer; return how many."""
        out = memoryview(buffer).cast("B")
        done = 0
        head = self._parts[0]
        while done < len(out) and self._pos < self._size:
            at = self._pos
            source = head[at:] if at < len(head) else self._parts[1][at - len(head) :]
            count = min(len(source), len(out) - done)
            out[done : done + count] = source[:count]
            done += count
            self._pos += count
        return done


def _open(fmt: str, fp: io.BufferedIOBase | io.RawIOBase) -> ImageFile.ImageFile:
    """Parse the header with the format's own plugin class, mapping its errors."""
    try:
        if fmt == "jpeg":
            return JpegImagePlugin.JpegImageFile(fp)
        if fmt == "png":
            return PngImagePlugin.PngImageFile(fp)
        if fmt == "webp":
            return WebPImagePlugin.WebPImageFile(fp)
        return _heif_plugin()(fp)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            "evidence.too_many_pixels", "the image has more pixels than allowed", {"format": fmt}
        ) from None
    except _DECODE_ERRORS as exc:
        raise _decode_rejection(fmt, exc) from None


def _decode(im: ImageFile.ImageFile, fmt: str, limits: Limits) -> None:
    """Decode the pixels, JPEG at the smallest DCT scale that still covers the display size."""
    try:
        if fmt == "jpeg":
            im.draft("RGB", _fit(im.size, limits.display_px))
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            "evidence.too_many_pixels", "the image has more pixels than allowed", {"format": fmt}
        ) from None
    except _DECODE_ERRORS as exc:
        raise _decode_rejection(fmt, exc) from None


def _decode_rejection(fmt: str, exc: BaseException) -> ImageRejected:
    """Translate a Pillow or libheif failure into a rejection."""
    text = str(exc).lower()
    if "truncated" in text or "end of file" in text or "premature" in text:
        return _truncated(fmt)
    return _corrupt(fmt, type(exc).__name__)


def _info_metadata_bytes(info: dict[str, Any]) -> int:
    """Total the metadata blobs a plugin put in `info` (HEIC's only metadata view)."""
    total = 0
    for key in ("exif", "xmp", "icc_profile"):
        total += len(_as_bytes(info.get(key)) or b"")
    for block in info.get("metadata") or ():
        if isinstance(block, dict):
            total += len(_as_bytes(block.get("data")) or b"")
    return total


def _as_bytes(value: object) -> bytes | None:
    """Return a metadata value as bytes, or None if it is neither bytes nor text."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "replace")
    return None


# --- derivatives ---------------------------------------------------------------------------

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})


def _fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """Scale a size to fit a square box, keeping the aspect ratio and at least one pixel."""
    width, height = size
    longest = max(width, height)
    if longest <= box:
        return width, height
    return max(1, round(width * box / longest)), max(1, round(height * box / longest))


def _derive(im: Image.Image, orientation: int, limits: Limits) -> tuple[Image.Image, Image.Image]:
    """Make the oriented display image and its thumbnail from decoded pixels.

    The display is resampled bilinearly (Pillow's filters are antialiased: their support widens
    with the scale factor). A phone photo arrives at 1/2 scale from draft(), and for the last
    ~1.25x step bilinear stays above 40 dB PSNR against Lanczos at half its cost: Lanczos alone
    would cost 80% of the decode, and the budget is 2x a bare decode for everything.
    The thumbnail is an integer box reduction of the display plus a small bicubic remainder.
    """
    # Resize before flattening and rotating: both then touch at most display_px² pixels.
    picture = _resizable(im)
    if picture is not im:
        im.close()
    width, height = _fit(picture.size, limits.display_px)
    # One resize call holds the source, its one-axis intermediate and the result at once; two
    # calls let each buffer go as soon as the next exists (peak: decoded + intermediate).
    for size in ((width, picture.height), (width, height)):
        if size != picture.size:
            smaller = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
            picture.close()
            picture = smaller
    picture = _flatten(picture)
    if orientation in _TRANSPOSE:
        picture = picture.transpose(_TRANSPOSE[orientation])
    thumb_size = _fit(picture.size, limits.thumb_px)
    if thumb_size == picture.size:
        return picture, picture
    return picture, picture.resize(thumb_size, Image.Resampling.BICUBIC, reducing_gap=1.0)


def _resizable(im: Image.Image) -> Image.Image:
    """Convert any decoded mode to L, LA, RGB or RGBA without losing tone or transparency."""
    mode = im.mode
    if mode in ("L", "RGB", "LA", "RGBA"):
        if "transparency" in im.info and mode in ("L", "RGB"):
            return im.convert("RGBA")
        return im
    if mode.startswith("I;16") or mode == "I":
        # Pillow's 16-bit-to-8-bit convert clips instead of scaling: 0..65535 must map to 0..255.
        return im.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if mode in ("P", "PA", "1"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else ("L" if mode == "1" else "RGB"))
    if mode == "La":
        return im.convert("LA")
    if mode in ("RGBa", "RGBX"):
        return im.convert("RGBA" if mode == "RGBa" else "RGB")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, F


def _flatten(im: Image.Image) -> Image.Image:
    """Composite an alpha channel on white."""
    if im.mode == "RGBA":
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        return flat
    if im.mode == "LA":
        flat = Image.new("L", im.size, 255)
        flat.paste(im.getchannel("L"), mask=im.getchannel("A"))
        return flat
    return im


def _encode_jpeg(im: Image.Image, quality: int) -> bytes:
    """Encode pixels alone as baseline JPEG: no EXIF, ICC, XMP, comment or trailer."""
    # Pillow copies `info` through resize/transpose and re-embeds a source comment from it.
    im.info = {}
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


# --- perceptual hash -----------------------------------------------------------------------

_DCT_N: Final = 32
_DCT_K: Final = 8
_COSINES: Final = tuple(
    tuple(math.cos(math.pi * (2 * x + 1) * u / (2 * _DCT_N)) for x in range(_DCT_N))
    for u in range(_DCT_K)
)


def _dct_8x8(im: Image.Image) -> list[list[float]]:
    """Return the 8x8 lowest-frequency DCT-II coefficients of a 32x32 grey reduction."""
    grey = im.convert("L").resize((_DCT_N, _DCT_N), Image.Resampling.BOX).tobytes()
    rows = [grey[y * _DCT_N : (y + 1) * _DCT_N] for y in range(_DCT_N)]
    by_row = [[sum(map(operator.mul, row, cos)) for cos in _COSINES] for row in rows]
    return [
        [sum(cos[y] * by_row[y][u] for y in range(_DCT_N)) for u in range(_DCT_K)]
        for cos in _COSINES
    ]


def _rotated(d: list[list[float]]) -> list[list[list[float]]]:
    """Return the coefficients of the picture turned 0, 90, 180 and 270 degrees clockwise."""
    # Mirroring an axis negates its odd frequencies; a quarter turn is a transpose plus a mirror.
    k = range(_DCT_K)
    return [
        d,
        [[d[u][v] * (-1) ** u for u in k] for v in k],
        [[d[v][u] * (-1) ** (u + v) for u in k] for v in k],
        [[d[u][v] * (-1) ** v for u in k] for v in k],
    ]


def _hash_bits(d: list[list[float]]) -> str:
    """Set one bit per coefficient above the median, row-major, as 16 hex digits."""
    values = [value for row in d for value in row]
    ordered = sorted(values)
    median = (ordered[31] + ordered[32]) / 2
    bits = 0
    for value in values:
        bits = (bits << 1) | (value > median)
    return f"{bits:016x}"


# --- EXIF ----------------------------------------------------------------------------------

_TAG_MAKE: Final = 0x010F
_TAG_MODEL: Final = 0x0110
_TAG_ORIENTATION: Final = 0x0112
_TAG_SOFTWARE: Final = 0x0131
_TAG_EXIF_IFD: Final = 0x8769
_TAG_GPS_IFD: Final = 0x8825
_TAG_DATETIME_ORIGINAL: Final = 0x9003
_TAG_DATETIME_DIGITIZED: Final = 0x9004
_TAG_OFFSET_TIME_ORIGINAL: Final = 0x9011
_TAG_GPS_LAT_REF: Final = 1
_TAG_GPS_LAT: Final = 2
_TAG_GPS_LON_REF: Final = 3
_TAG_GPS_LON: Final = 4
_IFD0_TAGS: Final = frozenset(
    {_TAG_MAKE, _TAG_MODEL, _TAG_ORIENTATION, _TAG_SOFTWARE, _TAG_EXIF_IFD, _TAG_GPS_IFD}
)
_EXIF_TAGS: Final = frozenset(
    {_TAG_DATETIME_ORIGINAL, _TAG_DATETIME_DIGITIZED, _TAG_OFFSET_TIME_ORIGINAL}
)
_GPS_TAGS: Final = frozenset({_TAG_GPS_LAT_REF, _TAG_GPS_LAT, _TAG_GPS_LON_REF, _TAG_GPS_LON})
# TIFF field types: size in bytes of one value.
_TYPE_SIZES: Final = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 13: 4}
_MAX_IFD_ENTRIES: Final = 1000
_MAX_TEXT: Final = 200
_EXIF_DATETIME: Final = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET: Final = re.compile(r"[+-]\d{2}:\d{2}")


class _BadExif(Exception):
    """Signal that an EXIF block is structurally malformed."""


class _Tiff:
    """Read selected tags from a TIFF-structured EXIF block, bounds-checking every offset."""

    def __init__(self, raw: bytes) -> None:
        if raw.startswith(b"Exif\x00"):
            raw = raw[6:]
        if raw[:2] == b"II":
            self.order = "<"
        elif raw[:2] == b"MM":
            self.order = ">"
        else:
            raise _BadExif("byte order")
        self.raw = raw
        if len(raw) < 8 or self._unpack("H", 2)[0] != 42:
            raise _BadExif("magic")
        self.first_ifd = self._unpack("I", 4)[0]

    def _unpack(self, fmt: str, pos: int) -> tuple[Any, ...]:
        layout = struct.Struct(self.order + fmt)
        if pos < 0 or pos + layout.size > len(self.raw):
            raise _BadExif("offset out of range")
        return layout.unpack_from(self.raw, pos)

    def ifd(self, offset: int, wanted: frozenset[int]) -> dict[int, Any]:
        """Return the wanted tags of the directory at `offset`, decoded."""
        (count,) = self._unpack("H", offset)
        if count > _MAX_IFD_ENTRIES:
            raise _BadExif("too many entries")
        found: dict[int, Any] = {}
        for index in range(count):
            entry = offset + 2 + 12 * index
            tag, kind, n = self._unpack("HHI", entry)
            if tag not in wanted or kind not in _TYPE_SIZES:
                continue
            size = _TYPE_SIZES[kind] * n
            start = entry + 8 if size <= 4 else self._unpack("I", entry + 8)[0]
            if size > 65536 or start + size > len(self.raw):
                raise _BadExif("value out of range")
            found[tag] = self._value(kind, n, start, size)
        return found

    def _value(self, kind: int, n: int, start: int, size: int) -> Any:
        data = self.raw[start : start + size]
        if kind == 2:
            return data.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
        if kind in (1, 7, 6):
            return data
        if kind in (5, 10):
            code = "I" if kind == 5 else "i"
            values = struct.unpack(f"{self.order}{2 * n}{code}", data)
            return tuple(zip(values[::2], values[1::2], strict=True))
        code = {3: "H", 4: "I", 8: "h", 9: "i", 13: "I"}[kind]
        return struct.unpack(f"{self.order}{n}{code}", data)


def _exif_facts(raw: bytes | None) -> dict[str, Any]:
    """Read capture time, GPS, device and orientation; malformed EXIF yields no facts."""
    facts: dict[str, Any] = {
        "exif_present": bool(raw),
        "exif_readable": False,
        "captured_at": None,
        "captured_offset": None,
        "gps_lat": None,
        "gps_lon": None,
        "make": None,
        "model": None,
        "software": None,
        "orientation": None,
        "has_camera_metadata": False,
    }
    if not raw:
        return facts
    try:
        tiff = _Tiff(raw)
        ifd0 = tiff.ifd(tiff.first_ifd, _IFD0_TAGS)
        exif_ifd = tiff.ifd(_first_int(ifd0.get(_TAG_EXIF_IFD)), _EXIF_TAGS) if _TAG_EXIF_IFD in ifd0 else {}
        gps = tiff.ifd(_first_int(ifd0.get(_TAG_GPS_IFD)), _GPS_TAGS) if _TAG_GPS_IFD in ifd0 else {}
    except (_BadExif, struct.error, ValueError):
        # A damaged EXIF block is a fact about the photo for the reviewer, not an upload error.
        return facts
    orientation = _first_int(ifd0.get(_TAG_ORIENTATION))
    facts.update(
        exif_readable=True,
        captured_at=_exif_datetime(exif_ifd.get(_TAG_DATETIME_ORIGINAL))
        or _exif_datetime(exif_ifd.get(_TAG_DATETIME_DIGITIZED)),
        captured_offset=_exif_offset(exif_ifd.get(_TAG_OFFSET_TIME_ORIGINAL)),
        gps_lat=_gps_coordinate(gps.get(_TAG_GPS_LAT), gps.get(_TAG_GPS_LAT_REF), "N", "S", 90),
        gps_lon=_gps_coordinate(gps.get(_TAG_GPS_LON), gps.get(_TAG_GPS_LON_REF), "E", "W", 180),
        make=_exif_text(ifd0.get(_TAG_MAKE)),
        model=_exif_text(ifd0.get(_TAG_MODEL)),
        software=_exif_text(ifd0.get(_TAG_SOFTWARE)),
        orientation=orientation if 1 <= orientation <= 8 else None,
    )
    facts["has_camera_metadata"] = any(
        facts[key] is not None for key in ("make", "model", "captured_at", "gps_lat")
    )
    return facts


def _first_int(value: object) -> int:
    """Return the first integer of a decoded tag value, or 0."""
    if isinstance(value, tuple) and value and isinstance(value[0], int):
        return value[0]
    return 0


def _exif_text(value: object) -> str | None:
    """Clean an ASCII tag for display: printable, trimmed, bounded, None if empty."""
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable())[:_MAX_TEXT].strip()
    return text or None


def _exif_datetime(value: object) -> str | None:
    """Turn EXIF 'YYYY:MM:DD HH:MM:SS' into naive ISO 8601, or None if it is no real time."""
    if not isinstance(value, str) or not (match := _EXIF_DATETIME.match(value)):
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None  # cameras write "0000:00:00 00:00:00" when the clock was never set
    return moment.isoformat(timespec="seconds")


def _exif_offset(value: object) -> str | None:
    """Return an EXIF UTC offset such as "+08:00", or None if malformed."""
    if isinstance(value, str) and _EXIF_OFFSET.fullmatch(value):
        return value
    return None


def _gps_coordinate(
    value: object, ref: object, positive: str, negative: str, bound: int
) -> float | None:
    """Turn EXIF degrees/minutes/seconds and a hemisphere letter into signed degrees."""
    if not isinstance(value, tuple) or not 1 <= len(value) <= 3 or not isinstance(ref, str):
        return None
    if ref.upper() not in (positive, negative):
        return None
    degrees = 0.0
    # Writers may give degrees alone, or degrees and minutes: zip stops at what is there.
    for (numerator, denominator), scale in zip(value, (1, 60, 3600), strict=False):
        if denominator == 0:
            return None
        degrees += numerator / denominator / scale
    if not math.isfinite(degrees) or degrees > bound:
        return None
    return round(-degrees if ref.upper() == negative else degrees, 7)
