"""The quickest end-to-end proof: a two-part story renders through the flow."""

from __future__ import annotations

from pathlib import Path

from services.media import ffmpeg
from services.settings import RenderOptions


def test_two_part_story_renders(prefect_harness, make_story) -> None:
    from flows.video import generate_video

    story = make_story({1: ["One small step."], 2: ["Two.", "Three and four."]})
    result = generate_video(
        assets_dir=str(story),
        options=RenderOptions(width=240, height=360, fps=12, preset="ultrafast"),
    )
    video = Path(result["video"])
    info = ffmpeg.probe(video)
    kinds = sorted(stream["codec_type"] for stream in info["streams"])
    assert kinds == ["audio", "data", "video"]  # data: the chapter titles
    assert result["pages"] == 3
