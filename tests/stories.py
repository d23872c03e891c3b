"""Small synthetic stories for tests: solid-colour pictures and short captions, built on demand.

Each part's picture is one flat, distinct colour, so a test can sample a frame and tell which
part is on screen. Images are made with ImageMagick (through Wand) in any format or mode:
`PartSpec.variant` picks an awkward kind of file (RGBA, palette, CMYK, EXIF-rotated), the
extension of `image_name` picks the format (png, jpg, jpeg, webp, in any case).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

# Distinct, saturated colours that survive yuv420p and a dark blurred fill.
PALETTE = [
    (220, 40, 40),
    (40, 170, 60),
    (40, 80, 220),
    (230, 200, 30),
    (200, 60, 200),
    (30, 200, 200),
    (240, 130, 20),
    (120, 60, 20),
    (250, 250, 250),
    (100, 100, 100),
    (150, 220, 90),
    (90, 30, 140),
]


# The lower half of an "exif-rotated" picture (its upper half is the part's colour).
EXIF_LOWER_COLOUR = (250, 250, 250)

Variant = Literal["plain", "rgba", "palette", "cmyk", "exif-rotated"]


@dataclass
class PartSpec:
    """One part. `size` is the picture as a viewer should see it (upright), width x height.

    variant: "plain" a flat colour; "rgba" a flat colour framed by a fully transparent border,
    saved with an alpha channel; "palette" an 8-bit colour-mapped PNG; "cmyk" a CMYK JPEG;
    "exif-rotated" a JPEG stored lying on its side with an EXIF tag that says "turn me upright",
    upper half the part's colour and lower half EXIF_LOWER_COLOUR.
    caption_numbers: file numbers of the captions (default 1, 2, 3, ...).
    """

    captions: list[str]
    colour: tuple[int, int, int] | None = None
    size: tuple[int, int] = (320, 240)
    image_name: str = "image.png"
    variant: Variant = "plain"
    caption_numbers: list[int] | None = None


@dataclass
class StorySpec:
    parts: dict[int, PartSpec] = field(default_factory=dict)


def _rgb(colour: tuple[int, int, int]) -> Color:
    return Color("rgb({},{},{})".format(*colour))


def _image_format(path: Path) -> str:
    return path.suffix.lstrip(".").lower().replace("jpg", "jpeg")


def exif_orientation_segment(orientation: int) -> bytes:
    """A JPEG APP1 segment holding a minimal EXIF block with one tag: Orientation."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)  # SHORT, one value, padded
    tiff = (
        b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + struct.pack(">I", 0)
    )
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _write_exif_rotated(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    """Upright: upper half `colour`, lower half EXIF_LOWER_COLOUR. Stored turned a quarter turn
    anticlockwise, tagged Orientation 6 ("rotate 90 clockwise to display")."""
    width, height = size
    with Image(width=width, height=height, background=_rgb(colour)) as img:
        with Drawing() as draw:
            draw.fill_color = _rgb(EXIF_LOWER_COLOUR)
            draw.rectangle(left=0, top=height // 2, right=width - 1, bottom=height - 1)
            draw(img)
        img.rotate(-90)
        img.format = "jpeg"
        data = img.make_blob()
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    path.write_bytes(data[:2] + exif_orientation_segment(6) + data[2:])


def write_picture(
    path: Path,
    colour: tuple[int, int, int],
    size: tuple[int, int],
    variant: Variant = "plain",
) -> None:
    if variant == "exif-rotated":
        _write_exif_rotated(path, colour, size)
        return
    width, height = size
    background = Color("transparent") if variant == "rgba" else _rgb(colour)
    with Image(width=width, height=height, background=background) as img:
        if variant == "rgba":
            with Drawing() as draw:
                draw.fill_color = _rgb(colour)
                draw.rectangle(
                    left=width // 6,
                    top=height // 6,
                    right=width - 1 - width // 6,
                    bottom=height - 1 - height // 6,
                )
                draw(img)
        img.format = _image_format(path)
        prefix = ""
        if variant == "rgba":
            prefix = "png32:"  # force a real alpha channel, not a palette with a transparent index
        elif variant == "palette":
            img.type = "palette"
            prefix = "png8:"
        elif variant == "cmyk":
            img.transform_colorspace("cmyk")
        img.save(filename=prefix + str(path))


def write_flat_png(
    path: Path, size: tuple[int, int], colour: tuple[int, int, int], rows: int | None = None
) -> None:
    """A flat-colour RGB PNG of any size, written directly (fast even at 20000x20000: ImageMagick
    would hold every pixel). `rows` writes only that many rows of data: a file whose header
    claims the size, for checks that must not need the pixels."""
    width, height = size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    packer = zlib.compressobj(1)
    row = b"\0" + bytes(colour) * width
    count = height if rows is None else rows
    data = b"".join(packer.compress(row) for _ in range(count)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def part_colour(spec: StorySpec, number: int) -> tuple[int, int, int]:
    """The colour a part's picture has (its own, or the palette's by its place in the story)."""
    index = sorted(spec.parts).index(number)
    return spec.parts[number].colour or PALETTE[index % len(PALETTE)]


def build_story(root: Path, spec: StorySpec) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index, (number, part) in enumerate(sorted(spec.parts.items())):
        folder = root / str(number)
        folder.mkdir(exist_ok=True)
        colour = part.colour or PALETTE[index % len(PALETTE)]
        write_picture(folder / part.image_name, colour, part.size, part.variant)
        numbers = part.caption_numbers or list(range(1, len(part.captions) + 1))
        assert len(numbers) == len(part.captions), "one caption number per caption"
        for k, text in zip(numbers, part.captions, strict=True):
            (folder / f"{k}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def make_story(tmp_path: Path) -> Callable[..., Path]:
    """make_story({1: ["caption", ...], 2: PartSpec(...)}) -> the story folder."""

    def make(parts: dict[int, list[str] | PartSpec], name: str = "story") -> Path:
        spec = StorySpec(
            parts={
                number: value if isinstance(value, PartSpec) else PartSpec(captions=value)
                for number, value in parts.items()
            }
        )
        return build_story(tmp_path / name, spec)

    return make


def draw_scene(size: tuple[int, int], subject_box: tuple[int, int, int, int] | None) -> Image:
    """A sky over a meadow and, in `subject_box` (left, top, right, bottom pixels), a small
    drawn animal: body, head, ears, eyes, dark outlines."""
    width, height = size
    image = Image(width=width, height=height, pseudo="gradient:rgb(150,190,235)-rgb(110,170,90)")
    if subject_box is not None:
        left, top, right, bottom = subject_box
        w, h = right - left, bottom - top
        with Drawing() as draw:
            draw.stroke_color = Color("rgb(40,25,15)")
            draw.stroke_width = max(2, w // 30)
            draw.fill_color = Color("rgb(150,90,50)")
            draw.ellipse((left + w * 0.45, top + h * 0.7), (w * 0.4, h * 0.28))
            draw.circle(
                (left + w * 0.3, top + h * 0.35), (left + w * 0.3 + w * 0.22, top + h * 0.35)
            )
            draw.polygon(
                [
                    (left + w * 0.12, top + h * 0.2),
                    (left + w * 0.16, top),
                    (left + w * 0.26, top + h * 0.14),
                ]
            )
            draw.polygon(
                [
                    (left + w * 0.34, top + h * 0.14),
                    (left + w * 0.44, top),
                    (left + w * 0.48, top + h * 0.2),
                ]
            )
            draw.fill_color = Color("rgb(240,230,170)")
            for eye in (0.22, 0.38):
                draw.circle(
                    (left + w * eye, top + h * 0.32), (left + w * eye + w * 0.04, top + h * 0.32)
                )
            draw(image)
    return image
