"""The story as validated data: which parts exist, in which order, with which image and captions.

Validation happens in two steps, both before anything is rendered:
1. `plan_story` reads only the file listing (cheap, works the same for a folder or a bucket).
2. `read_caption` / the image check run on each part's fetched files.
Every problem names the part and the file, and all problems are reported together.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
_NUMBER = re.compile(r"^[0-9]+$")


class StoryError(ValueError):
    """The story cannot be rendered as it is; the message says which part and file, and why."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:
            message = f"story is not valid: {problems[0]}"
        else:
            message = f"story has {len(problems)} problems: " + "; ".join(problems)
        super().__init__(message)


class PartFiles(BaseModel):
    """Where one part's files are, relative to the assets root (posix paths)."""

    number: int = Field(ge=0)
    image: str
    captions: list[str] = Field(min_length=1, description="ordered by caption number")


class StoryLayout(BaseModel):
    parts: list[PartFiles] = Field(description="usable parts, ordered by part number")
    problems: list[str] = Field(default_factory=list, description="what is wrong, part by part")


class Caption(BaseModel):
    number: int
    file: str = Field(description="path relative to the assets root, for messages")
    text: str = Field(min_length=1)


class Part(BaseModel):
    """A fetched, checked part: its image is a local file that decodes, its captions are text."""

    number: int
    image_file: str = Field(description="path relative to the assets root, for messages")
    image_path: Path
    image_sha256: str
    captions: list[Caption] = Field(min_length=1)


class Story(BaseModel):
    parts: list[Part] = Field(min_length=1)


def _numeric_name(name: str) -> int | None:
    return int(name) if _NUMBER.match(name) else None


def plan_story(names: list[str]) -> StoryLayout:
    """Group a flat listing of relative file paths into ordered parts, or raise StoryError."""
    layout = survey_story(names)
    if layout.problems:
        raise StoryError(layout.problems)
    return layout


def survey_story(names: list[str]) -> StoryLayout:
    """Group a flat listing of relative file paths into ordered parts, and list what is wrong.

    The usable parts are returned beside the problems, so their files can still be checked and
    every problem of the story reported at once. Folders whose name is not a number, and loose
    files at the top, are not parts: they are skipped with a log line. Parts and captions are
    ordered as numbers (2 before 10).
    """
    by_part: dict[int, dict[str, list[str]]] = {}
    folder_names: dict[int, str] = {}
    ignored: set[str] = set()
    problems: list[str] = []

    for name in sorted(names):
        path = PurePosixPath(name)
        if len(path.parts) < 2:
            ignored.add(name)
            continue
        folder = path.parts[0]
        number = _numeric_name(folder)
        if number is None:
            ignored.add(folder + "/")
            continue
        if number in folder_names and folder_names[number] != folder:
            problems.append(
                f"part {number}: folders {folder_names[number]}/ and {folder}/ are the same part"
            )
            continue
        folder_names[number] = folder
        files = by_part.setdefault(number, {"images": [], "captions": [], "other": []})
        if len(path.parts) > 2:
            files["other"].append(name)
            continue
        stem, suffix = path.stem, path.suffix.lower()
        if stem.lower() == "image" and suffix in IMAGE_EXTENSIONS:
            files["images"].append(name)
        elif suffix == ".txt" and _numeric_name(stem) is not None:
            files["captions"].append(name)
        else:
            files["other"].append(name)

    for entry in sorted(ignored):
        log.info("not a story part, ignored: %s", entry)

    parts: list[PartFiles] = []
    for number in sorted(by_part):
        files = by_part[number]
        folder = folder_names[number]
        for other in files["other"]:
            log.info("part %d: not an image or caption, ignored: %s", number, other)
        images = files["images"]
        if not images:
            problems.append(
                f"part {number}: no image in {folder}/ "
                f"(expected image.png, image.jpg, image.jpeg or image.webp)"
            )
        elif len(images) > 1:
            problems.append(f"part {number}: more than one image: {', '.join(sorted(images))}")
        captions = sorted(files["captions"], key=lambda n: int(PurePosixPath(n).stem))
        if not captions:
            problems.append(f"part {number}: no caption files in {folder}/ (expected 1.txt, ...)")
        caption_numbers = [int(PurePosixPath(n).stem) for n in captions]
        duplicates = sorted({n for n in caption_numbers if caption_numbers.count(n) > 1})
        for dup in duplicates:
            same = [n for n in captions if int(PurePosixPath(n).stem) == dup]
            problems.append(f"part {number}: captions {', '.join(same)} have the same number")
        if len(images) == 1 and captions and not duplicates:
            parts.append(PartFiles(number=number, image=images[0], captions=captions))

    if not by_part and not problems:
        problems.append(
            "no story parts found (expected numbered folders 1/, 2/, ... "
            "each with an image and 1.txt)"
        )
    return StoryLayout(parts=parts, problems=problems)


def read_caption(path: Path, display_name: str, part_number: int) -> str:
    """Decode one caption file: UTF-8 (a BOM and CRLF allowed), whitespace folded, not empty."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StoryError(
            [
                f"part {part_number}: {display_name} is not UTF-8 text "
                f"(byte 0x{raw[error.start]:02x} at offset {error.start})"
            ]
        ) from None
    folded = " ".join(text.split())
    if not folded:
        raise StoryError([f"part {part_number}: {display_name} is empty"])
    return folded


def undrawable_characters_problem(
    text: str, display_name: str, part_number: int, unknown: Callable[[str], list[str]]
) -> str | None:
    """The problem to report when the caption has characters no installed font can draw
    (`unknown` names them), or None. Better to stop than to show boxes or an empty band."""
    missing = unknown(text)
    if not missing:
        return None
    shown = ", ".join(_describe_character(character) for character in missing[:10])
    if len(missing) > 10:
        shown += f" and {len(missing) - 10} more"
    return (
        f"part {part_number}: {display_name} has characters no installed font can draw: "
        f"{shown} (remove them, or install a font that has them)"
    )


def _describe_character(character: str) -> str:
    code = f"U+{ord(character):04X}"
    category = unicodedata.category(character)
    if category == "Co":
        return f"{code} (private use)"
    if category == "Cn":
        return f"{code} (not a Unicode character)"
    name = unicodedata.name(character, "")
    return f"{code} {character!r} ({name.lower()})" if name else f"{code} {character!r}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
