"""Stage 5: join the part clips, lay the narration track under them once, write the outputs.

The narration is joined as PCM and encoded to AAC a single time, so joins have no click, gap or
drift; the part clips share encoder settings and are joined without re-encoding.
"""

from __future__ import annotations

import wave
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from services import ffmpeg, timeline
from services.retrying import TRANSIENT_RETRIES
from services.settings import RenderOptions
from services.sources import OUTPUTS, OutputNames
from services.storage import OutputFile, Storage
from services.timeline import Cue
from tasks.clips import PartClip


class AssembledVideo(BaseModel):
    video: Path
    srt: Path
    vtt: Path
    duration_seconds: float
    frames: int
    cues: list[Cue]

    def files(self) -> dict[str, Path]:
        """The rendered files by output key (services.sources.OUTPUTS), the record aside."""
        return {"srt": self.srt, "vtt": self.vtt, "video": self.video}


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


def join_narration(clips: list[PartClip], target: Path) -> None:
    with wave.open(str(target), "wb") as out:
        for index, clip in enumerate(clips):
            with wave.open(str(clip.audio), "rb") as part:
                if index == 0:
                    out.setparams(part.getparams())
                while chunk := part.readframes(1 << 16):
                    out.writeframes(chunk)


def assemble_outputs(
    clips: list[PartClip], options: RenderOptions, work_dir: Path
) -> AssembledVideo:
    clips = sorted(clips, key=lambda clip: clip.part_number)
    out_dir = work_dir / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
    narration = out_dir / "narration.wav"
    join_narration(clips, narration)
    video = out_dir / "video.mp4"
    ffmpeg.assemble_video(
        [(clip.video, clip.frames) for clip in clips], options.fps, narration, video
    )
    cues = story_cues(clips, options.fps)
    srt, vtt = out_dir / "video.srt", out_dir / "video.vtt"
    srt.write_text(timeline.to_srt(cues), encoding="utf-8")
    vtt.write_text(timeline.to_vtt(cues), encoding="utf-8")
    frames = sum(clip.frames for clip in clips)
    return AssembledVideo(
        video=video,
        srt=srt,
        vtt=vtt,
        duration_seconds=frames / options.fps,
        frames=frames,
        cues=cues,
    )


def publish_outputs(
    assembled: AssembledVideo, storage: Storage, names: OutputNames, record: str
) -> None:
    """Replace the published outputs (captions, video, and the run's final `record`) as one set:
    a reader finds all of them from the previous render or all from this one (see
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
def assemble_video(clips: list[PartClip], options: RenderOptions, work_dir: Path) -> AssembledVideo:
    return assemble_outputs(clips, options, work_dir)


@task(
    cache_policy=NO_CACHE,
    name="publish-video",
    **TRANSIENT_RETRIES,
)
def publish_video(
    assembled: AssembledVideo, storage: Storage, names: OutputNames, record: str
) -> None:
    publish_outputs(assembled, storage, names, record)
