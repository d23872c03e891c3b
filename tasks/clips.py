"""Stage 4: one part's clip: frame-exact page timing, its narration track, its silent video."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services import timeline
from services.media import clip_graph, zoom
from services.media.clip_graph import ClipPlan, StillSegment
from services.media.narration_track import write_part_audio
from services.settings import RenderOptions
from services.stages import PartClip, PartNarration, PartPages
from services.timeline import page_frames_of


def plan_clip(pages: PartPages, page_frames: list[int], options: RenderOptions) -> ClipPlan:
    crossfades = [
        timeline.crossfade_frames(options.fade_seconds, options.fps, left, right)
        for left, right in zip(page_frames, page_frames[1:], strict=False)
    ]
    total = sum(page_frames)
    return ClipPlan(
        pages=[
            StillSegment(image=page.image, frames=frames)
            for page, frames in zip(pages.pages, page_frames, strict=True)
        ],
        crossfades=crossfades,
        fade_frames=timeline.part_fade_frames(options.fade_seconds, options.fps, total),
        background=pages.background,
        band_top=pages.band_top,
        zoom_amount=zoom.ZOOM_AMOUNT if options.zoom else 0.0,
    )


# At most one x264 encode per core at once. x264 spreads an encode over the cores by itself (about
# 1.7 of 2 here), but each part's encode starts and ends with cores idle, so on a quiet 2-core
# machine two side by side took 15.2-16.2 s for the 12-part bench story against 17.2-18.4 s one at
# a time, for the same CPU (26.9-27.6 against 26.7-28.4 s); four at a time (every stage worker)
# cost about 1 CPU s more, and more memory.
_ENCODING = threading.BoundedSemaphore(os.cpu_count() or 1)


def render_part_clip(
    pages: PartPages, narration: PartNarration, options: RenderOptions, work_dir: Path
) -> PartClip:
    page_frames = page_frames_of(narration, options.fps)
    part_dir = work_dir / f"part-{pages.part_number:04d}"
    audio = part_dir / "narration.wav"
    write_part_audio(narration, page_frames, options.fps, audio)
    video = part_dir / "clip.mp4"
    with _ENCODING:
        clip_graph.encode_clip(
            plan_clip(pages, page_frames, options),
            options,
            video,
            what=f"rendering part {pages.part_number}",
        )
    return PartClip(
        part_number=pages.part_number,
        video=video,
        audio=audio,
        frames=sum(page_frames),
        page_frames=page_frames,
        page_texts=[page.text for page in pages.pages],
        **_word_times(narration, options),
    )


def _word_times(narration: PartNarration, options: RenderOptions) -> dict[str, object]:
    if not options.read_along:
        return {}
    return {
        "page_words": [audio.words for audio in narration.pages],
        "word_rate": narration.sample_rate,
    }


@task(name="render-clip", task_run_name="render-clip-{pages.part_number}", cache_policy=NO_CACHE)
def render_clip(
    pages: PartPages, narration: PartNarration, options: RenderOptions, work_dir: Path
) -> PartClip:
    clip = render_part_clip(pages, narration, options, work_dir)
    discard_pages(pages)
    return clip


def discard_pages(pages: PartPages) -> None:
    """Once a part is encoded its page images are not needed: drop them now rather than when the
    run ends, since on Cloud Run the work area is held in memory (uncompressed pages are most
    of it: see deployments/README.md)."""
    for image in [*(page.image for page in pages.pages), pages.background]:
        if image is not None:
            image.unlink(missing_ok=True)
