"""Stage 4: one part's clip: its timing (services/timeline.py), its narration track, its silent
video."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services import read_along
from services.media import caption_drawing, clip_graph, fonts, highlight_drawing, zoom
from services.media.clip_graph import ClipPlan, StillSegment
from services.media.narration_track import write_part_audio
from services.settings import RenderOptions
from services.stages import PartClip, PartNarration, PartPages
from services.timeline import PartTiming, narration_timing


def plan_clip(
    pages: PartPages,
    timing: PartTiming,
    options: RenderOptions,
    highlights: list[list[StillSegment]] | None = None,
) -> ClipPlan:
    """The clip the timeline describes: each caption page, and the bare picture between them.
    With read-along, `highlights` gives each of the timeline's segments as stills cut one to the
    next (a page's highlight states); the timeline's dissolves stay where they were."""
    if pages.blank is None and any(page is None for page, _ in timing.segments):
        raise ValueError(f"part {pages.part_number}: no caption-less picture was drawn")
    if highlights is None:
        highlights = [
            [
                StillSegment(
                    image=pages.pages[page].image if page is not None else pages.blank,  # type: ignore[arg-type]
                    frames=frames,
                )
            ]
            for page, frames in timing.segments
        ]
    stills: list[StillSegment] = []
    crossfades: list[int] = []
    for index, segment in enumerate(highlights):
        if index > 0:
            crossfades.append(timing.changes[index - 1])
        crossfades += [0] * (len(segment) - 1)
        stills += segment
    return ClipPlan(
        pages=stills,
        crossfades=crossfades,
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
    lit = read_along_stills(pages, narration, timing, options)
    with _ENCODING:
        clip_graph.encode_clip(
            plan_clip(pages, timing, options, lit.segments if lit else None),
            options,
            video,
            what=f"rendering part {pages.part_number}",
        )
    for image in lit.drawn if lit else []:
        image.unlink(missing_ok=True)  # a highlight variant: done with
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
        page_words=[audio.words for audio in narration.pages] if lit else None,
        word_frames=lit.word_frames if lit else None,
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


@dataclass
class ReadAlongStills:
    """A part's segments as read-along stills (one list per segment of the timeline), and each
    page's units' first lit frames (of the part), which the VTT timestamps name."""

    segments: list[list[StillSegment]]
    word_frames: list[list[int] | None]
    drawn: list[Path]  # the highlight images, removed once the clip is encoded


def read_along_stills(
    pages: PartPages, narration: PartNarration, timing: PartTiming, options: RenderOptions
) -> ReadAlongStills | None:
    """Read-along: each caption segment of the timeline as its page's highlight states
    (services/read_along.py), each a still of the page with its lit words drawn over it
    (services/media/highlight_drawing.py); a state with nothing lit is the page itself. A word
    time counts from the page's speech start (`timing.speech_starts`); no highlight appears
    before the caption has fully faded in (`timing.clear`). None when read-along is off."""
    if not options.read_along:
        return None
    layout = replace(
        caption_drawing.caption_layout(
            options.width,
            options.height,
            options.max_caption_lines,
            scale=options.caption_size,
        ),
        position=pages.position,
    )
    style = caption_drawing.CaptionStyle(look=options.caption_style)
    page_stills: list[list[tuple[int, Path]]] = []
    word_frames: list[list[int] | None] = []
    made: list[Path] = []
    for index, (page, audio) in enumerate(zip(pages.pages, narration.pages, strict=True)):
        words = audio.words or []
        if not words:
            page_stills.append([])
            word_frames.append(None)
            continue
        states, firsts = read_along.in_part(
            words,
            narration.sample_rate,
            options.fps,
            timing.speech_starts[index],
            timing.clear[index],
        )
        word_frames.append(firsts)
        targets = [
            page.image.with_name(f"{page.image.stem}-lit{number:03d}{page.image.suffix}")
            for number in range(len(states))
        ]
        wanted = [(number, state.current) for number, state in enumerate(states) if state.current]
        highlight_drawing.draw_variants(
            caption_drawing.CaptionText(
                tuple(page.lines), fonts.CaptionFont(page.font, page.font_language)
            ),
            page.text,
            layout,
            page.image,
            [[(words[j].start, words[j].end) for j in unit] for _, unit in wanted],
            [targets[number] for number, _ in wanted],
            style,
        )
        made += [targets[number] for number, _ in wanted]
        # The frame of the part from which each state shows, and its image.
        page_stills.append(
            [
                (state.first, targets[number] if state.current else page.image)
                for number, state in enumerate(states)
            ]
        )
    if made:
        highlight_drawing.bands_in_colour(
            [page.image for page in pages.pages] + ([pages.blank] if pages.blank else [])
        )
    segments: list[list[StillSegment]] = []
    frame = 0
    for page_index, frames in timing.segments:
        image = pages.pages[page_index].image if page_index is not None else pages.blank
        shown = page_stills[page_index] if page_index is not None else []
        # Each state from its frame (at the earliest the segment's start) to the next one's.
        edges = [(frame, image)] + [(max(frame, first), still) for first, still in shown]
        edges.append((frame + frames, image))
        cut = [
            StillSegment(image=still, frames=end - begin)  # type: ignore[arg-type]
            for (begin, still), (end, _) in zip(edges, edges[1:], strict=False)
            if end > begin
        ]
        segments.append(_merged(cut))
        frame += frames
    return ReadAlongStills(segments=segments, word_frames=word_frames, drawn=made)


def _merged(stills: list[StillSegment]) -> list[StillSegment]:
    """Consecutive stills of the same image as one."""
    merged: list[StillSegment] = []
    for still in stills:
        if merged and merged[-1].image == still.image:
            merged[-1] = StillSegment(image=still.image, frames=merged[-1].frames + still.frames)
        else:
            merged.append(still)
    return merged


def discard_pages(pages: PartPages) -> None:
    """Once a part is encoded its page images are not needed: drop them now rather than when the
    run ends, since on Cloud Run the work area is held in memory (uncompressed pages are most
    of it: see deployments/README.md)."""
    for image in [*(page.image for page in pages.pages), pages.background, pages.blank]:
        if image is not None:
            image.unlink(missing_ok=True)
