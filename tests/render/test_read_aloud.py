"""The video is read like a storybook: measured on real renders, from frames and sound alone.

A three-part story (dark flat pictures, so a caption's light text is told from the picture by its
brightness) is rendered through the plain stage functions at the default pace, then assembled with
and without music (a 440 Hz tone, told from the voice by its frequency). Where speech is comes
from the sound's envelope, where each part's picture is fully on screen from its frames; the
timeline's own records are only used to name which chosen value a measurement must meet.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import timeline
from services.media import ffmpeg
from services.media.narration_track import make_story_soundtrack
from services.media.speech import EspeakEngine, Narrator
from services.media.wav import audible_samples
from services.settings import RenderOptions
from services.stages import AssembledVideo, PartClip
from services.storage.folder import LocalStorage
from services.story.model import plan_story
from tasks.assembly import assemble_outputs
from tasks.captions import lay_out_part
from tasks.clips import render_part_clip
from tasks.fetch_assets import fetch_and_check_part
from tasks.narration import narrate_pages
from tests import media
from tests.stories import PartSpec, StorySpec, build_story

pytestmark = pytest.mark.slow

FPS = 20
WIDTH, HEIGHT = 160, 240
OPTIONS = RenderOptions(
    width=WIDTH, height=HEIGHT, fps=FPS, preset="ultrafast", crf=12, language="en", tts="espeak"
)
PACE = timeline.pace_of(OPTIONS.pace)
DARK = [(40, 50, 120), (90, 30, 60), (30, 70, 50)]  # under the captions, darker than any text
CAPTIONS = {
    1: ["Far out in the bay stood an old lighthouse.", "At the top lived a small black cat."],
    2: ["One night, a wild storm blew in.", "Boom!", "And the great lamp went out."],
    3: ["The boat came home, and the cat slept."],
}
TONE = 440.0
WINDOW = 0.01  # seconds of sound per envelope step
SPEECH_DB = -45.0  # a window louder than this (RMS, dBFS) has speech in it


@dataclass
class Rendered:
    clips: list[PartClip]
    plain: AssembledVideo
    with_music: AssembledVideo


def _render(root: Path, options: RenderOptions, captions: dict[int, list[str]]) -> list[PartClip]:
    spec = StorySpec(
        parts={
            number: PartSpec(captions=texts, colour=DARK[index % len(DARK)])
            for index, (number, texts) in enumerate(captions.items())
        }
    )
    story = build_story(root / "story", spec)
    storage = LocalStorage(story)
    work = root / "work"
    narrator = Narrator(EspeakEngine(), root / "cache")
    planned = plan_story(storage.list_names()).parts
    clips = []
    for index, files in enumerate(planned):
        part = fetch_and_check_part(files, storage, work)
        pages = lay_out_part(part, options, work)
        narration = narrate_pages(pages, narrator, "en")
        first, last = index == 0, index == len(planned) - 1
        clips.append(render_part_clip(pages, narration, options, work, first, last))
    return clips


def _assemble(
    clips: list[PartClip], options: RenderOptions, work: Path, music: Path | None = None
) -> AssembledVideo:
    """The outputs with the story's soundtrack made from the clips (and the music), as the flow
    makes them."""
    return assemble_outputs(
        clips, options, work, make_story_soundtrack(clips, options, work, music)
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    root = tmp_path_factory.mktemp("read-aloud")
    clips = _render(root, OPTIONS, CAPTIONS)
    music = root / "music.wav"
    ffmpeg.ffmpeg("-f", "lavfi", "-i", f"sine=frequency={TONE}:duration=5", str(music))
    plain = _assemble(clips, OPTIONS, root / "plain")
    with_music = _assemble(clips, OPTIONS, root / "music", music)
    return Rendered(clips=clips, plain=plain, with_music=with_music)


@pytest.fixture(scope="module")
def envelope(rendered: Rendered, tmp_path_factory: pytest.TempPathFactory) -> list[float]:
    """The plain video's sound, RMS in dBFS per WINDOW."""
    wav = media.soundtrack(rendered.plain.video, tmp_path_factory.mktemp("heard") / "sound.wav")
    samples, rate = media.read_wav_mono(wav)
    step = round(rate * WINDOW)
    return [
        20 * math.log10(max(media.rms(samples, at, at + step), 1e-3) / 32768)
        for at in range(0, len(samples), step)
    ]


@pytest.fixture(scope="module")
def frames(rendered: Rendered) -> list[bytes]:
    width, height, grey = media.grey_frames(rendered.plain.video)
    assert (width, height) == (WIDTH, HEIGHT)
    return grey


def _speaking(envelope: list[float], start: float, end: float) -> list[float]:
    """Times (window starts) between `start` and `end` seconds with speech in them."""
    first, last = max(0, math.floor(start / WINDOW)), min(len(envelope), math.ceil(end / WINDOW))
    return [index * WINDOW for index in range(first, last) if envelope[index] > SPEECH_DB]


def _part_starts(rendered: Rendered) -> list[float]:
    return [mark.start for mark in media.chapters(rendered.plain.video)]


def _picture_level(frame: bytes) -> float:
    """Mean brightness of the picture above the captions."""
    rows = frame[: WIDTH * HEIGHT // 3]
    return sum(rows) / len(rows)


def _fully_shown(frames: list[bytes], first: int, last: int) -> tuple[int, int]:
    """The first and last frame of [first, last) where the picture is fully on screen."""
    levels = [_picture_level(frames[index]) for index in range(first, last)]
    full = max(levels)
    shown = [index for index, level in enumerate(levels) if level >= full - 1.0]
    return first + shown[0], first + shown[-1]


# --- speech and pictures --------------------------------------------------------------------------


def test_each_part_speaks_a_lead_in_after_its_picture_is_fully_on_screen(
    rendered: Rendered, envelope: list[float], frames: list[bytes]
) -> None:
    starts = [round(start * FPS) for start in _part_starts(rendered)] + [len(frames)]
    assert len(starts) == 4
    for number, (first, end) in enumerate(zip(starts, starts[1:], strict=False), start=1):
        shown_from, shown_to = _fully_shown(frames, first, end)
        assert shown_from > first, f"part {number} does not fade in"
        onset = _speaking(envelope, first / FPS, end / FPS)[0]
        assert onset - shown_from / FPS >= PACE.lead_in - 0.01, number
        if number == 1:  # the opening: music and the first picture before the first word
            assert PACE.opening - 0.01 <= onset <= PACE.opening + 0.1
        # No speech while the picture fades in or out.
        assert not _speaking(envelope, first / FPS, shown_from / FPS), number
        assert not _speaking(envelope, (shown_to + 1) / FPS, end / FPS), number


def _gaps(envelope: list[float], rendered: Rendered) -> tuple[list[float], list[float]]:
    """The silences around each caption change inside a part, and around each page turn
    (seconds from the last sound before to the first after)."""
    cues = rendered.plain.cues
    parts = _part_starts(rendered)
    inside: list[float] = []
    turns: list[float] = []
    for old, new in zip(cues, cues[1:], strict=False):
        before = _speaking(envelope, old.start, old.end)
        after = _speaking(envelope, new.start, new.end)
        gap = after[0] - (before[-1] + WINDOW)
        turn = any(abs(start - new.start) < 0.002 for start in parts)
        (turns if turn else inside).append(gap)
    return inside, turns


def test_pauses_between_captions_and_at_page_turns_are_the_chosen_ones(
    rendered: Rendered, envelope: list[float]
) -> None:
    inside, turns = _gaps(envelope, rendered)
    assert len(inside) == 3 and len(turns) == 2
    # espeak-ng begins a text up to 70 ms after its first sample; a window is 10 ms.
    slack = 0.1
    for gap in turns:
        assert PACE.page_turn - 0.02 <= gap <= PACE.page_turn + slack, turns
    short = rendered.plain.cues[3]  # "Boom!": held on screen, so the pause after it is longer
    assert short.text == "Boom!"
    assert short.end - short.start >= PACE.min_caption - 1e-6
    for index, gap in enumerate(inside):
        assert gap >= PACE.caption_pause - 0.02, inside
        if index != 2:  # the pause after "Boom!"
            assert gap <= PACE.caption_pause + slack, inside


def test_the_video_ends_after_the_last_word_with_picture_and_music_fading(
    rendered: Rendered, envelope: list[float], frames: list[bytes]
) -> None:
    duration = rendered.plain.duration_seconds
    last_word = _speaking(envelope, 0, duration)[-1] + WINDOW
    assert duration - last_word >= PACE.ending_hold + PACE.ending_fade - 0.1
    last_cue = rendered.plain.cues[-1]
    assert last_cue.end - last_word >= PACE.ending_hold - 0.1  # the last caption is held
    # Then the picture alone, fading out to black.
    ending = frames[round(last_cue.end * FPS) :]
    levels = [_picture_level(frame) for frame in ending]
    assert levels == sorted(levels, reverse=True) and levels[-1] < levels[0] / 3
    assert len(ending) / FPS >= PACE.ending_fade - 1 / FPS


# --- captions -------------------------------------------------------------------------------------


def _band(frame: bytes) -> bytes:
    return frame[WIDTH * (HEIGHT * 2 // 3) :]


def _ink(full: bytes, other: bytes) -> list[int]:
    """Band pixels that are caption text in `full` (light) and dark in `other`."""
    return [
        index for index, (a, b) in enumerate(zip(full, other, strict=True)) if a >= 180 > b + 60
    ]


def _presence(bands: list[bytes], pixels: list[int]) -> list[float]:
    """How much of a caption each band shows, 0..1: the mean brightness of its text pixels, from
    the darkest those pixels get in `bands` (the bare picture, or another caption's box over
    them) to the brightest (the caption fully shown)."""
    means = [sum(band[index] for index in pixels) / len(pixels) for band in bands]
    low, high = min(means), max(means)
    return [(mean - low) / (high - low) for mean in means]


PARTLY = 0.25  # shows a caption partly: a quarter of its contrast (a box alone stays below)
CHANGED = 0.01  # a frame differs from the one before in a caption's pixels (noise: 0.001)


def _check_caption_changes(video: AssembledVideo, grey: list[bytes], fps: int) -> int:
    """In every change between two captions of a part: the old one is gone before the new one
    starts to show, never both partly visible; and the cues name exactly those frames.
    Returns how many changes were checked."""
    checked = 0
    for old, new in zip(video.cues, video.cues[1:], strict=False):
        off, on = round(old.end * fps), round(new.start * fps)
        if on == off:  # a page turn: the next part starts with its caption
            continue
        old_full = _band(grey[(round(old.start * fps) + off) // 2])
        new_full = _band(grey[(on + round(new.end * fps)) // 2])
        first = off - 8
        window = [_band(grey[index]) for index in range(first, on + 8)]
        old_ink, new_ink = _ink(old_full, new_full), _ink(new_full, old_full)
        assert len(old_ink) > 50 and len(new_ink) > 50
        olds, news = _presence(window, old_ink), _presence(window, new_ink)
        for offset, (was, comes) in enumerate(zip(olds, news, strict=True)):
            assert not (was > PARTLY and comes > PARTLY), (
                f"{old.text!r} and {new.text!r} both show at frame {first + offset}: "
                f"{was:.2f} and {comes:.2f}"
            )
        # The cue times are the frames shown: the old caption's last frame is its cue's last,
        # nothing changes until the new one's cue starts, and it starts to show then.
        at = off - first
        assert olds[at - 1] - olds[at] > CHANGED, olds
        assert all(abs(olds[k] - olds[at]) < CHANGED for k in range(at, on - first)), olds
        assert all(abs(news[k] - news[at]) < CHANGED for k in range(at, on - first)), news
        assert news[on - first] - news[on - first - 1] > CHANGED, news
        checked += 1
    return checked


def test_captions_change_cleanly_and_the_cues_are_the_frames_shown(
    rendered: Rendered, frames: list[bytes]
) -> None:
    assert _check_caption_changes(rendered.plain, frames, FPS) == 3
    # SRT and VTT say the same, to the millisecond.
    srt = media.parse_srt(rendered.plain.srt.read_text(encoding="utf-8"))
    vtt = media.parse_vtt(rendered.plain.vtt.read_text(encoding="utf-8"))
    for cue, written, web in zip(rendered.plain.cues, srt, vtt, strict=True):
        assert abs(written.start - cue.start) < 0.001 and abs(web.end - cue.end) < 0.001


@pytest.mark.parametrize(
    "look", [{"caption_style": "box"}, {"zoom": True}, {"zoom": True, "caption_style": "box"}]
)
def test_captions_change_cleanly_in_the_box_style_and_with_zoom(tmp_path: Path, look: dict) -> None:
    options = OPTIONS.model_copy(update=look)
    clips = _render(tmp_path, options, {1: CAPTIONS[1] + ["Boom!"]})
    video = _assemble(clips, options, tmp_path / "out")
    _, _, grey = media.grey_frames(video.video)
    assert _check_caption_changes(video, grey, FPS) == 2


# --- voice and music ------------------------------------------------------------------------------

CHILDREN = [
    "Far out in the bay stood an old lighthouse.",
    "At the top lived a small black cat called Zoe.",
    "One autumn night, a wild storm blew in.",
    "The little fox looked up at the moon. It was big and round and yellow.",
    "Mia had a red balloon. She held it tight all the way to the park.",
    "Once upon a time, there was a tiny mouse who lived under the stairs.",
    "The bear yawned. It was time for his long winter sleep.",
    "Every morning the hen laid one brown egg in the straw.",
]


def _first_audible(path: Path) -> int:
    samples, rate = media.read_wav_mono(path)
    step = round(rate * WINDOW)
    level = 32768 * 10 ** (SPEECH_DB / 20)
    for at in range(0, len(samples), step):
        if media.rms(samples, at, at + step) > level:
            return at
    return len(samples)


def test_the_default_voice_reads_at_a_childs_pace(tmp_path: Path) -> None:
    """Words over the seconds from each sentence's first to its last sound: 130-150 a minute."""
    narrator = Narrator(EspeakEngine(), tmp_path)
    seconds = 0.0
    for text in CHILDREN:
        wav = narrator.narrate(text, "en")
        rate = media.read_wav_mono(wav)[1]
        seconds += (audible_samples(wav) - _first_audible(wav)) / rate
    words = sum(len(re.findall(r"\w+", text)) for text in CHILDREN)
    assert 130 <= words / seconds * 60 <= 150


def test_the_music_rises_in_page_turns(rendered: Rendered, envelope: list[float]) -> None:
    wav = media.soundtrack(rendered.with_music.video, rendered.with_music.video.with_suffix(".wav"))
    samples, rate = media.read_wav_mono(wav)
    cues = rendered.plain.cues
    for part_start in _part_starts(rendered)[1:]:
        before = _speaking(envelope, part_start - 3, part_start)[-1] + WINDOW
        after = _speaking(envelope, part_start, part_start + 3)[0]
        pause = media.decibels(media.tone_power(samples, rate, TONE, before + 0.65, after - 0.45))
        spoken = next(cue for cue in cues if cue.start >= part_start)
        middle = (spoken.start + spoken.end) / 2
        under = media.decibels(media.tone_power(samples, rate, TONE, middle - 0.3, middle + 0.3))
        assert pause >= under + 8, (part_start, pause, under)
