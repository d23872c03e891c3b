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
    video: str | None = Field(None, description="file name of the video, beside the record")
    poster: str | None = Field(None, description="file name of the poster (JPEG), beside it")
    music: str | None = Field(None, description="the background music mixed in, if any")
    loudness_lufs: float | None = Field(
        None, description="integrated loudness of the finished video's sound (EBU R128)"
    )
    true_peak_dbtp: float | None = Field(None, description="its true peak, dBTP")
    chapters: int | None = Field(None, description="chapter marks in the video (one per part)")
    read_along: bool | None = Field(
        None, description="whether spoken words are highlighted (and timed in the VTT)"
    )
    error: str | None = Field(None, description="why it failed, for a person to act on")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> VideoRecord:
        return cls.model_validate_json(text)
