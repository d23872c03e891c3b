"""Read-along on real clips: the highlight appears on the frame of each word's onset as heard in
the audio, moves in reading order (right to left in Arabic), is read back by OCR as the word, and
never lasts less than the hold; the WebVTT timestamps are the frames shown.

Each held-out caption is a row of words spoken one sentence at a time, so every word's onset can
be measured from the narration itself (the silence before it), not taken from the code's numbers.
Parts go through the plain stage functions (draw, narrate, render the clip) at 480x720, where the
caption font is large enough for OCR in every script.
"""

from __future__ import annotations

import difflib
import subprocess
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services import timeline
from services.media import caption_drawing, ffmpeg
from services.media.speech import EspeakEngine, Narrator
from services.settings import RenderOptions
from services.stages import PartClip, PartNarration
from services.storage.folder import LocalStorage
from services.story.model import PartFiles
from tasks.captions import lay_out_part
from tasks.clips import render_part_clip
from tasks.fetch_assets import fetch_and_check_part
from tasks.narration import narrate_pages
from tests.stories import PartSpec, StorySpec, build_story

WIDTH, HEIGHT, FPS = 480, 720, 24
# language, tesseract language, words (each spoken as a sentence of its own)
HELD_OUT = {
    "english": ("en", "eng", ["Lantern.", "Harbour.", "Blanket.", "Morning."]),
    "german": ("de", "deu", ["Laterne.", "Hafen.", "Decke.", "Morgen."]),
    "arabic": ("ar", "ara", ["فانوس.", "ميناء.", "بطانية.", "صباح."]),
    # (not 毯子, blanket: tesseract reads 毯 as 巷 or 徐 even from clean pixels)
    "chinese": ("zh", "chi_sim", ["灯笼。", "港口。", "被子。", "早晨。"]),
    "thai": ("th", "tha", ["โคม.", "ท่าเรือ.", "ผ้าห่ม.", "เช้า."]),
    "hindi": ("hi", "hin", ["लालटेन।", "बंदरगाह।", "कंबल।", "सुबह।"]),
}


def _is_amber(rgb: np.ndarray) -> np.ndarray:
    red, green, blue = (rgb[..., channel].astype(int) for channel in range(3))
    return (red > 170) & (green > 110) & (green < red - 30) & (blue < green - 50)


def _band_frames(video: Path, layout: caption_drawing.CaptionLayout) -> np.ndarray:
    """Every frame's caption band (where the part's captions were placed), as RGB arrays
    (frames, rows, columns, 3)."""
    top, rows = layout.band_top, layout.band_height
    done = subprocess.run(
        [ffmpeg.binary("FFMPEG", "ffmpeg"), "-v", "error", "-i", str(video),
         "-vf", f"crop={WIDTH}:{rows}:0:{top}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, rows, WIDTH, 3)


Box = tuple[int, int, int, int]  # left, top, right, bottom (inclusive) in the band


def _appearances(lit: np.ndarray, least: int = 40) -> list[tuple[int, Box]]:
    """Each frame where a word lights up (at least `least` amber pixels not lit on the frame
    before), and the box around those new pixels."""
    found = []
    for frame in range(lit.shape[0]):
        new = lit[frame] & ~(lit[frame - 1] if frame else np.zeros_like(lit[frame]))
        if new.sum() >= least:
            rows, columns = np.nonzero(new)
            found.append(
                (frame, (int(columns.min()), int(rows.min()), int(columns.max()), int(rows.max())))
            )
    return found


def _frames_lit(lit: np.ndarray, box: Box) -> list[int]:
    """The frames where the word in `box` is lit (most of its amber pixels there)."""
    left, top, right, bottom = box
    counts = lit[:, top : bottom + 1, left : right + 1].sum(axis=(1, 2))
    return [int(frame) for frame in np.nonzero(counts >= counts.max() * 0.5)[0]]


def _heard_onsets(wav: Path, gap: float = 0.12) -> list[float]:
    with wave.open(str(wav), "rb") as audio:
        rate = audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), "<i2").astype(float)
    hop = rate // 100  # 220 samples at 22,050 Hz: 9.98 ms, so a window's time is index * hop
    count = samples.size // hop
    levels = np.sqrt((samples[: count * hop].reshape(count, hop) ** 2).mean(axis=1))
    loud = levels > levels.max() / 25
    quiet = int(gap * 100)
    return [i * hop / rate for i in np.nonzero(loud)[0] if not loud[max(0, i - quiet) : i].any()]


def _render(
    tmp_path: Path, language: str, words: list[str], **options: Any
) -> tuple[PartClip, PartNarration, caption_drawing.CaptionLayout]:
    caption = " ".join(words)
    root = build_story(tmp_path / "story", StorySpec({1: PartSpec([caption])}))
    files = PartFiles(number=1, image="1/image.png", captions=["1/1.txt"])
    checked = fetch_and_check_part(files, LocalStorage(root), tmp_path / "work")
    opts = RenderOptions(
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        language=language,
        tts="espeak",
        **options,
    )
    pages = lay_out_part(checked, opts, tmp_path / "work")
    narrator = Narrator(EspeakEngine(), tmp_path / "speech")
    narration = narrate_pages(pages, narrator, language, words=opts.read_along)
    clip = render_part_clip(pages, narration, opts, tmp_path / "work")
    layout = replace(
        caption_drawing.caption_layout(WIDTH, HEIGHT, opts.max_caption_lines),
        position=pages.position,
    )
    return clip, narration, layout


def _heard_in_video(clip: PartClip, narration: PartNarration) -> list[float]:
    """The onsets heard in the page's WAV, in seconds of the clip: a time in the WAV plus its
    speech start (the read-along contract)."""
    start = clip.speech_starts[0] / FPS
    return [start + onset for onset in _heard_onsets(narration.pages[0].wav)]


@pytest.mark.parametrize("name", HELD_OUT)
def test_highlight_follows_the_voice(tmp_path: Path, name: str) -> None:
    language, ocr_language, words = HELD_OUT[name]
    clip, narration, layout = _render(tmp_path, language, words)
    assert len(clip.speech_starts) == 1, "one page"
    heard = _heard_in_video(clip, narration)
    assert len(heard) == len(words), heard

    bands = _band_frames(clip.video, layout)
    lit = _is_amber(bands)
    appearances = _appearances(lit)
    # Words in Chinese and Thai light up piece by piece (the units espeak-ng speaks).
    assert len(appearances) >= len(words), appearances
    lit_frames = {box: _frames_lit(lit, box) for _, box in appearances}

    # Each word's first piece lights up with its onset in the audio: at most 80 ms before it, and
    # never after it (but for the detector's 10 ms window, dated from its start).
    firsts = []
    for onset in heard:
        frame = min((frame for frame, _ in appearances), key=lambda f: abs(f / FPS - onset))
        assert onset - 0.08 <= frame / FPS <= onset + 0.01, (name, frame / FPS, onset)
        firsts.append(frame)

    # Reading order: line by line, left to right in each (right to left in Arabic).
    line_height = layout.line_height
    places = [(box[1] // line_height, box[0]) for _, box in appearances]
    rtl = language == "ar"
    assert places == sorted(places, key=lambda p: (p[0], -p[1] if rtl else p[1])), places

    # No highlight shorter than the hold, and none that blinks off and on again.
    hold = 4  # frames: 150 ms at 24 fps, rounded up
    for key, frames in lit_frames.items():
        assert len(frames) >= hold, (key, frames)
        assert frames == list(range(frames[0], frames[0] + len(frames))), (key, frames)

    # OCR reads each word where the highlight was while it was spoken (all its pieces): the
    # caption's ink (white or amber) inside the box of what was lit, on a frame in between.
    for index, word in enumerate(words):
        last_lit = int(np.nonzero(lit.any(axis=(1, 2)))[0][-1]) + 1
        end = firsts[index + 1] if index + 1 < len(firsts) else last_lit
        where = np.any(lit[firsts[index] : end], axis=0)
        rows, columns = (np.nonzero(np.any(where, axis=axis))[0] for axis in (1, 0))
        frame = bands[(firsts[index] + end) // 2]
        ink = (frame.min(axis=2) >= 170) | lit[(firsts[index] + end) // 2]
        mask = np.zeros_like(where)
        box = (slice(rows[0], rows[-1] + 1), slice(max(0, columns[0] - 2), columns[-1] + 3))
        mask[box] = ink[box]
        expected = word.rstrip(".。।")
        similarity = max(
            difflib.SequenceMatcher(None, read.rstrip(".。।"), expected).ratio()
            for read in _ocr_variants(mask, ocr_language)
        )
        assert similarity >= 0.6, (name, word, list(_ocr_variants(mask, ocr_language)))


def _ocr_variants(mask: np.ndarray, language: str) -> list[str]:
    """The lit pixels, black on white around their box, read as a line and as one word, at
    twice and three times the size (a two-character word is too little for one reading)."""
    rows, columns = (np.nonzero(mask.any(axis=axis))[0] for axis in (1, 0))
    top, bottom = max(0, rows[0] - 12), rows[-1] + 12
    left, right = max(0, columns[0] - 24), columns[-1] + 24
    ink = np.where(mask[top:bottom, left:right], 0, 255).astype(np.uint8)
    reads = []
    for scale in (2, 3):
        big = np.repeat(np.repeat(ink, scale, axis=0), scale, axis=1)
        image = f"P5 {big.shape[1]} {big.shape[0]} 255\n".encode() + big.tobytes()
        for mode in ("7", "8"):
            done = subprocess.run(
                ["tesseract", "stdin", "stdout", "-l", language, "--psm", mode],
                input=image,
                capture_output=True,
                check=True,
            )
            reads.append("".join(done.stdout.decode("utf-8").split()))
    return reads


def test_vtt_timestamps_are_the_frames_shown(tmp_path: Path) -> None:
    clip, _, layout = _render(tmp_path, "en", HELD_OUT["english"][2])
    [cue] = timeline.story_cues([clip], FPS)
    stamps = [
        sum(float(part) * 60**power for power, part in enumerate(reversed(stamp.split(":"))))
        for stamp in cue.timed.split("<")[1:]
        for stamp in [stamp.split(">")[0]]
    ] if cue.timed else []  # fmt: skip
    # Every word is stamped: even the first lights after the cue starts (the speech starts after
    # the picture's lead-in).
    assert len(stamps) == 4 and stamps == sorted(stamps) and stamps[0] > cue.start
    appearances = _appearances(_is_amber(_band_frames(clip.video, layout)))
    for stamp in stamps:
        assert abs(stamp * FPS - round(stamp * FPS)) < 0.03  # a frame's own time
    # The words light up exactly on the frames the timestamps name.
    assert [frame for frame, _ in appearances] == [round(stamp * FPS) for stamp in stamps]


def test_read_along_off_draws_no_highlight(tmp_path: Path) -> None:
    clip, _, layout = _render(tmp_path, "en", HELD_OUT["english"][2], read_along=False)
    assert not _is_amber(_band_frames(clip.video, layout)).any()
    assert clip.page_words is None
    [cue] = timeline.story_cues([clip], FPS)
    assert cue.timed is None and "<" not in timeline.to_vtt([cue])


@pytest.mark.parametrize(
    "look", [{"zoom": True}, {"caption_style": "box"}], ids=["zoom-bands", "box"]
)
def test_highlight_in_the_zoomed_and_boxed_looks(tmp_path: Path, look: dict) -> None:
    """With zoom the highlight is drawn on transparent bands (grey until now), in the box look
    on the box: the words light up in amber on time there too."""
    words = HELD_OUT["german"][2]
    clip, narration, layout = _render(tmp_path, "de", words, **look)
    heard = _heard_in_video(clip, narration)
    appearances = _appearances(_is_amber(_band_frames(clip.video, layout)))
    assert len(appearances) == len(words) == len(heard), appearances
    for (frame, _), onset in zip(appearances, heard, strict=True):
        assert onset - 0.08 <= frame / FPS <= onset + 0.01, (look, frame / FPS, onset)
