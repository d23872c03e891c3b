"""Every ImageMagick (Wand) call: checking images, frame backgrounds, and caption drawing.

A frame is the story image fitted without distortion over a blurred, darkened fill of itself.
A caption band is as wide as the frame and always the same height, so the text does not jump
between pages; it sits at the bottom (default), top or middle of the frame (`CaptionLayout`).
Its look (`CaptionStyle`): light text with a dark outline and soft shadow over a dark gradient
(default), or light text on a rounded translucent box. The text is
drawn by Pango through cairo (services/pango_text.py), which shapes every script, lays
right-to-left text out right to left and takes each character from an installed font that has
it; where its lines break is decided beforehand with the same Pango font map.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import wand.resource
from wand.api import libmagick, library
from wand.color import Color
from wand.drawing import Drawing
from wand.exceptions import WandException
from wand.image import FILTER_TYPES, Image

from services import pango_text

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
)


# Colours by number, never by name: ImageMagick loads its table of colour names lazily, and
# two threads doing that at once have been seen to fail ("Unrecognized color string").
BLACK = "rgb(0,0,0)"
CLEAR = "rgba(0,0,0,0)"


class ImageProblem(ValueError):
    """The picture cannot be used; the message says why."""


@lru_cache(maxsize=4)
def caption_font(preferred: str | None = None) -> str:
    """Path of the caption font: CAPTION_FONT if set, else a bold sans with wide Latin coverage."""
    wanted = preferred or os.environ.get("CAPTION_FONT")
    if wanted:
        if Path(wanted).is_file():
            return wanted
        matcher = shutil.which("fc-match")
        if matcher:
            found = subprocess.run(
                [matcher, "-f", "%{file}", wanted], capture_output=True, text=True, check=False
            ).stdout.strip()
            if found and Path(found).is_file():
                return found
        raise ImageProblem(f"caption font {wanted!r} was not found")
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise ImageProblem("no caption font installed (fonts-dejavu-core; run scripts/setup.sh)")


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


class _ExceptionHead(ctypes.Structure):
    """The first fields of ImageMagick's ExceptionInfo (the same in ImageMagick 6 and 7)."""

    _fields_ = [
        ("severity", ctypes.c_int),
        ("error_number", ctypes.c_int),
        ("reason", ctypes.c_char_p),
        ("description", ctypes.c_char_p),
    ]


def _decoder_warning(image: Image) -> tuple[int, str]:
    """The warning the decoder left on the picture. ImageMagick keeps a decoder's warnings (such
    as libjpeg's "Corrupt JPEG data: premature end of data segment") on the image, not on the
    wand, so Wand never reports them."""
    get_exception = libmagick.GetImageException
    get_exception.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    get_exception.restype = None
    collected = libmagick.AcquireExceptionInfo()
    try:
        get_exception(library.GetImageFromMagickWand(image.wand), collected)
        head = ctypes.cast(collected, ctypes.POINTER(_ExceptionHead)).contents
        reason = (head.reason or b"").decode("utf-8", "replace")
        return head.severity, reason
    finally:
        libmagick.DestroyExceptionInfo(collected)


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
        _resize(
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


def _resize(image: Image, width: int, height: int, filter: str) -> None:
    """`Image.resize` of a single image, without Wand's check for an animation on every call (a
    lookup in ImageMagick's MIME table: 0.4 ms, more than many of these resizes)."""
    if not library.MagickResizeImage(
        image.wand, width, height, FILTER_TYPES.index(filter), ctypes.c_double(1.0)
    ):
        image.raise_exception()
    library.MagickSetSize(image.wand, width, height)


def _fit(width: int, height: int, box_width: int, box_height: int, cover: bool) -> tuple[int, int]:
    """Scaled size that fits inside (or, with cover, fills) the box, aspect ratio kept."""
    scale_w, scale_h = box_width / width, box_height / height
    scale = max(scale_w, scale_h) if cover else min(scale_w, scale_h)
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_background(
    source: Path, width: int, height: int, canvas: tuple[int, int] | None = None
) -> Image:
    """The frame background, opaque 8-bit RGB: the picture fitted, over a blurred and darkened
    fill of itself.

    With `canvas` (the zoom's larger background, see services/zoom.py) the image is that size:
    the fill covers all of it and the picture is fitted into the width x height view centred on
    it."""
    canvas_w, canvas_h = canvas or (width, height)
    # Ask for enough pixels to fill the frame whichever way the picture is turned.
    side = max(canvas_w, canvas_h)
    with _load_upright_rgb(source, (side, side)) as picture:
        frame = _blurred_fill(picture, width, height, canvas_w, canvas_h)
        try:
            fit_w, fit_h = _fit(picture.width, picture.height, width, height, cover=False)
            _resize(picture, fit_w, fit_h, filter="lanczos")
            frame.composite(picture, left=(canvas_w - fit_w) // 2, top=(canvas_h - fit_h) // 2)
            frame.alpha_channel = "remove"
        except BaseException:
            frame.close()
            raise
    return frame


def _blurred_fill(picture: Image, width: int, height: int, canvas_w: int, canvas_h: int) -> Image:
    """The fill behind the picture, canvas-sized: the picture scaled down hard, blurred and
    darkened at that small size (cheap, and smooth), then scaled up to cover the canvas."""
    fill = picture.clone()
    try:
        fill.background_color = Color(BLACK)
        fill.alpha_channel = "remove"
        small_w, small_h = _fit(fill.width, fill.height, width // 12, height // 12, True)
        _resize(fill, small_w, small_h, filter="triangle")
        fill.blur(radius=0, sigma=2.0)
        fill.modulate(brightness=45, saturation=80)
        cover_w, cover_h = _fit(small_w, small_h, canvas_w, canvas_h, True)
        _resize(fill, cover_w, cover_h, filter="triangle")
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
) -> None:
    """Write the frame background (`frame_background`) to `target`."""
    with frame_background(source, width, height, canvas) as frame:
        _save_frame(frame, target)


def _save_frame(image: Image, target: Path) -> None:
    """An opaque frame for ffmpeg, uncompressed (.ppm) or PNG, by the target's suffix."""
    if target.suffix == ".ppm":
        image.format = "ppm"
        image.save(filename=str(target))
    else:
        _save_png(image, target)


def _save_png(image: Image, target: Path) -> None:
    image.format = "png"
    image.compression_quality = 10  # zlib level 1: these files live for seconds
    image.save(filename=str(target))


Position = Literal["bottom", "top", "middle"]


@dataclass(frozen=True)
class CaptionLayout:
    """Caption geometry for one frame size (pure arithmetic; see `caption_layout`)."""

    width: int
    height: int
    font_size: int
    line_height: int
    max_lines: int
    text_width: int
    band_height: int
    bottom_margin: int  # between the text and the frame's edge it is anchored to
    position: Position = "bottom"

    @property
    def band_top(self) -> int:
        if self.position == "top":
            return 0
        if self.position == "middle":
            middle = (self.height - self.band_height) // 2
            return middle - middle % 2
        return self.height - self.band_height

    @property
    def band_bottom(self) -> int:
        return self.band_top + self.band_height

    def text_top(self, text_height: int, padding: int) -> int:
        """Where a text layer `text_height` high (lines plus `padding` above and below) goes in
        the band: its last line keeps its place at the bottom, its first at the top, the block
        its centre in the middle, whatever the number of lines."""
        if self.position == "top":
            return self.bottom_margin - padding
        if self.position == "middle":
            return (self.band_height - text_height) // 2
        return self.band_height - self.bottom_margin - (text_height - padding)


def caption_layout(
    width: int, height: int, max_lines: int, position: Position = "bottom", scale: float = 1.0
) -> CaptionLayout:
    """Sizes relative to the frame: legible on a phone, three lines in a third of it at most;
    `scale` makes the text larger or smaller."""
    font_size = max(12, round(min(width * 0.062, height * 0.042) * scale))
    line_height = round(font_size * 1.28)
    bottom_margin = round(height * 0.05)
    fade_room = round(font_size * 1.6)  # gradient ramps up above the text
    band_height = min(height, fade_room + max_lines * line_height + bottom_margin)
    band_height += band_height % 2
    return CaptionLayout(
        width=width,
        height=height,
        font_size=font_size,
        line_height=line_height,
        max_lines=max_lines,
        text_width=round(width * 0.86),
        band_height=band_height,
        bottom_margin=bottom_margin,
        position=position,
    )


@dataclass(frozen=True)
class CaptionStyle:
    """How a caption band looks; where it sits and how big the text is are `CaptionLayout`'s."""

    look: Literal["outline", "box"] = "outline"
    text_colour: str = "rgb(255,255,255)"
    outline_colour: str = "rgb(20,20,20)"
    outline_ratio: float = 1 / 22  # outline thickness per pixel of font size
    shadow: bool = True  # a soft copy of the outline, offset down and right
    band_opacity: float = 0.82  # darkness of the gradient at the frame's edge
    box_colour: str = "rgba(0,0,0,0.62)"  # the box look's translucent box
    box_radius: float = 0.45  # its corner radius, per pixel of font size
    box_padding: float = 0.5  # room around the text inside it, per pixel of font size


DEFAULT_STYLE = CaptionStyle()


@dataclass(frozen=True)
class CaptionFont:
    """The caption font as Pango names it, and the language of the text (a BCP 47 tag or None).

    Characters the font lacks are drawn from other installed fonts, chosen per character by
    fontconfig; the language steers that choice where scripts share characters (Chinese or
    Japanese forms of the same ideograph)."""

    description: str
    language: str | None = None


@lru_cache(maxsize=8)
def pango_font_description(font_file: str) -> str:
    """Pango's name for an installed font file, e.g. "DejaVu Sans, Bold". Pango finds fonts
    through fontconfig only, so the file must be where fontconfig looks."""
    query = shutil.which("fc-query")
    if query is None:
        raise ImageProblem("fontconfig is not installed (no fc-query; run scripts/setup.sh)")
    described = subprocess.run(
        [query, "--index", "0", "--format", "%{family[0]}\t%{style[0]}\n", font_file],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    family, _, style = described.partition("\t")
    if not family:
        raise ImageProblem(f"caption font {font_file!r} is not a font fontconfig can read")
    installed = subprocess.run(
        ["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    known = {Path(name).resolve() for name in installed if name}
    if Path(font_file).resolve() not in known:
        raise ImageProblem(
            f"caption font {font_file!r} is not installed where fontconfig finds fonts "
            f"(copy it to /usr/local/share/fonts and run fc-cache)"
        )
    return f"{family}, {style}" if style else family


# Scripts DejaVu Sans (the default caption font) covers in a plainer design than Noto's, which is
# what readers of these scripts are used to: their Noto family goes first for such captions.
_PREFERRED_FAMILIES = {"ARABIC": "Noto Sans Arabic", "HEBREW": "Noto Sans Hebrew"}
_CJK_LANGUAGES = ("zh", "ja", "ko")


def _scripts(text: str) -> set[str]:
    """First words of the characters' Unicode names: ARABIC, HEBREW, HIRAGANA, CJK, HANGUL..."""
    return {unicodedata.name(character, "?").split(" ")[0] for character in set(text)}


def _language_for(scripts: set[str], language: str | None) -> str | None:
    """The language Pango is told: the run's, unless the text is Chinese, Japanese or Korean
    in a run that says otherwise (then the one its script shows): ideographs take its forms."""
    tag = language if language and language != "auto" else None
    if not scripts & {"CJK", "HIRAGANA", "KATAKANA", "HANGUL"}:
        return tag
    if tag and tag.lower() == "zh":
        return "zh-CN"  # fontconfig reads a bare "zh" as neither simplified nor traditional
    if tag and tag.lower().split("-")[0] in _CJK_LANGUAGES:
        return tag
    if scripts & {"HIRAGANA", "KATAKANA"}:
        return "ja"
    if "HANGUL" in scripts:
        return "ko"
    return "zh-CN"


def caption_text_font(
    text: str = "", language: str | None = None, font_file: str | None = None
) -> CaptionFont:
    """The font for one caption: CAPTION_FONT (or the default), after the Noto family of its
    script where that reads better, and the language Pango should shape it for."""
    description = pango_font_description(font_file or caption_font())
    scripts = _scripts(text)
    preferred = [family for script, family in _PREFERRED_FAMILIES.items() if script in scripts]
    if preferred:
        description = ", ".join([*preferred, description])
    return CaptionFont(description, _language_for(scripts, language))


@dataclass(frozen=True)
class CaptionText:
    """One page of a caption as drawn: its lines in reading order, and its font."""

    lines: tuple[str, ...]
    font: CaptionFont


def caption_lines_of(layout: CaptionLayout, font: CaptionFont) -> Callable[[str], list[str]]:
    """How caption text wraps in this layout: Pango's own lines at the layout's text width."""
    measurer = pango_text.shared(font.description, layout.font_size, font.language)

    def lines_of(text: str) -> list[str]:
        return measurer.lines(text, layout.text_width)

    return lines_of


def unknown_characters(text: str) -> list[str]:
    """Characters of `text` that neither the caption font nor any other installed font has."""
    font = caption_text_font()
    return pango_text.shared(font.description, 24).unknown_characters(text)


# U+2028 breaks a line inside one paragraph: the lines of a page are laid out as one paragraph,
# so right-to-left text keeps one direction across its lines (Unicode bidi reorders per line).
_LINE_SEPARATOR = "\u2028"
_MARKUP_ESCAPES = {character: f"&#{ord(character)};" for character in "&<>%\\"}


def _pango_markup(lines: list[str], line_height: int) -> str:
    """The page as Pango markup, every line exactly `line_height` pixels high whichever fonts its
    characters come from. ImageMagick expands % escapes, backslashes and the entities &lt; &gt;
    &amp; in the text before Pango parses it (and invalid markup can crash it), so those
    characters go in as numeric references, and control characters not at all."""
    text = _LINE_SEPARATOR.join(lines)
    body = "".join(
        _MARKUP_ESCAPES.get(character, character)
        for character in text
        if unicodedata.category(character) != "Cc"
    )
    return f'<span line_height="{line_height * pango_text.PANGO_SCALE}">{body}</span>'


@dataclass
class _TextLayer:
    """A page's drawn lines (see `_text_layer`) and, when every pixel of them is the text colour
    (no colour glyphs), their alpha alone: then a copy in another colour is made from it."""

    image: Image
    alpha: bytes | None

    def in_colour(self, colour: str) -> Image:
        """A copy of the lines with every pixel `colour`, the alpha kept (glyph shapes, emoji
        included)."""
        if self.alpha is not None:
            return _one_colour(self.alpha, colour, self.image.width, self.image.height)
        copy = self.image.clone()
        _recolour(copy, colour)
        return copy


def _text_layer(page: CaptionText, layout: CaptionLayout, colour: str) -> _TextLayer:
    """The lines, centred under each other, shaped and drawn by Pango on a transparent image as
    wide as the longest line, padded by half a line above and below for marks that reach out of
    the line (Thai and Devanagari vowel signs, Arabic diacritics)."""
    padding = layout.font_size // 2
    fill = Color(colour)
    drawn = pango_text.shared(page.font.description, layout.font_size, page.font.language)
    markup = _pango_markup(list(page.lines), layout.line_height)
    # Drawn in white, every byte of cairo's premultiplied pixels is their alpha (whatever the
    # byte order), unless a glyph has colours of its own.
    pixels = drawn.draw_pixels(markup, (1.0, 1.0, 1.0, 1.0), padding)
    alpha, *others = (pixels.argb32[byte::4] for byte in range(4))
    if fill.alpha == 1.0 and all(plane == alpha for plane in others):
        return _TextLayer(_one_colour(alpha, colour, pixels.width, pixels.height), alpha)
    # Colour glyphs (emoji): drawn again, and cairo's PNG writer undoes the premultiplying.
    rgba = (fill.red, fill.green, fill.blue, fill.alpha)
    return _TextLayer(Image(blob=drawn.draw_png(markup, rgba, padding), format="png"), None)


def _one_colour(alpha: bytes, colour: str, width: int, height: int) -> Image:
    """An image all `colour` (its red, green and blue) whose alpha is `alpha`, a byte a pixel,
    row by row: the same pixels as `_recolour` gives."""
    wanted = Color(colour)
    pixels = bytearray(bytes((wanted.red_int8, wanted.green_int8, wanted.blue_int8, 0)))
    pixels *= len(alpha)
    pixels[3::4] = alpha
    return Image(blob=bytes(pixels), format="rgba", width=width, height=height, depth=8)


def _recolour(image: Image, colour: str) -> None:
    """Every pixel `colour`, the alpha channel kept (glyph shapes, emoji included)."""
    wanted = Color(colour)
    for channel, value in (("red", wanted.red), ("green", wanted.green), ("blue", wanted.blue)):
        image.evaluate(operator="set", value=value * image.quantum_range, channel=channel)


def _gradient(layout: CaptionLayout, style: CaptionStyle) -> Image:
    """The outline look's darkening: strongest at the frame edge the band sits on (both edges of
    the band in the middle), full strength over the text. Every row is one shade: it is made a
    pixel wide and then widened by copying (a band-wide gradient took 9 ms a page)."""
    canvas = _gradient_column(layout, style)
    try:
        canvas.sample(layout.width, layout.band_height)
    except BaseException:
        canvas.close()
        raise
    return canvas


def _gradient_column(layout: CaptionLayout, style: CaptionStyle) -> Image:
    band = layout.band_height
    dark = f"rgba(0,0,0,{style.band_opacity})"
    if layout.position == "middle":
        half = band // 2
        canvas = Image(width=1, height=band, background=Color(CLEAR))
        with Image(width=1, height=half, pseudo=f"gradient:{CLEAR}-{dark}") as upper:
            upper.level(black=0.0, white=0.6, channel="alpha")
            canvas.composite(upper, 0, 0)
            upper.flip()
            canvas.composite(upper, 0, band - half)
        return canvas
    canvas = Image(width=1, height=band, pseudo=f"gradient:{CLEAR}-{dark}")
    # The gradient reaches full strength 60 % of the way down the band and stays there.
    canvas.level(black=0.0, white=0.6, channel="alpha")
    if layout.position == "top":
        canvas.flip()
    return canvas


def _box(canvas: Image, layout: CaptionLayout, style: CaptionStyle, text: Image, top: int) -> None:
    """The box look's rounded translucent box, just around the lines of a text layer."""
    padding = layout.font_size // 2  # the text layer's own, above and below the lines
    room = round(layout.font_size * style.box_padding)
    left = (layout.width - text.width) // 2
    with Drawing() as draw:
        draw.fill_color = Color(style.box_colour)
        draw.rectangle(
            left=max(0, left - room // 2),
            top=max(0, top + padding - room // 2),
            right=min(layout.width - 1, left + text.width + room // 2),
            bottom=min(layout.band_height - 1, top + text.height - padding + room // 2),
            radius=layout.font_size * style.box_radius,
        )
        draw(canvas)


def _caption_band(page: CaptionText, layout: CaptionLayout, style: CaptionStyle) -> Image:
    """A transparent band as wide as the frame with the page drawn on it (`_draw_caption`)."""
    canvas = (
        Image(width=layout.width, height=layout.band_height, background=Color(CLEAR))
        if style.look == "box"
        else _gradient(layout, style)
    )
    try:
        _draw_caption(canvas, page, layout, style)
    except BaseException:
        canvas.close()
        raise
    return canvas


def _draw_caption(
    canvas: Image, page: CaptionText, layout: CaptionLayout, style: CaptionStyle
) -> None:
    """The page's lines drawn on a band (`canvas`, as wide as the frame and band high, its
    gradient already there for the outline look): soft shadow, dark outline, light text; or (the
    box look) light text on a rounded translucent box.

    The last line sits `bottom_margin` above the bottom of the band (at the top: the first line
    below its top), whatever the number of lines. Outline and shadow are made from the drawn text
    (its shape grown by a disc), so they follow every glyph, whichever font it came from."""
    if not page.lines:
        return
    boxed = style.look == "box"
    layer = _text_layer(page, layout, style.text_colour)
    with layer.image as text:
        padding = layout.font_size // 2
        left = (layout.width - text.width) // 2
        top = layout.text_top(text.height, padding)
        if boxed:
            _box(canvas, layout, style, text, top)
        radius = 0.0 if boxed else layout.font_size * style.outline_ratio
        if radius > 0:
            with layer.in_colour(style.outline_colour) as outline:
                disc = f"disk:{max(1.0, radius):.2f}"
                outline.morphology(method="dilate", kernel=disc, channel="alpha")
                if style.shadow:
                    _soft_shadow(canvas, outline, layout, left, top)
                canvas.composite(outline, left, top)
        canvas.composite(text, left, top)


def _soft_shadow(canvas: Image, outline: Image, layout: CaptionLayout, left: int, top: int) -> None:
    """The outline blurred (sigma a tenth of the font size) and offset down and right. The blur
    is done on a copy scaled down, by 2, or by 4 when the blur there is still a pixel or more
    wide (a font of 40 pixels or more): a quarter or a sixteenth of the work."""
    full_sigma = layout.font_size / 10
    shrink = 4 if full_sigma / 4 >= 1 else 2
    with outline.clone() as shadow:
        _resize(
            shadow,
            max(1, shadow.width // shrink),
            max(1, shadow.height // shrink),
            filter="triangle",
        )
        shadow.blur(radius=0, sigma=max(1 / shrink, full_sigma / shrink))
        _resize(shadow, outline.width, outline.height, filter="triangle")
        offset = max(1, layout.font_size // 14)
        canvas.composite(shadow, left + offset, top + offset)


def draw_caption_band(
    page: CaptionText, layout: CaptionLayout, target: Path, style: CaptionStyle = DEFAULT_STYLE
) -> None:
    """The caption band alone, transparent (laid over a moving picture by ffmpeg): a .pam
    (uncompressed, as ffmpeg reads it once) or a .png, by the target's suffix."""
    with _caption_band(page, layout, style) as band:
        if target.suffix == ".pam":
            _save_pam(band, target)
        else:
            _save_png(band, target)


def _is_grey(image: Image) -> bool:
    """Whether every pixel is grey: ImageMagick's own check (the PNG encoder's), which Wand
    lacks (its `type` is whatever the image was made as)."""
    identify = libmagick.IdentifyImageGray
    identify.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    identify.restype = ctypes.c_int
    collected = libmagick.AcquireExceptionInfo()
    try:
        return bool(identify(library.GetImageFromMagickWand(image.wand), collected))
    finally:
        libmagick.DestroyExceptionInfo(collected)


def _save_pam(band: Image, target: Path) -> None:
    """At the band's depth (16 bits a channel over the gradient), grey and alpha only when every
    pixel is grey (no colour glyphs): what the PNG encoder chose, so ffmpeg gets the very same
    pixels, without the 12 ms a band of compressing them."""
    if _is_grey(band):
        band.type = "grayscalematte"
    band.format = "pam"
    band.save(filename=str(target))


def compose_pages(
    background: Path | Image,
    pages: list[CaptionText],
    layout: CaptionLayout,
    targets: list[Path],
    style: CaptionStyle = DEFAULT_STYLE,
) -> None:
    """Full frames, one per caption page: the background (a file, or `frame_background`'s image)
    with the page's band over it, written as uncompressed PPM: ffmpeg reads each once, so
    compressing them is wasted work.

    Only the band changes from page to page: the band's ground (the background there, darkened
    by the gradient for the outline look) is made once, each page is drawn on a copy of it, and
    the file is the background's rows above and below the band around the band's rows."""
    if isinstance(background, Image):
        _compose_pages(background, pages, layout, targets, style)
        return
    with Image(filename=str(background)) as frame:
        _compose_pages(frame, pages, layout, targets, style)


def _compose_pages(
    frame: Image,
    pages: list[CaptionText],
    layout: CaptionLayout,
    targets: list[Path],
    style: CaptionStyle,
) -> None:
    if frame.size != (layout.width, layout.height):
        raise ValueError(f"background is {frame.size}, the layout {layout.width}x{layout.height}")
    frame.depth = 8
    rows = frame.make_blob("rgb")
    row_bytes = 3 * layout.width
    band_start, band_end = layout.band_top * row_bytes, layout.band_bottom * row_bytes
    above, under, below = rows[:band_start], rows[band_start:band_end], rows[band_end:]
    header = f"P6\n{layout.width} {layout.height}\n255\n".encode("ascii")
    with _band_ground(under, layout, style) as ground:
        for page, target in zip(pages, targets, strict=True):
            with ground.clone() as band:
                _draw_caption(band, page, layout, style)
                band.depth = 8
                with target.open("wb") as out:
                    out.write(header)
                    out.write(above)
                    out.write(band.make_blob("rgb"))
                    out.write(below)


def _band_ground(under: bytes, layout: CaptionLayout, style: CaptionStyle) -> Image:
    """The band's ground: the background's 8-bit pixels `under` it (as the frame file has them),
    and for the outline look the gradient over them."""
    ground = Image(blob=under, format="rgb", width=layout.width, height=layout.band_height, depth=8)
    try:
        if style.look != "box":
            with _gradient(layout, style) as gradient:
                ground.composite(gradient, 0, 0)
    except BaseException:
        ground.close()
        raise
    return ground
