"""The title card (title.txt): found in the listing, read and checked like a caption (every bad
title named by its file), fitted to the frame, timed before part 1, and keyed in the render cache
on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from services import timeline
from services.media.title_drawing import TITLE_MAX_LINES, TitleTooLong, fit_title
from services.settings import RenderOptions
from services.storage.folder import LocalStorage
from services.story.model import Caption, Part, StoryError, plan_story, survey_story
from tasks.fetch_assets import fetch_and_check_title

RATE = 48_000
RELAXED, NORMAL = timeline.pace_of("relaxed"), timeline.pace_of("normal")
OPTIONS = RenderOptions(width=480, height=720, language="en")

# --- the listing --------------------------------------------------------------------------------


def test_title_txt_at_the_top_is_the_title_not_an_ignored_file() -> None:
    layout = plan_story(["title.txt", "1/image.png", "1/1.txt"])
    assert layout.title == "title.txt"
    assert layout.ignored == []
    assert plan_story(["1/image.png", "1/1.txt"]).title is None
    # In a part's folder it is not the story's title.
    assert plan_story(["1/title.txt", "1/image.png", "1/1.txt"]).title is None


def test_two_title_files_are_a_problem_naming_both() -> None:
    layout = survey_story(["Title.txt", "title.txt", "1/image.png", "1/1.txt"])
    assert layout.problems == ["more than one title file: Title.txt, title.txt (keep one)"]


# --- reading and checking -----------------------------------------------------------------------


def _check(tmp_path: Path, raw: bytes, options: RenderOptions = OPTIONS) -> str | None:
    story = tmp_path / "story"
    story.mkdir(exist_ok=True)
    (story / "title.txt").write_bytes(raw)
    return fetch_and_check_title("title.txt", options, LocalStorage(story), tmp_path / "work")


def test_a_title_is_read_like_a_caption(tmp_path: Path) -> None:
    assert _check(tmp_path, "\ufeffThe Little\r\n  Fox\r\n".encode()) == "The Little Fox"
    assert _check(tmp_path, "Der kleine Fuchs, übermütig".encode()) == "Der kleine Fuchs, übermütig"
    assert fetch_and_check_title(None, OPTIONS, LocalStorage(tmp_path), tmp_path) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "title: title.txt is empty (write the story's title in it, or remove it)"),
        (b"  \r\n\t\n", "title: title.txt is empty (write the story's title in it, or remove it)"),
        ("\u200b\u200e".encode(), "title: title.txt has no visible text"),
        (b"Caf\xe9", "title: title.txt is not UTF-8 text (byte 0xe9 at offset 3)"),
        ("Fox \ue000".encode(), "title: title.txt has characters no installed font can draw"),
    ],
    ids=["empty", "whitespace", "invisible", "latin-1", "private-use"],
)
def test_a_bad_title_is_a_story_error_naming_the_file(
    tmp_path: Path, raw: bytes, message: str
) -> None:
    with pytest.raises(StoryError) as error:
        _check(tmp_path, raw)
    assert error.value.problems[0].startswith(message), error.value.problems


def test_a_long_title_is_set_smaller_and_a_too_long_one_is_refused(tmp_path: Path) -> None:
    short = fit_title("The Fox", 480, 720)
    longer = fit_title("The Little Fox Who Wanted to See the Sea at Night", 480, 720)
    assert len(short.text.lines) == 1
    assert 1 < len(longer.text.lines) <= TITLE_MAX_LINES
    assert longer.layout.font_size < short.layout.font_size
    # Never smaller than the captions (30 px at 480x720).
    assert longer.layout.font_size >= 30
    essay = " ".join(["a very long title that goes on"] * 6)
    with pytest.raises(TitleTooLong):
        fit_title(essay, 480, 720)
    with pytest.raises(StoryError) as error:
        _check(tmp_path, essay.encode())
    assert error.value.problems[0].startswith(
        "title: title.txt is too long to show on the first picture"
    )


# --- timing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("pace", [RELAXED, NORMAL], ids=["relaxed", "normal"])
@pytest.mark.parametrize("fps", [10, 20, 24, 30])
def test_the_title_is_read_then_a_page_turn_then_part_one(pace: timeline.Pace, fps: int) -> None:
    frame = 1 / fps
    title = timeline.title_timing(round(1.4 * RATE), RATE, fps, pace, 0.4)
    part = timeline.part_timing(
        [round(2.0 * RATE), round(1.5 * RATE)], RATE, fps, pace, 0.4, first=True, after_title=True
    )
    # The title card fades in from black and is read after the opening, with the title on screen.
    assert title.fade_in == round(0.4 * fps) and title.fade_out == 0
    assert abs(title.speech_starts[0] / fps - pace.opening) <= frame / 2
    on, off = title.captions[0]
    assert on == 0 and title.speech_ends[0] < off < title.frames
    assert (off - on) / fps >= pace.min_caption - frame / 2
    # It ends on the picture alone (the title gone), and part 1 starts on it: no fade from
    # black, its first caption fading in after a moment of picture.
    assert title.segments[-1][0] is None and part.segments[0][0] is None
    assert part.fade_in == 0 and part.captions[0][0] > 0
    # Part 1's first word a lead-in after its caption is on screen, a page turn after the title.
    caption_on = part.segments[0][1] + part.changes[0] // 2
    assert part.speech_starts[0] - caption_on >= round(pace.lead_in * fps)
    quiet = (title.frames - title.speech_ends[0] + part.speech_starts[0]) / fps
    assert abs(quiet - pace.page_turn) <= 2 * frame
    for timing in (title, part):
        assert sum(frames for _, frames in timing.segments) == timing.frames
        assert len(timing.changes) == len(timing.segments) - 1
    # The rest of part 1 is timed as without a title: the same pause, the same caption length.
    plain = timeline.part_timing(
        [round(2.0 * RATE), round(1.5 * RATE)], RATE, fps, pace, 0.4, first=True
    )
    shift = part.speech_starts[0] - plain.speech_starts[0]
    assert [start - shift for start in part.speech_starts] == plain.speech_starts
    assert part.frames - shift == plain.frames


def test_without_a_title_part_one_is_timed_as_before() -> None:
    speech = [round(2.0 * RATE)]
    assert timeline.part_timing(speech, RATE, 24, RELAXED, 0.4, first=True) == (
        timeline.part_timing(speech, RATE, 24, RELAXED, 0.4, first=True, after_title=False)
    )


# --- the render cache ---------------------------------------------------------------------------


def _part(captions: list[str], image_sha: str = "a" * 64) -> Part:
    return Part(
        number=1,
        image_file="1/image.png",
        image_path=Path("/nowhere/1/image.png"),
        image_sha256=image_sha,
        captions=[
            Caption(number=n, file=f"1/{n}.txt", text=text) for n, text in enumerate(captions, 1)
        ],
    )


def test_the_title_card_has_its_own_key_and_part_one_knows_it_follows_one() -> None:
    from services.media.fonts import caption_font
    from services.storage.part_store import part_key, title_key

    font, voice = caption_font(), "espeak-ng:en"
    part = _part(["A fox."])
    key = title_key("The Fox", part, OPTIONS, voice, 22_050, font)
    # The title, and the picture it is drawn over, decide it; part 1's captions do not.
    assert key == title_key("The Fox", _part(["Another caption."]), OPTIONS, voice, 22_050, font)
    assert key != title_key("The Owl", part, OPTIONS, voice, 22_050, font)
    assert key != title_key("The Fox", _part(["A fox."], "b" * 64), OPTIONS, voice, 22_050, font)
    # Part 1 after a title starts on its picture: another clip than part 1 without one.
    plain = part_key(part, OPTIONS, voice, 22_050, font, role=(True, False))
    titled = part_key(part, OPTIONS, voice, 22_050, font, role=(True, False), after_title=True)
    assert plain != titled != key
    with pytest.raises(ValueError, match="resolved, not auto"):
        title_key("The Fox", part, RenderOptions(language="auto"), voice, 22_050, font)
