"""Stage 4: one part's clip: its timing (services/timeline.py), its narration track, its silent
video."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.media import clip_graph, zoom
from services.media.clip_graph import ClipPlan, StillSegment
from services.media.narration_track import write_part_audio
from services.settings import RenderOptions
from services.stages import PartClip, PartNarration, PartPages
from services.timeline import PartTiming, narration_timing


def plan_clip(pages: PartPages, timing: PartTiming, options: RenderOptions) -> ClipPlan:
    """The clip the timeline describes: each caption page, and the bare picture between them."""
    if pages.blank is None and any(page is None for page, _ in timing.segments):
        raise ValueError(f"part {pages.part_number}: no caption-less picture was drawn")
    return ClipPlan(
        pages=[
            StillSegment(
                image=pages.pages[page].image if page is not None else pages.blank,  # type: ignore[arg-type]
                frames=frames,
            )
            for page, frames in timing.segments
        ],
        crossfades=timing.changes,
        fade_frames=timing.fade_in,
        fade_out_frames=timing.fade_out,
        background=pages.background,
        band_top=pages.band_top,
        zoom_amount=zoom.ZOOM_AMOUNT if options.zoom else 0.0,
        zoom_focus=pages.focus,
    )


# At most one x264 encode per core at once. x264 spreads an encode over the cores by itself (about
# 1.7 of 2 here), but each part's encode starts and ends with cores idle, so on a quiet 2-core
# machine two side by side took 15.2-16.2 s for the 12-part bench story against 17.2-18.4 s one at
# a time, for the same CPU (26.9-27.6 against 26.7-28.4 s); four at a time (every stage worker)
# cost about 1 CPU s more, and more memory.
_ENCODING = threading.BoundedSemaphore(os.cpu_count() or 1)


def render_part_clip(
    pages: PartPages,
    narration: PartNarration,
    options: RenderOptions,
    work_dir: Path,
    first: bool = False,
    last: bool = False,
    after_title: bool = False,
) -> PartClip:
    """`first`/`last`: the part opens or ends the story (its opening or ending is in its clip);
    `after_title`: it follows the title card (tasks/title.py)."""
    timing = narration_timing(narration, options, first=first, last=last, after_title=after_title)
    part_dir = work_dir / f"part-{pages.part_number:04d}"
    audio = part_dir / "narration.wav"
    write_part_audio(narration, timing, options.fps, audio)
    video = part_dir / "clip.mp4"
    with _ENCODING:
        clip_graph.encode_clip(
            plan_clip(pages, timing, options),
            options,
            video,
            what=f"rendering part {pages.part_number}",
        )
    return PartClip(
        part_number=pages.part_number,
        video=video,
        audio=audio,
        frames=timing.frames,
        page_texts=[page.text for page in pages.pages],
        picture=pages.picture,
        speech_starts=timing.speech_starts,
        speech_ends=timing.speech_ends,
        captions=timing.captions,
        fade_in=timing.fade_in,
    )


@task(name="render-clip", task_run_name="render-clip-{pages.part_number}", cache_policy=NO_CACHE)
def render_clip(
    pages: PartPages,
    narration: PartNarration,
    options: RenderOptions,
    work_dir: Path,
    first: bool = False,
    last: bool = False,
    after_title: bool = False,
) -> PartClip:
    clip = render_part_clip(pages, narration, options, work_dir, first, last, after_title)
    discard_pages(pages)
    return clip


def discard_pages(pages: PartPages) -> None:
    """Once a part is encoded its page images are not needed: drop them now rather than when the
    run ends, since on Cloud Run the work area is held in memory (uncompressed pages are most
    of it: see deployments/README.md)."""
    for image in [*(page.image for page in pages.pages), pages.background, pages.blank]:
        if image is not None:
            image.unlink(missing_ok=True)
