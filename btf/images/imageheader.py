"""What decoding an image will cost, from its header alone: format, size, memory and CPU, by capped walks.

Nothing here decodes a pixel. Each format's structure is walked just far enough to price the
decode: PNG chunks (is there transparency? where is the EXIF?), every JPEG marker up to the
end of the image (the frame header, and how many scans the decoder will make over every
block), and WebP's RIFF chunks (lossy or lossless, animated?). Every walk shares one cap on
the steps it may take (``MAX_WALK_STEPS``, per request), so a file of a million empty
markers or chunks is refused after a few thousand, before any decoder sees it.

The price of an image (``Header.cost``) is in bytes: the larger of what the decoder holds
(its output at the decode scale, plus a multi-scan JPEG's coefficients) and its CPU work
expressed in decoded bytes (``_FILE_WEIGHT``). A request's images share one budget of
pixels and one of those bytes (``check_budget``). Limits: PNG, JPEG, BMP and WebP only.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from btf.errors import BtfError

# A phone photo is 12 MP (4032 x 3024, 4080 x 3060); a digit needs far fewer.
DEFAULT_MAX_PIXELS = 12_600_000
# The decode budget is this many bytes per allowed pixel: 12.6 MP of 8-bit RGB (a phone photo
# as PNG), 9.4 MP of RGBA. At it, the dearest request takes ~250 ms of CPU (docs/reliability.md).
BYTES_PER_PIXEL_BUDGET = 3
# No side longer than JPEG's own maximum (OpenCV would raise past 2**20).
MAX_SIDE = 65_535
# Steps of the header walks (chunks, markers, fill bytes) one request may take: a 4.4 MB
# PNG written in 8 KB IDAT chunks has 540; no real image comes near this.
MAX_WALK_STEPS = 4096
# libjpeg's own progressions use 6 (gray) or 10 (colour) scans; each scan visits every block.
MAX_SCANS = 64
# Every image is reduced to at most this many pixels a side before any analysis (btf.images.imagefile).
WORK_SIDE = 160
# CPU of a decode per byte of the *file*, in units of the CPU per decoded output byte of a
# PNG (the reference), as benchmarks/bench_preprocess.py measures them: lossy WebP's entropy
# decoding costs 17 times a PNG's output byte per file byte, a progressive JPEG's 7.
_FILE_WEIGHT = {"png": 1.0, "bmp": 1.0, "webp": 1.5, "webp-lossy": 17.0, "jpeg": 2.5, "jpeg-progressive": 7.0}
# CPU per 8x8 block per scan of a JPEG, in the same units (measured likewise).
_BLOCK_SCAN_WEIGHT = 4
# The next marker after a scan's entropy-coded data: 0xFF not followed by a stuffed zero,
# a restart marker or another fill byte.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


class ImageError(BtfError, ValueError):
    """An image that cannot become network input; ``code`` names the kind of problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Header:
    format: str  # png, jpeg, bmp or webp
    width: int
    height: int
    decoded_bytes: int  # what the decoder holds: its output at the decode scale, plus JPEG coefficients
    work: int  # the decode's CPU, in decoded-byte equivalents (_FILE_WEIGHT)
    reduce: int = 1  # JPEG is decoded at 1/reduce scale, straight to gray
    exif: tuple[int, int] | None = None  # where the EXIF payload is (PNG eXIf, WebP EXIF)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def cost(self) -> int:
        """Bytes charged against the request's budget: memory or CPU, whichever is larger."""
        return max(self.decoded_bytes, self.work)


class _Steps:
    """The walk steps left to one request, shared by its images."""

    def __init__(self, limit: int = MAX_WALK_STEPS) -> None:
        self.left = self.limit = limit

    def take(self, what: str) -> None:
        self.left -= 1
        if self.left < 0:
            raise ImageError(
                "image_too_large",
                f"the image holds over {self.limit:,} {what}; no real image has that many (the limit is per request)",
            )


def read_header(data: bytes, steps: _Steps | None = None) -> Header:
    """Format, size and the price of decoding, from the header alone; ImageError if it cannot be an image."""
    steps = steps or _Steps()
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _png(data, steps)
        if data[:3] == b"\xff\xd8\xff":
            return _jpeg(data, steps)
        if data[:2] == b"BM":
            return _bmp(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data, steps)
    except (struct.error, IndexError):
        raise ImageError("corrupt_image", "image header is truncated") from None
    if not data:
        raise ImageError("corrupt_image", "the image is empty")
    raise ImageError("unsupported_format", "unsupported image format: send PNG, JPEG, BMP or WebP")


def read_headers(images: Sequence[bytes], label: bool | None = None) -> list[Header]:
    """Every image's header, the walks sharing one step cap.

    An error names the image (``images[i]: ...``) when ``label`` is true (by default, when there are several).
    """
    steps, headers = _Steps(), []
    for i, data in enumerate(images):
        try:
            headers.append(read_header(data, steps))
        except ImageError as exc:
            if len(images) > 1 if label is None else label:
                raise ImageError(exc.code, f"images[{i}]: {exc}") from None
            raise
    return headers


def _priced(
    fmt: str, size: tuple[int, int], output: int, data: bytes, weight: str, held: int = 0, work: int = 0, **extra
) -> Header:
    """A header priced: ``output`` bytes decoded (plus ``held`` while decoding); the file's work by ``weight``."""
    work += output + int(_FILE_WEIGHT[weight] * len(data))
    return Header(fmt, *size, output + held, work, **extra)


def _png(data: bytes, steps: _Steps) -> Header:
    if data[12:16] != b"IHDR":
        raise ImageError("corrupt_image", "PNG header is damaged (no IHDR chunk)")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if colour not in (0, 2, 3, 4, 6) or depth not in (1, 2, 4, 8, 16):
        raise ImageError("corrupt_image", f"PNG header is damaged (colour type {colour}, depth {depth})")
    channels, exif, at = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}[colour], None, 8
    while at + 8 <= len(data):
        steps.take("PNG chunks")
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind == b"IEND":
            break
        if kind == b"tRNS":
            channels = 4  # OpenCV turns the transparent colour into an alpha channel
        elif kind == b"eXIf":
            exif = (at + 8, min(at + 8 + length, len(data)))
        at += 12 + length
    output = width * height * channels * (2 if depth == 16 else 1)
    return _priced("png", (width, height), output, data, "png", exif=exif)


def _bmp(data: bytes) -> Header:
    (size,) = struct.unpack("<I", data[14:18])
    if size == 12:
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
    else:
        width, height, _, bits = struct.unpack("<iiHH", data[18:30])
    width, height = abs(width), abs(height)
    return _priced("bmp", (width, height), width * height * (4 if bits == 32 else 3), data, "bmp")


def _webp(data: bytes, steps: _Steps) -> Header:
    at, size, lossy, exif = 12, None, False, None
    while at + 8 <= len(data):
        steps.take("WebP chunks")
        kind, length = struct.unpack_from("<4sI", data, at)
        body = at + 8
        if kind == b"VP8X":
            width, height = data[body + 4 : body + 7], data[body + 7 : body + 10]
            size = 1 + int.from_bytes(width, "little"), 1 + int.from_bytes(height, "little")
        elif kind == b"VP8 ":
            lossy = True
            if size is None:
                width, height = struct.unpack_from("<HH", data, body + 6)
                size = width & 0x3FFF, height & 0x3FFF
        elif kind == b"VP8L" and size is None:
            (bits,) = struct.unpack_from("<I", data, body + 1)
            size = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        elif kind == b"ANMF":
            lossy = True  # frames may hold either kind; price them as the dearer
        elif kind == b"EXIF":
            exif = (body, min(body + length, len(data)))
        at = body + length + (length & 1)
    if size is None:
        raise ImageError("corrupt_image", "WebP header is damaged (no image chunk)")
    weight = "webp-lossy" if lossy else "webp"
    return _priced("webp", size, size[0] * size[1] * 4, data, weight, exif=exif)


def _jpeg(data: bytes, steps: _Steps) -> Header:
    """Walk every marker to the end of the image: the frame header, and each scan (skipping its entropy-coded data)."""
    at, frame, scans = 2, None, 0
    while at + 2 <= len(data):
        steps.take("JPEG markers")
        if data[at] != 0xFF:
            raise ImageError("corrupt_image", "JPEG header is damaged")
        marker = data[at + 1]
        if marker == 0xD9:  # end of image
            break
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:  # fill byte, or a marker without a length
            at += 1 if marker == 0xFF else 2
            continue
        if at + 4 > len(data):
            break  # truncated: the decoder reads what there is
        (length,) = struct.unpack_from(">H", data, at + 2)
        if length < 2:
            raise ImageError("corrupt_image", "JPEG header is damaged")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if frame is not None:
                raise ImageError("corrupt_image", "JPEG has two frame headers")
            frame = _jpeg_frame(data, at, marker)
        elif marker == 0xDA:
            if frame is None:
                raise ImageError("corrupt_image", "JPEG has a scan before its frame header")
            scans += 1
            if scans > MAX_SCANS:
                raise ImageError(
                    "image_too_large", f"the JPEG has over {MAX_SCANS} scans; no real encoder makes that many"
                )
            end = _SCAN_END.search(data, at + 2 + length)
            at = end.start() if end else len(data)
            continue
        at += 2 + length
    if frame is None:
        raise ImageError("corrupt_image", "JPEG has no frame header (truncated or corrupt)")
    width, height, progressive, blocks = frame
    # Large photos decode at 1/2..1/8 scale straight away, which is much faster.
    reduce = next((f for f in (8, 4, 2) if min(width, height) // f >= WORK_SIDE), 1)
    output = -(-width // reduce) * -(-height // reduce)
    # More than one scan (always, when progressive) makes the decoder keep every block's
    # coefficients and visit every block once per scan.
    buffered = progressive or scans > 1
    held = blocks * 128 if buffered else 0
    work = blocks * _BLOCK_SCAN_WEIGHT * (max(scans, 1) if buffered else 1)
    weight = "jpeg-progressive" if progressive else "jpeg"
    return _priced("jpeg", (width, height), output, data, weight, held=held, work=work, reduce=reduce)


def _jpeg_frame(data: bytes, at: int, marker: int) -> tuple[int, int, bool, int]:
    """(width, height, progressive, 8x8 blocks over all components) from a frame header."""
    if marker not in (0xC0, 0xC1, 0xC2):
        raise ImageError("unsupported_format", "arithmetic-coded, lossless and hierarchical JPEG are not supported")
    precision, height, width, count = struct.unpack_from(">BHHB", data, at + 4)
    if precision != 8 or count not in (1, 3, 4):
        raise ImageError(
            "unsupported_format", f"JPEG of {precision}-bit samples and {count} components is not supported"
        )
    factors = [(data[at + 11 + 3 * i] >> 4, data[at + 11 + 3 * i] & 15) for i in range(count)]
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v in factors):
        raise ImageError("corrupt_image", "JPEG frame header is damaged (sampling factors)")
    top_h, top_v = max(h for h, _ in factors), max(v for _, v in factors)
    mcu_w, mcu_h = -(-width // (8 * top_h)), -(-height // (8 * top_v))  # the decoder pads to whole MCUs
    blocks = sum(mcu_w * h * mcu_h * v for h, v in factors)
    return width, height, marker == 0xC2, blocks


def check_budget(headers: Header | Sequence[Header], max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse an empty image, or images whose pixels or decode cost, summed, are over one request's budget."""
    headers = [headers] if isinstance(headers, Header) else list(headers)
    for h in headers:
        if h.width == 0 or h.height == 0:
            raise ImageError("corrupt_image", f"image header gives an empty size {h.width}x{h.height}")
    what = "image is" if len(headers) == 1 else f"the {len(headers)} images are"
    pixels, cost = sum(h.pixels for h in headers), sum(h.cost for h in headers)
    if pixels > max_pixels:
        shape = f"{headers[0].width}x{headers[0].height} = " if len(headers) == 1 else ""
        raise ImageError("image_too_large", f"{what} {shape}{pixels:,} pixels; the limit is {max_pixels:,} per request")
    for h in headers:
        if max(h.width, h.height) > MAX_SIDE:
            raise ImageError(
                "image_too_large", f"image is {h.width}x{h.height}; no side may be over {MAX_SIDE:,} pixels"
            )
    budget = max_pixels * BYTES_PER_PIXEL_BUDGET
    if cost > budget:
        raise ImageError(
            "image_too_large",
            f"{what} {cost / 1e6:.0f} MB to decode (pixels at their decoded depth, or the codec's work); "
            f"the limit is {budget / 1e6:.0f} MB per request (send smaller, 8-bit or fewer images)",
        )
