"""The run record, `video.json`: what a caller polls to learn how a render went.

Status values are fixed by CONTRACTS: not_found, pending, running, completed, failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["not_found", "pending", "running", "completed", "failed"]


def now() -> datetime:
    return datetime.now(UTC)


class VideoRecord(BaseModel):
    status: Status
    creation_id: str | None = None
    flow_run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parts: int | None = Field(None, description="story parts rendered")
    parts_done: int = 0
    parts_reused: int | None = Field(
        None, description="parts taken from an earlier run (same content), not rendered again"
    )
    progress: float = Field(0.0, ge=0, le=1)
    duration_seconds: float | None = None
    language: str | None = Field(
        None, description="the narration language used (a BCP 47 tag; `auto` resolved)"
    )
    language_reason: str | None = Field(
        None,
        description="why that language: `chosen`, or for `auto` what the captions told "
        "(their script or their words) or why they did not, so TTS_LANGUAGE",
    )
    video: str | None = Field(None, description="file name of the video, beside the record")
    poster: str | None = Field(None, description="file name of the poster (JPEG), beside it")
    music: str | None = Field(None, description="the background music mixed in, if any")
    title: str | None = Field(
        None, description="the title card's text (title.txt), shown and read before part 1"
    )
    pace: str | None = Field(None, description="how the story was read: relaxed or normal")
    speech_rate: float | None = Field(
        None, description="the speech rate option (1 = a child's read-aloud rate)"
    )
    voice: str | None = Field(
        None,
        description="the narration voice and its speed (espeak-ng: its -s; gTTS: the tempo)",
    )
    words_per_minute: float | None = Field(
        None, description="measured: words / seconds from each caption's first to last sound"
    )
    loudness_lufs: float | None = Field(
        None, description="integrated loudness of the finished video's sound (EBU R128)"
    )
    true_peak_dbtp: float | None = Field(None, description="its true peak, dBTP")
    chapters: int | None = Field(
        None, description="chapter marks in the video (one per part, and the title card's)"
    )
    notes: list[str] = Field(
        default_factory=list,
        description="things a person may want to fix, such as a picture enlarged a lot",
    )
    read_along: bool | None = Field(
        None, description="whether spoken words are highlighted (and timed in the VTT)"
    )
    error: str | None = Field(None, description="why it failed, for a person to act on")
    inputs: dict[str, str] | None = Field(
        None,
        description="the story's files when the render started: name -> the bucket's MD5 "
        "(base64); equal inputs and options mean the video is still up to date",
    )
    last_completed: VideoRecord | None = Field(
        None,
        description="while a render runs or after it failed: the record of the last completed "
        "render, whose video is still there",
    )

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> VideoRecord:
        return cls.model_validate_json(text)

    def last_good(self) -> VideoRecord | None:
        """The record of the last completed render: this one, or the one it carries."""
        if self.status == "completed":
            return self.model_copy(update={"last_completed": None})
        return self.last_completed

    def changed(self, **changes: object) -> VideoRecord:
        """A copy with `changes`, validated like a record read from video.json: an unknown
        field or a value of the wrong type is a ValueError, never written."""
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"video.json has no field {', '.join(unknown)}")
        return type(self).model_validate({**dict(self), **changes})
