"""The story as validated data: which parts exist, in which order, with which image and captions.

Validation happens in two steps, both before anything is rendered:
1. `survey_story` reads only the file listing (cheap, works the same for a folder or a bucket):
   the parts, what is wrong, and the entries that are not parts (the flow logs those, once).
2. `read_caption` / the image check run on each part's fetched files.
(`plan_story` is step 1 for callers that stop at the first problem: the benchmark, tests.)
Every problem names the part and the file, and all problems are reported together.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MUSIC_EXTENSIONS = (".mp3", ".m4a", ".aac", ".ogg", ".wav", ".flac")
TITLE_NAME = "title.txt"  # the optional title card, at the top of the story
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
    music: str | None = Field(None, description="the background music at the top, music.*")
    title: str | None = Field(None, description="the title card's text file at the top, title.txt")
    problems: list[str] = Field(default_factory=list, description="what is wrong, part by part")
    ignored: list[str] = Field(
        default_factory=list, description="entries that are not parts, images or captions"
    )


# Unicode's default-ignorable code points (DerivedCoreProperties.txt, Default_Ignorable_Code_Point):
# never drawn as glyphs of their own. Direction marks and embeddings, zero-width spaces and
# joiners, the soft hyphen, the byte order mark, variation selectors, Hangul fillers, tags.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def is_invisible(character: str) -> bool:
    """Takes no room on screen and says nothing aloud: whitespace, a control character, or a
    default-ignorable code point. The one rule for "visible text" (here) and for which characters
    need a font (services/media/pango_text.py)."""
    code = ord(character)
    if character.isspace() or unicodedata.category(character) == "Cc":
        return True
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def clean_caption_text(text: str) -> str:
    """Caption text as it is drawn, spoken and written to SRT/VTT: NFC-normalised, control
    characters removed (NUL, BEL, ESC, BS...; line breaks and tabs count as spaces), runs of
    whitespace folded to one space. Format characters that shape text (zero-width joiners,
    bidi marks) are kept. May return an empty string."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(char for char in text if char.isspace() or unicodedata.category(char) != "Cc")
    return " ".join(kept.split())


def has_visible_text(text: str) -> bool:
    """Whether any character would show on screen: not only zero-width or bidi marks."""
    return not all(is_invisible(char) for char in text)


def _clean_caption(text: str) -> str:
    cleaned = clean_caption_text(text)
    if not has_visible_text(cleaned):
        raise ValueError("a caption needs visible text")
    return cleaned


class Caption(BaseModel):
    number: int
    file: str = Field(description="path relative to the assets root, for messages")
    text: Annotated[str, AfterValidator(_clean_caption)] = Field(
        min_length=1, description="cleaned (clean_caption_text), with visible text"
    )


class Part(BaseModel):
    """A fetched, checked part: its image is a local file that decodes, its captions are text."""

    number: int
    image_file: str = Field(description="path relative to the assets root, for messages")
    image_path: Path
    image_sha256: str
    captions: list[Caption] = Field(min_length=1)


class Story(BaseModel):
    parts: list[Part] = Field(min_length=1)
    title: str | None = Field(None, description="the title card's text (read_title), if any")


def _numeric_name(name: str) -> int | None:
    return int(name) if _NUMBER.match(name) else None


def is_music(name: str) -> bool:
    """`music.mp3`, `music.ogg`, ... at the top of the story (any case of extension)."""
    path = PurePosixPath(name)
    return len(path.parts) == 1 and path.stem == "music" and path.suffix.lower() in MUSIC_EXTENSIONS


def is_title(name: str) -> bool:
    """`title.txt` at the top of the story (any case)."""
    return "/" not in name and name.lower() == TITLE_NAME


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
    files at the top, are not parts: they are listed in `ignored` (the flow logs them). Parts
    and captions are ordered as numbers (2 before 10).
    """
    by_part: dict[int, dict[str, list[str]]] = {}
    folder_names: dict[int, str] = {}
    ignored: set[str] = set()
    problems: list[str] = []
    same_part_folders: set[tuple[int, str, str]] = set()
    music = sorted(name for name in names if is_music(name))
    if len(music) > 1:
        problems.append(f"more than one music file: {', '.join(music)} (keep one)")
    titles = sorted(name for name in names if is_title(name))
    if len(titles) > 1:
        problems.append(f"more than one title file: {', '.join(titles)} (keep one)")

    for name in sorted(names):
        path = PurePosixPath(name)
        if is_music(name) or is_title(name):
            continue
        if len(path.parts) < 2:
            ignored.add(name)
            continue
        folder = path.parts[0]
        number = _numeric_name(folder)
        if number is None:
            ignored.add(folder + "/")
            continue
        if number in folder_names and folder_names[number] != folder:
            same_part_folders.add((number, folder_names[number], folder))
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

    for number, first, second in sorted(same_part_folders):
        problems.append(f"part {number}: folders {first}/ and {second}/ are the same part")

    clashing = {number for number, _, _ in same_part_folders}
    parts: list[PartFiles] = []
    for number in sorted(by_part):
        if number in clashing:
            continue  # which folder is meant is the one problem to report for this part
        files = by_part[number]
        folder = folder_names[number]
        ignored.update(files["other"])
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
    return StoryLayout(
        parts=parts,
        problems=problems,
        ignored=sorted(ignored),
        music=music[0] if music else None,
        title=titles[0] if titles else None,
    )


def read_caption(path: Path, display_name: str, part_number: int) -> str:
    """Decode one caption file: UTF-8 (a BOM and CRLF allowed), cleaned (`clean_caption_text`),
    with something visible left."""
    return _read_text(path, f"part {part_number}: {display_name}", "")


def read_title(path: Path, display_name: str) -> str:
    """Decode the title card's file like a caption (UTF-8, a BOM and CRLF allowed, cleaned): its
    lines make one title. An empty title is an error, not "no title": the file says one is
    wanted."""
    hint = " (write the story's title in it, or remove it)"
    return _read_text(path, f"title: {display_name}", hint)


def _read_text(path: Path, where: str, empty_hint: str) -> str:
    """A caption's or the title's text, cleaned; StoryError beginning with `where` (the part or
    title and the file) when it is not UTF-8, empty (with `empty_hint`), or all invisible."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StoryError(
            [f"{where} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"]
        ) from None
    cleaned = clean_caption_text(text)
    if not cleaned:
        raise StoryError([f"{where} is empty{empty_hint}"])
    if not has_visible_text(cleaned):
        raise StoryError(
            [
                f"{where} has no visible text "
                f"(only invisible characters such as zero-width spaces or direction marks)"
            ]
        )
    return cleaned


def undrawable_characters_problem(
    text: str, display_name: str, part_number: int | None, unknown: Callable[[str], list[str]]
) -> str | None:
    """The problem to report when the caption (or, `part_number` None, the title) has characters
    no installed font can draw (`unknown` names them), or None. Better to stop than to show
    boxes or an empty band."""
    missing = unknown(text)
    if not missing:
        return None
    shown = ", ".join(_describe_character(character) for character in missing[:10])
    if len(missing) > 10:
        shown += f" and {len(missing) - 10} more"
    return (
        f"{'title' if part_number is None else f'part {part_number}'}: {display_name} "
        f"has characters no installed font can draw: "
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
