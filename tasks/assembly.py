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

from services import timeline
from services.media import mux
from services.settings import RenderOptions
from services.stages import AssembledVideo, PartClip, StorySoundtrack
from services.storage.base import OutputFile, Storage
from services.storage.retrying import TRANSIENT_RETRIES
from services.storage.sources import OUTPUTS, OutputNames
from services.timeline import poster_frame, story_chapters, story_cues


def assemble_outputs(
    clips: list[PartClip], options: RenderOptions, work_dir: Path, sound: StorySoundtrack
) -> AssembledVideo:
    """Join the clips with the story's soundtrack under them (made while the clips were
    encoding: tasks/soundtrack.py), and write the other outputs."""
    clips = sorted(clips, key=lambda clip: clip.part_number)
    out_dir = work_dir / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
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
    mux.join_clips_and_sound(
        [(clip.video, clip.frames) for clip in clips],
        options.fps,
        sound.audio,
        video,
        chapters=chapter_file,
    )

    poster = out_dir / "video.jpg"
    mux.extract_poster(video, poster_frame(clips[0]) / options.fps, poster)
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
        words_per_minute=timeline.speaking_rate(clips, options.fps),
    )


def publish_outputs(
    assembled: AssembledVideo, storage: Storage, names: OutputNames, record: str
) -> None:
    """Replace the published outputs (captions, poster, video, and the run's final `record`) as
    one set: a reader finds all of them from the previous render or all from this one (see
    services/storage/base.py for how)."""
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
    clips: list[PartClip], options: RenderOptions, work_dir: Path, sound: StorySoundtrack
) -> AssembledVideo:
    return assemble_outputs(clips, options, work_dir, sound)


@task(
    cache_policy=NO_CACHE,
    name="publish-video",
    **TRANSIENT_RETRIES,
)
def publish_video(
    assembled: AssembledVideo, storage: Storage, names: OutputNames, record: str
) -> None:
    publish_outputs(assembled, storage, names, record)
