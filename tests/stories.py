"""Small synthetic stories for tests: solid-colour pictures and short captions, built on demand.

Each part's picture is one flat, distinct colour, so a test can sample a frame and tell which
part is on screen. Images are made with ImageMagick (through Wand) in any format or mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from wand.color import Color
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


@dataclass
class PartSpec:
    captions: list[str]
    colour: tuple[int, int, int] | None = None
    size: tuple[int, int] = (320, 240)
    image_name: str = "image.png"


@dataclass
class StorySpec:
    parts: dict[int, PartSpec] = field(default_factory=dict)


def write_picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    with Image(
        width=size[0], height=size[1], background=Color("rgb({},{},{})".format(*colour))
    ) as img:
        img.format = path.suffix.lstrip(".").lower().replace("jpg", "jpeg")
        img.save(filename=str(path))


def build_story(root: Path, spec: StorySpec) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index, (number, part) in enumerate(sorted(spec.parts.items())):
        folder = root / str(number)
        folder.mkdir(exist_ok=True)
        colour = part.colour or PALETTE[index % len(PALETTE)]
        write_picture(folder / part.image_name, colour, part.size)
        for k, text in enumerate(part.captions, start=1):
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
