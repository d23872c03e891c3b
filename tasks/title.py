"""The title card: the story's title (title.txt) over the first part's picture, read aloud
before part 1. A clip of its own, made like a part's (drawn, narrated, timed by
services/timeline.py's `title_timing`, encoded by the same clip graph), so it is joined, faded,
scored and kept in the render cache like one: changing the title re-renders this clip alone.

Its last frames are the first part's picture alone, framed as that part frames it (and, with
zoom, held at the zoom's first frame), and the first part, told it follows the title, starts on
that very picture: the title fades away and the story begins without a dip to black.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.media import clip_graph, zoom
from services.media.caption_drawing import CaptionStyle
from services.media.clip_graph import ClipPlan, StillSegment
from services.media.narration_track import write_part_audio
from services.media.speech import Narrator, PageNotSpoken, SpeechError
from services.media.title_drawing import draw_title
from services.media.wav import audible_samples, wav_sample_count
from services.settings import RenderOptions
from services.stages import TITLE_PART, PageAudio, PartClip, PartNarration
from services.storage.retrying import TRANSIENT_RETRIES
from services.story.model import TITLE_NAME, Part
from services.timeline import narrated_title_timing


def narrate_title(title: str, narrator: Narrator, language: str) -> PartNarration:
    """The title, spoken by the story's voice, as a one-page narration."""
    try:
        (wav,) = narrator.narrate_many([title], language)
    except PageNotSpoken as error:
        raise SpeechError(
            f"title: narrating {TITLE_NAME} failed: {error}", transient=error.transient
        ) from error.error
    page = PageAudio(wav=wav, samples=wav_sample_count(wav), audible=audible_samples(wav))
    return PartNarration(part_number=TITLE_PART, sample_rate=narrator.sample_rate, pages=[page])


def make_title_clip(
    title: str, first_part: Part, narrator: Narrator, options: RenderOptions, work_dir: Path
) -> PartClip:
    """The title card's clip and narration track."""
    title_dir = work_dir / "title"
    drawn = draw_title(
        title,
        first_part.image_path,
        options.width,
        options.height,
        title_dir / "pages",
        zoom_on=options.zoom,
        style=CaptionStyle(look=options.caption_style),
        caption_size=options.caption_size,
        language=options.language,
    )
    narration = narrate_title(title, narrator, options.language)
    timing = narrated_title_timing(narration, options)
    audio = title_dir / "narration.wav"
    write_part_audio(narration, timing, options.fps, audio)
    images = {0: drawn.title, None: drawn.blank}
    plan = ClipPlan(
        pages=[StillSegment(image=images[page], frames=frames) for page, frames in timing.segments],
        crossfades=timing.changes,
        fade_frames=timing.fade_in,
        fade_out_frames=timing.fade_out,
        background=drawn.background,
        band_top=0,
        zoom_amount=zoom.ZOOM_AMOUNT if options.zoom else 0.0,
        zoom_focus=drawn.placement.focus,
        zoom_still=True,
    )
    video = title_dir / "clip.mp4"
    clip_graph.encode_clip(plan, options, video, what="rendering the title card")
    for image in (drawn.title, drawn.blank, drawn.background):
        if image is not None:
            image.unlink(missing_ok=True)
    return PartClip(
        part_number=TITLE_PART,
        video=video,
        audio=audio,
        frames=timing.frames,
        page_texts=[title],
        speech_starts=timing.speech_starts,
        speech_ends=timing.speech_ends,
        captions=timing.captions,
        fade_in=timing.fade_in,
    )


@task(name="render-title", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def render_title(
    title: str, first_part: Part, narrator: Narrator, options: RenderOptions, work_dir: Path
) -> PartClip:
    return make_title_clip(title, first_part, narrator, options, work_dir)
