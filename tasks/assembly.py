"""Stage 5: join the part clips, lay the soundtrack under them, write the outputs.

The soundtrack (tasks/soundtrack.py) is the narration joined as PCM, mixed with the music (if
any), brought to the target loudness as PCM and encoded to AAC a single time, so joins have no
click, gap or drift; the part clips share encoder settings. Both are copied into the video, not
re-encoded, with one chapter per part. The poster is a frame of the finished video: the first
part, with its caption.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from services import timeline
from services.media import mux
from services.media.audio_graph import Loudness
from services.settings import RenderOptions
from services.storage.base import OutputFile, Storage
from services.storage.retrying import TRANSIENT_RETRIES
from services.storage.sources import OUTPUTS, OutputNames
from services.timeline import Chapter, Cue
from tasks.clips import PartClip
from tasks.soundtrack import StorySoundtrack, make_story_soundtrack


class AssembledVideo(BaseModel):
    video: Path
    srt: Path
    vtt: Path
    poster: Path
    duration_seconds: float
    frames: int
    cues: list[Cue]
    chapters: list[Chapter]
    loudness: Loudness  # of the finished file, after the AAC encode
    music: bool

    def files(self) -> dict[str, Path]:
        """The rendered files by output key (services.storage.sources.OUTPUTS), the record aside."""
        return {"srt": self.srt, "vtt": self.vtt, "poster": self.poster, "video": self.video}


def story_cues(clips: list[PartClip], fps: int) -> list[Cue]:
    cues: list[Cue] = []
    first_frame = 0
    for clip in clips:
        times = timeline.cue_times(clip.page_frames, first_frame, fps)
        cues += [
            Cue(start=start, end=end, text=text)
            for (start, end), text in zip(times, clip.page_texts, strict=True)
        ]
        first_frame += clip.frames
    return cues


def story_chapters(clips: list[PartClip]) -> list[Chapter]:
    """One chapter per part, from its first frame, titled with the start of its first caption."""
    chapters, first_frame = [], 0
    for clip in clips:
        title = timeline.chapter_title(clip.page_texts[0]) if clip.page_texts else ""
        chapters.append(Chapter(start_frame=first_frame, frames=clip.frames, title=title))
        first_frame += clip.frames
    return chapters


def poster_frame(clip: PartClip, options: RenderOptions) -> int:
    """A frame of the part's first page clear of its fade-in and of the cross-fade that ends the
    page: the middle of that stretch."""
    first_page = clip.page_frames[0]
    clear_from = timeline.part_fade_frames(options.fade_seconds, options.fps, clip.frames)
    clear_to = first_page
    if len(clip.page_frames) > 1:
        clear_to -= (
            timeline.crossfade_frames(
                options.fade_seconds, options.fps, first_page, clip.page_frames[1]
            )
            // 2
        )
    else:
        clear_to -= clear_from  # the part fades out at its end
    if clear_to <= clear_from:
        return first_page // 2
    return (clear_from + clear_to) // 2


def assemble_outputs(
    clips: list[PartClip],
    options: RenderOptions,
    work_dir: Path,
    music: Path | None = None,
    sound: StorySoundtrack | None = None,
) -> AssembledVideo:
    """Join the clips with the story's soundtrack under them (made here unless the flow made it
    already, while the clips were encoding: tasks/soundtrack.py), and write the other outputs."""
    clips = sorted(clips, key=lambda clip: clip.part_number)
    out_dir = work_dir / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
    if sound is None:
        sound = make_story_soundtrack(list(clips), options, work_dir, music)
    frames = sum(clip.frames for clip in clips)
    if sound.samples != timeline.sample_at_frame(frames, sound.sample_rate, options.fps):
        raise ValueError(
            f"the soundtrack ({sound.samples} samples at {sound.sample_rate} Hz) is not as long "
            f"as the {frames} frames of the parts at {options.fps} fps"
        )

    chapters = story_chapters(clips)
    chapter_file = out_dir / "chapters.txt"
    chapter_file.write_text(timeline.to_ffmetadata(chapters, options.fps), encoding="utf-8")
    video = out_dir / "video.mp4"
    mux.assemble_video(
        [(clip.video, clip.frames) for clip in clips],
        options.fps,
        sound.audio,
        video,
        chapters=chapter_file,
    )

    poster = out_dir / "video.jpg"
    mux.extract_poster(video, poster_frame(clips[0], options) / options.fps, poster)
    cues = story_cues(clips, options.fps)
    srt, vtt = out_dir / "video.srt", out_dir / "video.vtt"
    srt.write_text(timeline.to_srt(cues), encoding="utf-8")
    vtt.write_text(timeline.to_vtt(cues), encoding="utf-8")
    return AssembledVideo(
        video=video,
        srt=srt,
        vtt=vtt,
        poster=poster,
        duration_seconds=frames / options.fps,
        frames=frames,
        cues=cues,
        chapters=chapters,
        loudness=sound.loudness,  # the encoded soundtrack is copied as it is
        music=sound.music,
    )


def publish_outputs(
    assembled: AssembledVideo, storage: Storage, names: OutputNames, record: str
) -> None:
    """Replace the published outputs (captions, poster, video, and the run's final `record`) as
    one set: a reader finds all of them from the previous render or all from this one (see
    services/storage.py for how)."""
    storage.finish_publishing(names.stem)  # an interrupted earlier try of this publish, if any
    record_file = assembled.video.with_name("record.json")
    record_file.write_text(record, encoding="utf-8")
    sources = {**assembled.files(), "record": record_file}
    files = [
        OutputFile(sources[output.key], names.name_of(output), output.content_type)
        for output in OUTPUTS
    ]
    storage.publish_together(files, names.stem)


@task(name="assemble-video", cache_policy=NO_CACHE)
def assemble_video(
    clips: list[PartClip],
    options: RenderOptions,
    work_dir: Path,
    music: Path | None = None,
    sound: StorySoundtrack | None = None,
) -> AssembledVideo:
    return assemble_outputs(clips, options, work_dir, music, sound)


@task(
    cache_policy=NO_CACHE,
    name="publish-video",
    **TRANSIENT_RETRIES,
)
def publish_video(
    assembled: AssembledVideo, storage: Storage, names: OutputNames, record: str
) -> None:
    publish_outputs(assembled, storage, names, record)
