"""Joining part clips: the joined video keeps every frame on its exact time, part after part.

Rendered through the plain stage functions (no Prefect): many short parts at 12 fps, where a
part of N frames is not a whole number of milliseconds, so any rounding in the join would show.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from services.media.narration_track import make_story_soundtrack
from services.media.speech import EspeakEngine, Narrator
from services.settings import RenderOptions
from services.storage.folder import LocalStorage
from services.story.model import plan_story
from tasks.assembly import assemble_outputs
from tasks.captions import lay_out_part
from tasks.clips import render_part_clip
from tasks.fetch_assets import fetch_and_check_part
from tasks.narration import narrate_pages
from tests.media import inspect

OPTIONS = RenderOptions(
    width=160, height=240, fps=12, preset="ultrafast", language="en", tts="espeak"
)


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    from tests.stories import PartSpec, StorySpec, build_story

    root = tmp_path_factory.mktemp("join")
    story = build_story(
        root / "story",
        StorySpec(parts={n: PartSpec(captions=[f"Hi number {n}."]) for n in range(1, 9)}),
    )
    storage = LocalStorage(story)
    work = root / "work"
    narrator = Narrator(EspeakEngine(), root / "cache")
    clips = []
    for files in plan_story(storage.list_names()).parts:
        part = fetch_and_check_part(files, storage, work)
        pages = lay_out_part(part, OPTIONS, work)
        clips.append(render_part_clip(pages, narrate_pages(pages, narrator, "en"), OPTIONS, work))
    assembled = assemble_outputs(clips, OPTIONS, work, make_story_soundtrack(clips, OPTIONS, work))
    return assembled.video, [clip.frames for clip in clips]


def test_joined_video_has_every_frame_at_the_exact_rate(joined) -> None:
    video, part_frames = joined
    info = inspect(video)
    assert info.frames == sum(part_frames)
    assert info.frame_rate == Fraction(12)
    assert info.video_seconds == pytest.approx(sum(part_frames) / 12, abs=1e-6)


def test_parts_of_odd_frame_counts_were_joined(joined) -> None:
    _, part_frames = joined
    # The case that drifted: parts whose length is not a whole number of milliseconds.
    assert any(frames % 3 for frames in part_frames)
