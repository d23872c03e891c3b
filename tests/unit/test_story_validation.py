"""Story validation: which parts exist, in which order, and every way a story can be wrong.

`plan_story` works on a file listing alone; `fetch_and_check_part` checks one part's real files.
Both report every problem, each naming the part and the file.
"""

from __future__ import annotations

import os
import random
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from wand.color import Color
from wand.image import Image

from services.media import pictures
from services.storage.folder import LocalStorage
from services.story.model import Caption, StoryError, plan_story, read_caption
from tasks.fetch_assets import fetch_and_check_part
from tests.stories import PartSpec, write_flat_png

# --- plan_story: order --------------------------------------------------------------------------


def listing(parts: dict[str, list[str]]) -> list[str]:
    return [f"{folder}/{name}" for folder, names in parts.items() for name in names]


def test_parts_are_ordered_as_numbers_not_as_strings() -> None:
    names = listing({str(n): ["image.png", "1.txt"] for n in range(1, 12)})
    random.Random(3).shuffle(names)
    layout = plan_story(names)
    assert [part.number for part in layout.parts] == list(range(1, 12))
    assert [part.image for part in layout.parts][:3] == [
        "1/image.png",
        "2/image.png",
        "3/image.png",
    ]


def test_two_before_ten() -> None:
    layout = plan_story(["10/image.png", "10/1.txt", "2/image.png", "2/1.txt"])
    assert [part.number for part in layout.parts] == [2, 10]


def test_captions_are_ordered_as_numbers() -> None:
    layout = plan_story(["1/image.png", "1/10.txt", "1/2.txt", "1/1.txt", "1/11.txt", "1/3.txt"])
    assert layout.parts[0].captions == ["1/1.txt", "1/2.txt", "1/3.txt", "1/10.txt", "1/11.txt"]


def test_leading_zeros_are_the_same_numbers() -> None:
    layout = plan_story(["010/image.png", "010/01.txt", "9/image.png", "9/1.txt"])
    assert [part.number for part in layout.parts] == [9, 10]
    assert layout.parts[1].captions == ["010/01.txt"]


@pytest.mark.parametrize(
    "image", ["image.png", "image.PNG", "IMAGE.jpg", "image.JPEG", "Image.jpeg", "image.webp"]
)
def test_image_extensions_in_any_case(image: str) -> None:
    assert plan_story([f"1/{image}", "1/1.txt"]).parts[0].image == f"1/{image}"


def test_entries_that_are_not_parts_are_listed_as_ignored() -> None:
    names = [
        ".DS_Store",
        "video.mp4",
        "video.json",
        "notes/plan.txt",
        "notes/1/image.png",
        "draft-3/image.png",
        "1/image.png",
        "1/1.txt",
        "1/.DS_Store",
        "1/notes.txt",
        "1/thumb.png",
        "2/image.jpg",
        "2/1.txt",
    ]
    layout = plan_story(names)
    assert [(p.number, p.image, p.captions) for p in layout.parts] == [
        (1, "1/image.png", ["1/1.txt"]),
        (2, "2/image.jpg", ["2/1.txt"]),
    ]
    # The flow logs them from the layout, once (its own logger reaches the run's log and the
    # command line's stderr: tests/render/test_cli.py).
    assert layout.ignored == [
        ".DS_Store",
        "1/.DS_Store",
        "1/notes.txt",
        "1/thumb.png",
        "draft-3/",
        "notes/",
        "video.json",
        "video.mp4",
    ]


# --- plan_story: problems -----------------------------------------------------------------------


def problems_of(names: list[str]) -> list[str]:
    with pytest.raises(StoryError) as raised:
        plan_story(names)
    error = raised.value
    # The message carries every problem, so the one-line CLI/record error is complete.
    for problem in error.problems:
        assert problem in str(error)
    return error.problems


@pytest.mark.parametrize(
    "names", [[], [".DS_Store", "video.mp4", "notes/a.txt"], ["cover/image.png", "cover/1.txt"]]
)
def test_no_parts_at_all(names: list[str]) -> None:
    (problem,) = problems_of(names)
    assert "no story parts found" in problem
    assert "1/" in problem  # says what a part looks like


def test_a_part_without_an_image_names_the_part_and_folder() -> None:
    (problem,) = problems_of(["1/image.png", "1/1.txt", "2/1.txt", "2/picture.png"])
    assert problem.startswith("part 2: no image in 2/")
    assert "image.png" in problem  # says which names count


def test_a_gif_is_not_an_accepted_image() -> None:
    (problem,) = problems_of(["1/image.gif", "1/1.txt"])
    assert problem.startswith("part 1: no image")


def test_a_part_with_two_images_names_both_files() -> None:
    (problem,) = problems_of(["3/image.png", "3/image.jpg", "3/1.txt"])
    assert problem == "part 3: more than one image: 3/image.jpg, 3/image.png"


def test_a_part_without_captions_names_the_part() -> None:
    (problem,) = problems_of(["4/image.png", "4/notes.txt"])
    assert problem.startswith("part 4: no caption files in 4/")


def test_two_captions_with_the_same_number() -> None:
    (problem,) = problems_of(["1/image.png", "1/1.txt", "1/01.txt"])
    assert problem.startswith("part 1: captions")
    assert "1/01.txt" in problem and "1/1.txt" in problem


def test_two_folders_with_the_same_number() -> None:
    problems = problems_of(["2/image.png", "2/1.txt", "02/image.png", "02/1.txt"])
    assert any("02/" in p and "2/" in p and p.startswith("part 2:") for p in problems)


def test_two_folders_with_the_same_number_are_reported_once() -> None:
    names = ["01/image.png", "01/1.txt", "01/2.txt", "1/image.png", "1/1.txt", "1/2.txt"]
    names += ["3/image.png", "3/1.txt", "03/1.txt"]
    assert problems_of(names) == [
        "part 1: folders 01/ and 1/ are the same part",
        "part 3: folders 03/ and 3/ are the same part",
    ]


def test_several_problems_are_all_reported_at_once() -> None:
    names = ["1/image.png", "1/1.txt", "2/1.txt", "3/image.png", "3/image.webp", "3/1.txt"]
    names.append("4/image.png")
    problems = problems_of(names)
    assert [p.split(":")[0] for p in problems] == ["part 2", "part 3", "part 4"]
    with pytest.raises(StoryError, match=r"^story has 3 problems: part 2: .*; part 3: .*; part 4"):
        plan_story(names)


# --- read_caption -------------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "1.txt"
    path.write_bytes(data)
    return path


def test_caption_with_bom_and_crlf_reads_as_plain_text(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffZoë’s café —\r\n«déjà vu»…\r\n\r\n".encode())
    assert read_caption(path, "2/1.txt", 2) == "Zoë’s café — «déjà vu»…"


def test_caption_whitespace_is_folded(tmp_path: Path) -> None:
    path = write(tmp_path, b"  One\ttwo\n\n  three  ")
    assert read_caption(path, "1/1.txt", 1) == "One two three"


@pytest.mark.parametrize("data", [b"", b"   \n\t \r\n", "\ufeff".encode(), "\u3000\n".encode()])
def test_empty_or_whitespace_caption_names_part_and_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(StoryError) as raised:
        read_caption(write(tmp_path, data), "5/2.txt", 5)
    assert raised.value.problems == ["part 5: 5/2.txt is empty"]


def test_caption_that_is_not_utf8_names_part_file_and_byte(tmp_path: Path) -> None:
    with pytest.raises(StoryError) as raised:
        read_caption(write(tmp_path, "Café crème".encode("latin-1")), "7/1.txt", 7)
    (problem,) = raised.value.problems
    assert problem.startswith("part 7: 7/1.txt is not UTF-8")
    assert "0xe9" in problem and "offset 3" in problem


# --- fetch_and_check_part: the real files -------------------------------------------------------


def checked(story: Path, number: int, tmp_path: Path):
    layout = plan_story(LocalStorage(story).list_names())
    files = next(part for part in layout.parts if part.number == number)
    return fetch_and_check_part(files, LocalStorage(story), tmp_path / "work")


@pytest.mark.parametrize(
    "spec",
    [
        PartSpec(["Hello."], image_name="image.png", variant="rgba"),
        PartSpec(["Hello."], image_name="image.png", variant="palette"),
        PartSpec(["Hello."], image_name="image.jpg", variant="cmyk"),
        PartSpec(["Hello."], image_name="image.jpg", variant="exif-rotated", size=(240, 320)),
        PartSpec(["Hello."], image_name="image.webp"),
        PartSpec(["Hello."], image_name="IMAGE.JPEG"),
        PartSpec(["Hello."], size=(8, 6)),
    ],
    ids=["rgba", "palette", "cmyk", "exif", "webp", "upper-case", "tiny"],
)
def test_every_supported_kind_of_image_passes_the_check(make_story, tmp_path, spec) -> None:
    story = make_story({1: spec})
    part = checked(story, 1, tmp_path)
    assert part.image_file == f"1/{spec.image_name}"
    assert part.image_path.is_file()
    assert len(part.image_sha256) == 64
    assert [c.text for c in part.captions] == ["Hello."]


def test_captions_of_a_part_come_back_in_numeric_order(make_story, tmp_path) -> None:
    story = make_story({1: PartSpec(["first", "second", "tenth"], caption_numbers=[1, 2, 10])})
    part = checked(story, 1, tmp_path)
    assert [(c.number, c.file, c.text) for c in part.captions] == [
        (1, "1/1.txt", "first"),
        (2, "1/2.txt", "second"),
        (10, "1/10.txt", "tenth"),
    ]


def test_random_bytes_named_image_png_do_not_decode(make_story, tmp_path) -> None:
    story = make_story({1: ["Hello."]})
    (story / "1" / "image.png").write_bytes(random.Random(1).randbytes(4000))
    with pytest.raises(StoryError) as raised:
        checked(story, 1, tmp_path)
    (problem,) = raised.value.problems
    assert problem.startswith("part 1: 1/image.png does not decode")


def test_a_cut_off_jpeg_is_rejected(make_story, tmp_path) -> None:
    story = make_story({1: PartSpec(["Hello."], image_name="image.jpg", size=(300, 200))})
    image = story / "1" / "image.jpg"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])
    with pytest.raises(StoryError) as raised:
        checked(story, 1, tmp_path)
    (problem,) = raised.value.problems
    assert problem.startswith("part 1: 1/image.jpg ")
    assert "cut off" in problem


def test_every_bad_file_of_a_part_is_reported(make_story, tmp_path) -> None:
    story = make_story({6: ["Fine.", "x", "y", "Also fine."]})
    (story / "6" / "image.png").write_bytes(b"not a picture at all")
    (story / "6" / "2.txt").write_bytes(b"  \n ")
    (story / "6" / "3.txt").write_bytes("Ünïcödé".encode("cp1252"))
    with pytest.raises(StoryError) as raised:
        checked(story, 6, tmp_path)
    problems = raised.value.problems
    assert len(problems) == 3, problems
    assert problems[0].startswith("part 6: 6/image.png does not decode")
    assert problems[1] == "part 6: 6/2.txt is empty"
    assert problems[2].startswith("part 6: 6/3.txt is not UTF-8")


# --- caption text cleaning ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"Hello\x00 world.", "Hello world."),
        (b"Ring\x07 the bell, \x1b[31mred\x1b[0m, back\x08space.", None),
        ("One\r\ntwo\x0bthree\x0cfour\x85five".encode(), "One two three four five"),
        ("Cafe\u0301 cre\u0300me".encode(), "Café crème"),  # NFC: one code point each
        ("\u05e9\u05dc\u05d5\u05dd\u200f!".encode(), "\u05e9\u05dc\u05d5\u05dd\u200f!"),
        ("\U0001f469\u200d\U0001f680 ok".encode(), "\U0001f469\u200d\U0001f680 ok"),
    ],
    ids=["nul", "bel-esc-bs", "line-breaks", "nfc", "bidi-mark-kept", "zwj-kept"],
)
def test_caption_text_is_cleaned_once_for_drawing_speech_and_caption_files(
    tmp_path: Path, data: bytes, expected: str | None
) -> None:
    text = read_caption(write(tmp_path, data), "1/1.txt", 1)
    assert not any(unicodedata.category(char) == "Cc" for char in text), repr(text)
    assert unicodedata.is_normalized("NFC", text)
    if expected is not None:
        assert text == expected
    else:
        assert text == "Ring the bell, [31mred[0m, backspace."
    # The model holds only cleaned text, however it is built.
    assert Caption(number=1, file="1/1.txt", text=data.decode()).text == text


@pytest.mark.parametrize(
    "text",
    ["\u200b", "\u200b\u200c\u200d\ufeff \u2060", "\u200e\u200f\u202b\u202c", "\u3164\x00\x07"],
    ids=["zwsp", "zero-width-mix", "bidi-marks-only", "filler-and-controls"],
)
def test_caption_of_only_invisible_characters_names_part_and_file(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(StoryError) as raised:
        read_caption(write(tmp_path, text.encode()), "3/2.txt", 3)
    (problem,) = raised.value.problems
    assert problem.startswith("part 3: 3/2.txt has no visible text"), problem
    with pytest.raises(ValueError, match="visible text"):
        Caption(number=2, file="3/2.txt", text=text)


def test_caption_of_only_control_characters_is_empty(tmp_path: Path) -> None:
    with pytest.raises(StoryError) as raised:
        read_caption(write(tmp_path, b"\x00\x00\x07\x1b"), "4/1.txt", 4)
    assert raised.value.problems == ["part 4: 4/1.txt is empty"]


# --- links, pipes and devices -------------------------------------------------------------------


def check_all(story: Path, tmp_path: Path) -> tuple[list[int], list[str]]:
    """Every part of the story checked, as the flow does: the good parts, every problem."""
    storage = LocalStorage(story)
    layout = plan_story(storage.list_names())
    good, problems = [], []
    for files in layout.parts:
        try:
            good.append(fetch_and_check_part(files, storage, tmp_path / "work").number)
        except StoryError as error:
            problems.extend(error.problems)
    return good, problems


def test_links_inside_and_outside_the_story_are_followed(make_story, tmp_path) -> None:
    story = make_story({1: ["One."], 2: ["Two."]})
    elsewhere = make_story({7: ["Seven."]}, name="elsewhere")
    (story / "3").symlink_to(elsewhere / "7", target_is_directory=True)  # a part folder
    (story / "4").mkdir()
    (story / "4" / "image.png").symlink_to(Path("..") / "1" / "image.png")  # a picture
    (story / "4" / "1.txt").symlink_to(story / "2" / "1.txt")
    (story / "notes").mkdir()
    (story / "notes" / "loop").symlink_to(story, target_is_directory=True)  # a loop: not walked
    names = LocalStorage(story).list_names()
    assert [n for n in names if n.startswith(("3/", "4/"))] == [
        "3/1.txt",
        "3/image.png",
        "4/1.txt",
        "4/image.png",
    ]
    assert not any(n.startswith("notes/loop/") for n in names)
    good, problems = check_all(story, tmp_path)
    assert (good, problems) == ([1, 2, 3, 4], [])


def test_links_to_nowhere_devices_and_pipes_are_problems_of_their_part(
    make_story, tmp_path
) -> None:
    story = make_story({1: ["One."], 2: ["Two."], 3: ["Three."], 4: ["Four."], 5: ["Five."]})
    (story / "1" / "image.png").unlink()
    (story / "1" / "image.png").symlink_to("/dev/zero")
    (story / "2" / "image.png").unlink()
    (story / "2" / "image.png").symlink_to(story / "2" / "gone.png")
    (story / "3" / "1.txt").unlink()
    os.mkfifo(story / "3" / "1.txt")  # reading it would block for ever
    good, problems = check_all(story, tmp_path)
    assert good == [4, 5]
    assert problems == [
        "part 1: 1/image.png is a link to /dev/zero, which is a device, not a file",
        f"part 2: 2/image.png is a link to {story / '2' / 'gone.png'}, which does not exist",
        "part 3: 3/1.txt is a pipe (FIFO), not a file",
    ]


# --- pictures: animated, damaged, big -----------------------------------------------------------


def centre_of(frame: Path) -> tuple[int, int, int]:
    with Image(filename=str(frame)) as image:
        pixel = image.export_pixels(image.width // 2, image.height // 2, 1, 1, "RGB", "char")
        return pixel[0], pixel[1], pixel[2]


def test_an_animated_picture_shows_its_first_frame(tmp_path) -> None:
    picture = tmp_path / "image.webp"
    with Image() as animation:
        for colour in ("rgb(220,40,40)", "rgb(40,80,220)"):
            with Image(width=80, height=60, background=Color(colour)) as frame:
                animation.sequence.append(frame)
        animation.format = "webp"
        animation.save(filename=str(picture))
    pictures.check_image(picture)
    pictures.compose_background(picture, 160, 240, tmp_path / "frame.ppm")
    red, green, blue = centre_of(tmp_path / "frame.ppm")
    assert red > 150 and blue < 100, (red, green, blue)


def test_a_jpeg_missing_half_its_data_is_refused(make_story, tmp_path) -> None:
    """Cut in half with its end marker put back: libjpeg fills the rest with grey and only warns."""
    story = make_story({1: ["Hello."]})
    (story / "1" / "image.png").unlink()
    with Image(width=300, height=200, pseudo="plasma:") as noise:
        noise.format = "jpeg"
        data = noise.make_blob()
    (story / "1" / "image.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    with pytest.raises(StoryError) as raised:
        checked(story, 1, tmp_path)
    (problem,) = raised.value.problems
    assert problem.startswith("part 1: 1/image.jpg is damaged or cut off"), problem
    assert "premature end of data segment" in problem


def test_a_picture_too_large_to_read_is_refused_saying_so(make_story, tmp_path) -> None:
    story = make_story({1: ["One."], 2: ["Two."]})
    write_flat_png(story / "2" / "image.png", (20000, 20000), (200, 40, 40), rows=1)
    limits = pictures.configure_decoding()
    with pytest.raises(StoryError) as raised:
        checked(story, 2, tmp_path)
    assert raised.value.problems == [
        f"part 2: 2/image.png is 20000x20000; at most {limits.max_pixels // 1_000_000} "
        f"megapixels and {limits.max_side} pixels a side can be read here "
        f"(save it smaller, e.g. 4000 pixels on its longer side)"
    ]


@pytest.fixture
def little_memory() -> Iterator[pictures.DecodeLimits]:
    """ImageMagick limited as in a run with 96 MiB: its cache holds one 3000x3000 picture."""
    yield pictures.configure_decoding(96 * 2**20)
    pictures.configure_decoding()


def test_big_pictures_read_at_once_wait_for_room_in_the_cache(little_memory, tmp_path) -> None:
    """Three pictures that do not fit ImageMagick's cache together, read by parallel parts:
    without the shared budget two of them failed with "cache resources exhausted"."""
    assert little_memory.cache_bytes < 3 * 3000 * 3000 * 8
    colours = [(220, 40, 40), (40, 170, 60), (40, 80, 220)]
    images = []
    for index, colour in enumerate(colours):
        images.append(tmp_path / f"big-{index}.png")
        write_flat_png(images[-1], (3000, 3000), colour)

    def check_and_compose(index: int) -> tuple[int, int, int]:
        pictures.check_image(images[index])
        frame = tmp_path / f"frame-{index}.ppm"
        pictures.compose_background(images[index], 160, 240, frame)
        return centre_of(frame)

    with ThreadPoolExecutor(max_workers=3) as pool:
        centres = list(pool.map(check_and_compose, range(3)))
    for centre, colour in zip(centres, colours, strict=True):
        assert max(abs(a - b) for a, b in zip(centre, colour, strict=True)) < 8, (centre, colour)
