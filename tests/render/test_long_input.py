"""Long input: a caption of thousands of words renders, in time and memory that grow with its
pages, not faster than that.

A part's clip is one ffmpeg run of up to MAX_PAGES_PER_RUN pages, or several runs joined without
re-encoding; the joined clip must be frame for frame what one run makes.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from wand.color import Color
from wand.image import Image

from services import timeline
from services.media import clip_graph, ffmpeg
from services.media.clip_graph import ClipPlan, StillSegment
from services.media.zoom import zoom_canvas
from services.settings import RenderOptions
from tests import media
from tests.stories import PartSpec, StorySpec, build_story

pytestmark = pytest.mark.slow


def plan_of(frames: list[int], crossfades: list[int], fade: int = 4, **extra) -> ClipPlan:
    return ClipPlan(
        pages=[
            StillSegment(image=Path(f"page-{i:03d}.ppm"), frames=n) for i, n in enumerate(frames)
        ],
        crossfades=crossfades,
        fade_frames=fade,
        **extra,
    )


def test_a_long_plan_is_cut_only_inside_a_page_still_stretch() -> None:
    rng = random.Random(7)
    frames = [rng.randint(5, 40) for _ in range(200)]
    crossfades = [rng.choice([0, 2, 4, 8]) for _ in frames[1:]]
    plan = plan_of(frames, crossfades)
    runs = clip_graph.split_plan(plan, 32)
    assert len(runs) == 7
    assert sum(run.total_frames for run, _ in runs) == plan.total_frames
    position = 0
    for run, first in runs:
        assert first == position
        assert len(run.pages) <= 33  # up to 32 whole pages and the rest of the one cut
        assert len(run.crossfades) == len(run.pages) - 1
        position += run.total_frames
    # Each cut splits one page in two: the same picture on both sides, and the frames of that
    # page add up; every cross-fade is kept whole, in one run.
    for (left, _), (right, _) in zip(runs, runs[1:], strict=False):
        assert left.pages[-1].image == right.pages[0].image
    images = [page.image for run, _ in runs for page in run.pages]
    assert len(images) == len(frames) + len(runs) - 1
    assert sorted(fade for run, _ in runs for fade in run.crossfades) == sorted(crossfades)
    assert clip_graph.split_plan(plan_of(frames[:32], crossfades[:31]), 32) == [
        (plan_of(frames[:32], crossfades[:31]), 0)
    ]


def _pages(folder: Path, count: int, alpha: bool) -> list[Path]:
    paths = []
    rng = random.Random(count)
    for index in range(count):
        path = folder / (f"band-{index:03d}.png" if alpha else f"page-{index:03d}.ppm")
        colour = "rgba({},{},{},0.7)" if alpha else "rgb({},{},{})"
        with Image(
            width=64,
            height=24 if alpha else 96,
            background=Color(colour.format(*(rng.randrange(256) for _ in range(3)))),
        ) as image:
            image.save(filename=str(path))
        paths.append(path)
    return paths


def _frame_digests(video: Path) -> list[str]:
    framemd5 = ffmpeg.binary("FFMPEG_BINARY", "ffmpeg")
    listing = subprocess.run(
        [framemd5, "-v", "error", "-i", str(video), "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in listing.splitlines() if line[:1] != "#"]


@pytest.mark.parametrize("zoom", [False, True], ids=["pages", "zoom"])
def test_a_part_rendered_in_runs_is_frame_for_frame_one_run(tmp_path, monkeypatch, zoom) -> None:
    rng = random.Random(5)
    pages = _pages(tmp_path, 40, alpha=zoom)
    background = None
    if zoom:
        background = tmp_path / "background.ppm"
        # The zoom crops from a canvas larger than the frame (services/zoom.py), as drawn for it.
        canvas = zoom_canvas(64, 96, 0.2)
        with Image(
            width=canvas.canvas_width,
            height=canvas.canvas_height,
            background=Color("rgb(20,160,90)"),
        ) as image:
            image.save(filename=str(background))
    plan = ClipPlan(
        pages=[StillSegment(image=page, frames=rng.randint(4, 9)) for page in pages],
        crossfades=[rng.choice([0, 2, 4]) for _ in pages[1:]],
        fade_frames=3,
        background=background,
        band_top=72,
        zoom_amount=0.2 if zoom else 0.0,
    )
    lossless = RenderOptions(width=64, height=96, fps=10, preset="ultrafast", crf=0)
    monkeypatch.setattr(clip_graph, "MAX_PAGES_PER_RUN", 1000)
    clip_graph.encode_clip(plan, lossless, tmp_path / "one.mp4", "one run")
    monkeypatch.setattr(clip_graph, "MAX_PAGES_PER_RUN", 8)
    clip_graph.encode_clip(plan, lossless, tmp_path / "runs.mp4", "runs")
    assert len(clip_graph.split_plan(plan, 8)) >= 4
    one, runs = _frame_digests(tmp_path / "one.mp4"), _frame_digests(tmp_path / "runs.mp4")
    assert len(one) == plan.total_frames
    assert runs == one
    assert sorted(p.name for p in tmp_path.glob("runs*.mp4")) == ["runs.mp4"]  # pieces removed


def long_caption(words: int) -> str:
    rng = random.Random(words)
    vocabulary = (
        "the cat walked along the quiet harbour wall and watched the boats come home while "
        "gulls circled over the lighthouse and the keeper lit the lamp for the night"
    ).split()
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        length = rng.randint(6, 16)
        sentence = " ".join(rng.choice(vocabulary) for _ in range(length))
        sentences.append(sentence.capitalize() + rng.choice([".", ".", ",", "!", "?"]))
    return " ".join(sentences)


def test_a_caption_of_three_thousand_words_renders_whole(
    prefect_harness, tmp_path, monkeypatch
) -> None:
    """Before, the clip's filter graph went on the command line and ffmpeg could not start:
    `[Errno 7] Argument list too long`. A wide, low frame keeps the pages few (each page is
    narrated on its own, about a quarter of a second each here); runs of 8 pages make part 1
    several ffmpeg runs, as a long caption at the usual frame size does."""
    from flows.video import generate_video

    monkeypatch.setattr(clip_graph, "MAX_PAGES_PER_RUN", 8)
    text = long_caption(3000)
    story = build_story(
        tmp_path / "story",
        StorySpec(parts={1: PartSpec([text]), 2: PartSpec(["The\x00 end.\x07\x1b[0m"])}),
    )
    options = RenderOptions(width=960, height=240, fps=5, preset="ultrafast")
    result = generate_video(assets_dir=str(story), options=options)

    video = Path(result["video"])
    cues = media.parse_srt(video.with_suffix(".srt").read_text(encoding="utf-8"))
    assert len(cues) > 3 * 8  # several ffmpeg runs for part 1
    assert result["pages"] == len(cues)
    # Every word is shown and spoken, in order: the pages put together are the caption.
    assert " ".join(cue.text.replace("\n", " ") for cue in cues[:-1]) == text
    # Control characters never reach the caption files (nor the picture, nor the narration).
    assert cues[-1].text == "The end.[0m"
    vtt = media.parse_vtt(video.with_suffix(".vtt").read_text(encoding="utf-8"))
    assert [cue.text for cue in vtt] == [cue.text for cue in cues]
    # The cues follow each other in order, and the video ends with the last one and the pace's
    # ending (the picture alone, fading out).
    for before, after in zip(cues, cues[1:], strict=False):
        assert after.start >= before.end
    info = media.inspect(video)
    assert info.frames == round((cues[-1].end + timeline.pace_of("relaxed").ending_fade) * 5)
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.video_seconds) <= 1 / 5
    # Each page is on screen while its narration is spoken, with at most the pace's opening and
    # pauses around it (checked on a sample of pages), to the end.
    pace = timeline.pace_of("relaxed")
    around = pace.opening + pace.caption_pause + pace.ending_hold + 2 / 5
    for cue in [cues[0], *random.Random(1).sample(cues[1:-1], 4), cues[-1]]:
        spoken = media.espeak_seconds(cue.text, audible=True)
        assert spoken - 0.0015 <= cue.end - cue.start <= spoken + around, cue
    wav = media.soundtrack(video, tmp_path / "sound.wav")
    samples, rate = media.read_wav_mono(wav)
    last = cues[-1]
    assert media.rms(samples, int(last.start * rate), int(last.end * rate)) > 300


@pytest.mark.parametrize("zoom", [False, True], ids=["pages", "zoom"])
def test_the_command_line_does_not_grow_with_the_pages(tmp_path, zoom) -> None:
    """Linux refuses one argument over 128 KiB and all of them over ARG_MAX: the pages and
    the filter graph go to ffmpeg in files."""
    options = RenderOptions(width=720, height=1080, fps=24)
    extra = {"background": tmp_path / "background.ppm", "zoom_amount": 0.08} if zoom else {}

    def command(pages: int) -> clip_graph.ClipCommand:
        plan = plan_of([48] * pages, [8] * (pages - 1), **extra)
        return clip_graph.build_clip_command(plan, options, tmp_path / "clip.mp4")

    one, many = command(1), command(5000)
    frames = many.args.index("-frames:v") + 1
    assert many.args[frames] == str(5000 * 48)
    assert (
        many.args[:frames] + many.args[frames + 1 :] == one.args[:frames] + one.args[frames + 1 :]
    )
    assert len(" ".join(many.args)) < 2000
    graph = many.files[tmp_path / "clip.filter.txt"]
    # 4,999 cross-fades, each made as `[crossN]` and joined once by `concat`.
    assert len(graph) > 128 * 1024 and graph.count("[cross") == 2 * 4999
    assert many.files[tmp_path / "clip.pages.txt"].count("\nfile '") == 4999
