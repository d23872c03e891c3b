"""Stage 4: one part's clip: frame-exact page timing, its narration track, its silent video."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services import read_along, timeline
from services.media import caption_drawing, clip_graph, fonts, highlight_drawing, zoom
from services.media.clip_graph import ClipPlan, StillSegment
from services.media.narration_track import write_part_audio
from services.settings import RenderOptions
from services.stages import PartClip, PartNarration, PartPages
from services.timeline import page_frames_of


def plan_clip(
    pages: PartPages,
    page_frames: list[int],
    options: RenderOptions,
    segments: list[list[StillSegment]] | None = None,
) -> ClipPlan:
    """The part's clip plan: each page a still, or (read-along) the page's highlight variants
    one after another (`segments`, a list per page), cut from one to the next; pages cross-fade
    as ever, over at most twice the shorter of the two stills that meet."""
    if segments is None:
        segments = [
            [StillSegment(image=page.image, frames=frames)]
            for page, frames in zip(pages.pages, page_frames, strict=True)
        ]
    stills: list[StillSegment] = []
    crossfades: list[int] = []
    for index, page_segments in enumerate(segments):
        if index > 0:
            fade = timeline.crossfade_frames(
                options.fade_seconds, options.fps, page_frames[index - 1], page_frames[index]
            )
            room = 2 * min(stills[-1].frames, page_segments[0].frames)
            crossfades.append(min(fade, room - room % 2))
        crossfades += [0] * (len(page_segments) - 1)
        stills += page_segments
    total = sum(page_frames)
    return ClipPlan(
        pages=stills,
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
    segments = read_along_segments(pages, narration, page_frames, options)
    with _ENCODING:
        clip_graph.encode_clip(
            plan_clip(pages, page_frames, options, segments),
            options,
            video,
            what=f"rendering part {pages.part_number}",
        )
    drawn = {page.image for page in pages.pages}
    for page_segments in segments or []:
        for segment in page_segments:
            if segment.image not in drawn:  # a highlight variant: done with
                segment.image.unlink(missing_ok=True)
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


def read_along_segments(
    pages: PartPages, narration: PartNarration, page_frames: list[int], options: RenderOptions
) -> list[list[StillSegment]] | None:
    """Read-along: each page as its highlight states (services/read_along.py), each a still of
    the page with its lit words drawn over it (services/media/highlight_drawing.py); a state
    with nothing lit is the page itself. None when read-along is off."""
    if not options.read_along:
        return None
    layout = caption_drawing.caption_layout(
        options.width,
        options.height,
        options.max_caption_lines,
        position=options.caption_position,
        scale=options.caption_size,
    )
    style = caption_drawing.CaptionStyle(look=options.caption_style)
    speech = timeline.speech_start_frames(page_frames, 0)
    segments: list[list[StillSegment]] = []
    page_start = 0
    for page, audio, frames, speech_start in zip(
        pages.pages, narration.pages, page_frames, speech, strict=True
    ):
        words = audio.words or []
        states = read_along.highlights(words, narration.sample_rate, options.fps, frames)
        offset = speech_start - page_start  # where in the page its speech starts
        page_start += frames
        edges = [min(frames, offset + state.first) for state in states] + [frames]
        edges[0] = 0
        lit = [state.current for state in states]
        targets = [
            page.image.with_name(f"{page.image.stem}-lit{index:03d}{page.image.suffix}")
            for index in range(len(states))
        ]
        wanted = [(index, unit) for index, unit in enumerate(lit) if unit]
        drawn = caption_drawing.CaptionText(
            tuple(page.lines), fonts.CaptionFont(page.font, page.font_language)
        )
        highlight_drawing.draw_variants(
            drawn,
            page.text,
            layout,
            page.image,
            [[(words[j].start, words[j].end) for j in unit] for _, unit in wanted],
            [targets[index] for index, _ in wanted],
            style,
        )
        page_segments = [
            StillSegment(image=targets[index] if lit[index] else page.image, frames=end - start)
            for index, (start, end) in enumerate(zip(edges, edges[1:], strict=False))
            if end > start
        ]
        segments.append(page_segments)
    return segments


def discard_pages(pages: PartPages) -> None:
    """Once a part is encoded its page images are not needed: drop them now rather than when the
    run ends, since on Cloud Run the work area is held in memory (uncompressed pages are most
    of it: see deployments/README.md)."""
    for image in [*(page.image for page in pages.pages), pages.background]:
        if image is not None:
            image.unlink(missing_ok=True)
