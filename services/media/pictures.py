"""Pictures through ImageMagick (Wand): checking a part's image within the run's
memory, and the frame background (the picture fitted over a blurred fill of itself).
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wand.resource
from wand.color import Color
from wand.exceptions import WandException
from wand.image import FILTER_TYPES, Image

from services.media import native
from services.media.framing import SOFT_ENLARGEMENT, Placement, place
from services.media.subject import THUMBNAIL_SIDE, Subject, find_subject

# Colours by number, never by name: ImageMagick loads its table of colour names lazily, and
# two threads doing that at once have been seen to fail ("Unrecognized color string").
BLACK = "rgb(0,0,0)"
CLEAR = "rgba(0,0,0,0)"


class ImageProblem(ValueError):
    """The picture cannot be used; the message says why."""


# --- reading pictures ----------------------------------------------------------------------------
#
# ImageMagick keeps a decoded picture in its pixel cache: 8 bytes a pixel here (Q16, four
# channels), in memory, then in memory-mapped files, then on disk, up to process-wide limits that
# its policy (/etc/ImageMagick-6/policy.xml) caps: one 8000x8000 PNG takes 512 MB, and three
# decoded at once by parallel parts used to fail with "cache resources exhausted". So: the header
# is read first; a picture larger than the cache can hold is refused, saying so; decodes share one
# budget of the cache's size, waiting their turn; a JPEG is decoded at reduced scale, and any
# other picture is shrunk right after decoding, before anything else is done to it.

_BYTES_PER_PIXEL = 8
_WORKING_SHARE = 1.25  # the decoded picture plus the first pass of shrinking it
_CORRUPT_IMAGE_WARNING = 325  # ImageMagick's CorruptImageWarning: the decoder filled in gaps


@dataclass(frozen=True)
class DecodeLimits:
    """How big a picture this process can decode: ImageMagick's effective resource limits."""

    cache_bytes: int  # memory + map + disk: what all decodes in this process may hold at once
    max_side: int  # pixels, width or height

    @property
    def max_pixels(self) -> int:
        return int(self.cache_bytes / (_BYTES_PER_PIXEL * _WORKING_SHARE))


class _PixelBudget:
    """Bytes of pixel cache that decodes running at once may hold; a decode waits for room."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._used = 0
        self._room = threading.Condition()

    @contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        amount = min(amount, self.capacity)
        with self._room:
            self._room.wait_for(lambda: self._used + amount <= self.capacity)
            self._used += amount
        try:
            yield
        finally:
            with self._room:
                self._used -= amount
                self._room.notify_all()


_decoding_lock = threading.RLock()
_decoding: tuple[DecodeLimits, _PixelBudget] | None = None


def run_memory_bytes() -> int:
    """Memory this run may use: its cgroup's limit (a container's) or else the machine's."""
    candidates = []
    for limit_file in (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        try:
            value = Path(limit_file).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if value.isdigit():
            candidates.append(int(value))
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return min(candidates) if candidates else 2 * 1024**3


def configure_decoding(memory_bytes: int | None = None) -> DecodeLimits:
    """Set ImageMagick's resource limits from the run's memory: a quarter of it in memory, as
    much again memory-mapped, the whole on disk (ImageMagick's policy may lower each, never
    raise it); and size the budget that decodes share. Done on first use, or again by tests."""
    global _decoding
    memory = memory_bytes or run_memory_bytes()
    limits = wand.resource.limits
    with _decoding_lock:
        limits["memory"] = memory // 4
        limits["map"] = memory // 4
        limits["disk"] = memory
        cache = int(limits["memory"]) + int(limits["map"]) + int(limits["disk"])
        side = min(int(limits["width"]), int(limits["height"]))
        decode = DecodeLimits(cache_bytes=cache, max_side=side)
        _decoding = (decode, _PixelBudget(cache))
    return decode


def _decoding_state() -> tuple[DecodeLimits, _PixelBudget]:
    with _decoding_lock:
        if _decoding is None:
            configure_decoding()
        assert _decoding is not None
        return _decoding


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    format: str


def _read_header(path: Path) -> _Header:
    """Size and format from the file's header alone (ImageMagick's ping: no pixels decoded).
    ImageMagick refuses even to ping a picture wider or higher than its policy allows, so the
    size of such a PNG, JPEG or WebP is read from its header here, to say what is wrong."""
    try:
        with Image.ping(filename=f"{path}[0]") as header:
            return _Header(header.width, header.height, (header.format or "").upper())
    except WandException:
        found = _size_from_header(path)
        if found is None:
            raise
        return found


def _size_from_header(path: Path) -> _Header | None:
    """Width and height from a PNG's IHDR, a JPEG's frame header or a WebP's VP8X chunk."""
    with path.open("rb") as stream:
        head = stream.read(1 << 16)
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return _Header(
            int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"), "PNG"
        )
    if head.startswith(b"RIFF") and head[8:16] == b"WEBPVP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        return _Header(width, int.from_bytes(head[27:30], "little") + 1, "WEBP")
    if head.startswith(b"\xff\xd8"):
        at = 2
        while at + 9 < len(head) and head[at] == 0xFF:
            marker, length = head[at + 1], int.from_bytes(head[at + 2 : at + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
                height = int.from_bytes(head[at + 5 : at + 7], "big")
                return _Header(int.from_bytes(head[at + 7 : at + 9], "big"), height, "JPEG")
            at += 2 + length
    return None


def _decoded_size(header: _Header, at_least: tuple[int, int]) -> tuple[int, int]:
    """The size the decoder produces: a JPEG is scaled down by libjpeg (by a power of two, at
    most 8, keeping at least `at_least`); other formats decode at full size."""
    if header.format != "JPEG":
        return header.width, header.height
    ratio = min(header.width / max(at_least[0], 1), header.height / max(at_least[1], 1))
    scale = 1
    while scale < 8 and scale * 2 <= ratio:
        scale *= 2
    return math.ceil(header.width / scale), math.ceil(header.height / scale)


def _refuse_if_too_large(header: _Header, decoded: tuple[int, int], limits: DecodeLimits) -> None:
    width, height = decoded
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise ImageProblem(
            f"is {header.width}x{header.height}; at most {limits.max_pixels // 1_000_000} "
            f"megapixels and {limits.max_side} pixels a side can be read here "
            f"(save it smaller, e.g. 4000 pixels on its longer side)"
        )


def _decoder_warning(image: Image) -> tuple[int, str]:
    """The warning the decoder left on the picture. ImageMagick keeps a decoder's warnings (such
    as libjpeg's "Corrupt JPEG data: premature end of data segment") on the image, not on the
    wand, so Wand never reports them."""
    magick = native.magick_libraries()
    collected = magick.core.AcquireExceptionInfo()
    try:
        magick.core.GetImageException(magick.wand.GetImageFromMagickWand(image.wand), collected)
        head = ctypes.cast(collected, ctypes.POINTER(native.MagickExceptionHead)).contents
        reason = (head.reason or b"").decode("utf-8", "replace")
        return head.severity, reason
    finally:
        magick.core.DestroyExceptionInfo(collected)


def _refuse_if_damaged(image: Image) -> None:
    severity, reason = _decoder_warning(image)
    # "extraneous bytes before marker" is junk between JPEG segments: every pixel is still there.
    if severity == _CORRUPT_IMAGE_WARNING and "extraneous bytes" not in reason:
        raise ImageProblem(
            f"is damaged or cut off: part of the picture is missing "
            f"({reason.split('`')[0].strip()}); upload it again"
        )


def _shrink(image: Image, at_least: tuple[int, int]) -> None:
    """Average a picture much larger than needed down by a whole factor, keeping `at_least`."""
    factor = min(image.width // max(at_least[0], 1), image.height // max(at_least[1], 1))
    if factor >= 2:
        resize(
            image, math.ceil(image.width / factor), math.ceil(image.height / factor), filter="box"
        )


def _read(path: Path, at_least: tuple[int, int]) -> Image:
    """Read a picture's first frame (an animated WebP's first, not its last), no smaller than
    `at_least` where it is larger, within this process's decode limits. Raises ImageProblem for
    a picture too large to read here or one the decoder found damaged."""
    limits, budget = _decoding_state()
    header = _read_header(path)
    decoded = _decoded_size(header, at_least)
    _refuse_if_too_large(header, decoded, limits)
    cost = int(decoded[0] * decoded[1] * _BYTES_PER_PIXEL * _WORKING_SHARE)
    with budget.hold(cost):
        image = Image()
        try:
            if decoded != (header.width, header.height):
                # libjpeg's DCT scaling: a 40-megapixel photo never costs hundreds of megabytes.
                # Only ever to scale down: given a size larger than the picture, ImageMagick has
                # libjpeg decode it at twice its size (more memory and time, then shrunk again).
                image.options["jpeg:size"] = f"{at_least[0]}x{at_least[1]}"
            image.read(filename=f"{path}[0]")
            _refuse_if_damaged(image)
            _shrink(image, at_least)
        except BaseException:
            image.close()
            raise
    return image


def check_image(path: Path) -> tuple[int, int]:
    """Decode the whole image (not just its header); return the decoded width and height."""
    try:
        with _read(path, (256, 256)) as image:
            image.auto_orient()
            if image.width < 1 or image.height < 1:
                raise ImageProblem("the image has no pixels")
            return image.width, image.height
    except WandException as error:
        raise ImageProblem(f"does not decode as an image ({_plain_reason(error)})") from None


def _plain_reason(error: Exception) -> str:
    """ImageMagick's reason without its source locations and Wand's internals."""
    text = str(error)
    if "MagickReadImage returns false" in text:
        return "the file is damaged or cut off"
    if "cache resources exhausted" in text:
        return "it is too large for the memory this run has"
    return text.split("`")[0].strip().rstrip("@ ").strip() or type(error).__name__


def _load_upright_rgb(path: Path, at_least: tuple[int, int]) -> Image:
    """Read any supported image as 8-bit sRGB, turned upright per its EXIF orientation."""
    image = _read(path, at_least)
    image.auto_orient()
    if image.colorspace in ("cmyk", "gray"):
        image.transform_colorspace("srgb")
    image.depth = 8
    return image


def resize(image: Image, width: int, height: int, filter: str) -> None:
    """`Image.resize` of a single image, without Wand's check for an animation on every call (a
    lookup in ImageMagick's MIME table: 0.4 ms, more than many of these resizes)."""
    if not native.magick_libraries().wand.MagickResizeImage(
        image.wand, width, height, FILTER_TYPES.index(filter), ctypes.c_double(1.0)
    ):
        image.raise_exception()
    native.magick_libraries().wand.MagickSetSize(image.wand, width, height)


def _fit(width: int, height: int, box_width: int, box_height: int, cover: bool) -> tuple[int, int]:
    """Scaled size that fits inside (or, with cover, fills) the box, aspect ratio kept."""
    scale_w, scale_h = box_width / width, box_height / height
    scale = max(scale_w, scale_h) if cover else min(scale_w, scale_h)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_background(
    source: Path, width: int, height: int, canvas: tuple[int, int] | None = None
) -> Image:
    """The frame background alone (see `framed_background`)."""
    frame, _ = framed_background(source, width, height, canvas)
    return frame


def framed_background(
    source: Path, width: int, height: int, canvas: tuple[int, int] | None = None
) -> tuple[Image, Placement]:
    """The frame background, opaque 8-bit RGB: the picture placed in the frame toward its
    subject (services/media/framing.py) over a blurred and darkened fill of itself; and where
    the picture and its subject are.

    With `canvas` (the zoom's larger background, see services/zoom.py) the image is that size:
    the fill covers all of it and the picture is placed in the width x height view centred on
    it."""
    canvas_w, canvas_h = canvas or (width, height)
    # Ask for enough pixels to fill the frame whichever way the picture is turned.
    side = max(canvas_w, canvas_h)
    with _load_upright_rgb(source, (side, side)) as picture:
        placement = place(picture.size, (width, height), subject_of(picture))
        frame = _blurred_fill(picture, width, height, canvas_w, canvas_h)
        try:
            _place_picture(frame, picture, placement, canvas_w, canvas_h)
            frame.alpha_channel = "remove"
        except BaseException:
            frame.close()
            raise
    return frame, placement


def _place_picture(
    frame: Image, picture: Image, placement: Placement, canvas_w: int, canvas_h: int
) -> None:
    """The picture scaled and laid on the frame where `placement` says, cut to the view.
    Enlarged, it is scaled with Mitchell's filter: Lanczos's sharper one rings, leaving light
    halos around the dark outlines of a small drawing enlarged 3-5 times."""
    view_w, view_h = placement.view
    scaled_w, scaled_h = placement.scaled
    enlarging = placement.enlargement > SOFT_ENLARGEMENT
    resize(picture, scaled_w, scaled_h, filter="mitchell" if enlarging else "lanczos")
    left, top = placement.offset
    if scaled_w > view_w or scaled_h > view_h:
        picture.crop(
            left=max(0, -left),
            top=max(0, -top),
            width=min(scaled_w, view_w),
            height=min(scaled_h, view_h),
        )
        left, top = max(0, left), max(0, top)
    frame.composite(
        picture, left=(canvas_w - view_w) // 2 + left, top=(canvas_h - view_h) // 2 + top
    )


def subject_of(picture: Image) -> Subject:
    """The picture's subject (services/media/subject.py), from a thumbnail of it."""
    with picture.clone() as thumbnail:
        thumbnail.background_color = Color(BLACK)
        thumbnail.alpha_channel = "remove"
        thumb_w, thumb_h = _fit(
            picture.width, picture.height, THUMBNAIL_SIDE, THUMBNAIL_SIDE, False
        )
        resize(thumbnail, thumb_w, thumb_h, filter="triangle")
        thumbnail.depth = 8
        pixels = np.frombuffer(thumbnail.make_blob("rgb"), dtype=np.uint8)
    return find_subject(pixels.reshape(thumb_h, thumb_w, 3))


# The fill: darkened by scaling every channel toward black and made a little greyer (mixed 20 %
# toward its own brightness, Rec. 709 weights), in one colour matrix. An HSL modulate darkens by
# keeping the saturation, which is relative to lightness: a pale sky (170,205,245) came out royal
# blue (35,91,155). Scaling toward black keeps each colour's saturation, and the mix lowers it:
# the fill is never more saturated than the picture.
FILL_BRIGHTNESS = 0.45
FILL_COLOUR = 0.8
_LUMA = (0.2126, 0.7152, 0.0722)
FILL_MATRIX = [
    [
        FILL_BRIGHTNESS * ((FILL_COLOUR if row == column else 0.0) + (1 - FILL_COLOUR) * weight)
        for column, weight in enumerate(_LUMA)
    ]
    for row in range(3)
]


def _blurred_fill(picture: Image, width: int, height: int, canvas_w: int, canvas_h: int) -> Image:
    """The fill behind the picture, canvas-sized: the picture scaled down hard, blurred and
    darkened at that small size (cheap, and smooth), then scaled up to cover the canvas."""
    fill = picture.clone()
    try:
        fill.background_color = Color(BLACK)
        fill.alpha_channel = "remove"
        small_w, small_h = _fit(fill.width, fill.height, width // 12, height // 12, True)
        resize(fill, small_w, small_h, filter="triangle")
        fill.blur(radius=0, sigma=2.0)
        fill.color_matrix(FILL_MATRIX)
        cover_w, cover_h = _fit(small_w, small_h, canvas_w, canvas_h, True)
        resize(fill, cover_w, cover_h, filter="triangle")
        # Centred: the part of it that the canvas shows.
        fill.crop(
            left=(cover_w - canvas_w + 1) // 2,
            top=(cover_h - canvas_h + 1) // 2,
            width=canvas_w,
            height=canvas_h,
        )
    except BaseException:
        fill.close()
        raise
    return fill


def compose_background(
    source: Path, width: int, height: int, target: Path, canvas: tuple[int, int] | None = None
) -> Placement:
    """Write the frame background (`framed_background`) to `target`; return the placement."""
    frame, placement = framed_background(source, width, height, canvas)
    with frame:
        _save_frame(frame, target)
    return placement


def _save_frame(image: Image, target: Path) -> None:
    """An opaque frame for ffmpeg, uncompressed (.ppm) or PNG, by the target's suffix."""
    if target.suffix == ".ppm":
        image.format = "ppm"
        image.save(filename=str(target))
    else:
        save_png(image, target)


def save_png(image: Image, target: Path) -> None:
    image.format = "png"
    image.compression_quality = 10  # zlib level 1: these files live for seconds
    image.save(filename=str(target))
