"""The one typed settings object: environment (and `.env`) in, validated values out.

Render options (size, fps, encoder, zoom, narration) are a separate model, `RenderOptions`,
because they travel with each run as a flow parameter; `Settings` supplies their defaults.
`StoryOptions` is the part of them an end user may choose through the API (the story's
language, the look); `RenderOptions` adds what only operators set (size, encoder, engine).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.story.languages import AUTO, check_language, documented_tags
from services.timeline import DEFAULT_PACE, PaceName

TtsEngineName = Literal["gtts", "espeak"]
CaptionPosition = Literal["auto", "bottom", "top", "middle"]
CaptionLook = Literal["outline", "box"]
X264Preset = Literal[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
]


class Settings(BaseSettings):
    """Deployment-wide configuration, read on first use (get_settings) from the environment and
    a `.env` file in the working directory; the README's "Environment" table lists every field.
    Per-run output settings are `RenderOptions`, below; this object supplies their defaults."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["d", "p"] = Field("d", description="d: local folders, p: Google Cloud Storage")
    # No default: a worker missing this one variable must not reach the production bucket.
    creations_bucket: str | None = Field(
        None, description="Bucket of the creations; required with ENV=p and for any creation id"
    )
    tts_engine: TtsEngineName | None = Field(
        None, description="Narration engine; unset means gtts in production, espeak otherwise"
    )
    tts_language: str = Field(
        "en", description="Narration language when none is chosen, or auto cannot tell"
    )
    video_deployment: str = "generate-video/cloud-run"
    api_token: str | None = None
    run_heartbeat_grace_seconds: int = Field(
        90,
        ge=1,
        description="The API answers a running render failed (and a new trigger replaces it) "
        "when Prefect has had no heartbeat of it for this long; runs beat every 30 s",
    )
    video_link_seconds: int = Field(
        3600, ge=60, le=604800, description="Lifetime of the signed video links the API answers"
    )
    cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "story-video"
        ),
        description="Local cache: synthesized speech, and (in development) finished parts",
    )

    render_workers: int | None = Field(
        None,
        ge=1,
        description="Stage tasks run at once; unset means twice the CPU count, because a stage "
        "spends part of its time starting subprocesses or in Python, and ffmpeg fills the gaps",
    )

    @field_validator("tts_language")
    @classmethod
    def _tts_language_is_spoken(cls, language: str) -> str:
        return check_language(language, allow_auto=False)

    @model_validator(mode="after")
    def _production_names_its_bucket(self) -> Settings:
        if self.env == "p" and not self.creations_bucket:
            raise ValueError("ENV=p needs CREATIONS_BUCKET: the bucket that holds the creations")
        return self

    def bucket_for_creations(self) -> str:
        """The creations bucket, or a refusal naming the setting (for operators, not users)."""
        if not self.creations_bucket:
            raise ValueError(
                "a creation id needs a bucket: set CREATIONS_BUCKET (no bucket is assumed)"
            )
        return self.creations_bucket

    @property
    def effective_render_workers(self) -> int:
        return self.render_workers or 2 * (os.cpu_count() or 1)

    @property
    def effective_tts_engine(self) -> TtsEngineName:
        if self.tts_engine is not None:
            return self.tts_engine
        return "gtts" if self.env == "p" else "espeak"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are built on first use, not at import, so tests can set the environment first."""
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()


# Options that only the assembly of the finished parts uses: changing them re-renders no part.
ASSEMBLY_OPTIONS = frozenset({"music", "music_volume", "music_file"})


class StoryOptions(BaseModel):
    """The options an end user may choose for their story's video (the API's request body).

    Unknown fields are refused, so a misspelt option is an error rather than silently ignored.
    """

    # NaN and infinities (JSON has none, but Python's parser takes NaN, Infinity and 1e309) are
    # refused like any other bad value.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    language: str = Field(
        AUTO,
        description=(
            "Narration language, a BCP 47 tag such as en, en-GB, de, zh, zh-TW, ar or hi; "
            "auto: from the captions' script (Han, kana, Hangul, Hebrew, Thai, Greek...) or, "
            "in Latin, Cyrillic, Arabic or Devanagari script, their words; else TTS_LANGUAGE"
        ),
        examples=["auto", "de", "zh-TW"],
        json_schema_extra={"enum": list[JsonValue](documented_tags())},
    )
    # strict: JSON's true/false only (not 0, "no" or "off"), so the API takes what its schema says.
    zoom: bool = Field(False, strict=True, description="Slow centre zoom on each picture")

    # How the captions look (part of a finished part's key).
    caption_position: CaptionPosition = Field(
        "auto",
        description="Where the captions sit: auto (top or bottom, whichever leaves each "
        "picture's subject visible), bottom, top or middle of the frame",
    )
    # strict numbers: a number in JSON (an integer too), never true/false or a string.
    caption_size: float = Field(
        1.0, ge=0.5, le=2.0, strict=True, description="Caption text size, 1 = default (0.5 to 2)"
    )
    caption_style: CaptionLook = Field(
        "outline",
        description="outline: light text with a dark outline over a soft scrim behind the lines; "
        "box: light text on a rounded translucent box",
    )

    # How the story is read (part of a finished part's key): services/timeline.py's PACES.
    pace: PaceName = Field(
        DEFAULT_PACE,
        description="relaxed: a bedtime read (the picture alone before each part's first word, "
        "breaths between captions, page-turn pauses with the music rising); normal: shorter gaps",
    )
    speech_rate: float = Field(
        1.0,
        ge=0.5,
        le=2.0,
        strict=True,
        description="Speaking rate, 1 = reading aloud to a child (about 140 words a minute)",
    )

    # Read-along (part of a finished part's key: it changes the pictures).
    read_along: bool = Field(
        True,
        strict=True,
        description="Highlight each word of the caption as it is spoken, and give the WebVTT "
        "captions word timestamps; off: whole pages, as before",
    )

    # The soundtrack, mixed at assembly only (never part of a finished part's key).
    music: bool = Field(
        True, strict=True, description="Background music, when the story has a music file"
    )
    music_volume: float = Field(
        0.0,
        ge=-30.0,
        le=6.0,
        strict=True,
        description="Music level in dB, relative to the default bed level (-30 to 6)",
    )

    @field_validator("language", mode="before")
    @classmethod
    def _language_is_spoken(cls, language: object) -> object:
        return check_language(language) if isinstance(language, str) else language


class RenderOptions(StoryOptions):
    """How one video is rendered: its size, frame rate and encoding, the caption layout, the
    narration engine, and the story options above. Unset fields take the defaults shown."""

    width: int = Field(
        720, ge=64, le=3840, multiple_of=2, description="Frame width in pixels (even, 64 to 3840)"
    )
    height: int = Field(
        1080,
        ge=64,
        le=3840,
        multiple_of=2,
        description="Frame height in pixels (even, 64 to 3840); 720x1080 is portrait",
    )
    fps: int = Field(24, ge=1, le=60, description="Frames per second (1 to 60)")
    crf: int = Field(
        23,
        ge=0,
        le=51,
        description="x264 quality (0 to 51): lower is better and larger; 18-28 is usual",
    )
    preset: X264Preset = Field(
        "fast",
        description="x264 speed: faster presets encode sooner into larger files at the same "
        "quality (ultrafast ... veryslow)",
    )
    tts: TtsEngineName | None = Field(
        None,
        description="Narration engine: espeak (offline) or gtts (Google); unset uses the "
        "worker's TTS_ENGINE",
    )
    fade_seconds: float = Field(
        0.4, ge=0, le=2, description="Fade at each part's and page's edges, seconds (0 to 2)"
    )
    max_caption_lines: int = Field(
        3,
        ge=1,
        le=6,
        description="Lines of caption on screen at once (1 to 6); longer "
        "captions turn into more pages",
    )

    # A server path: an operator's option (flow, CLI), never the API's.
    music_file: str | None = Field(
        None,
        description="A music file on the machine that renders, instead of the story's music.*",
    )

    @field_validator("language", mode="before")
    @classmethod
    def _no_language_means_auto(cls, language: object) -> object:
        # Runs saved before `auto` existed have `null` (retrying one must still work).
        return AUTO if language is None else language

    def resolved(self, settings: Settings | None = None) -> RenderOptions:
        """A copy with the engine filled in from settings, so caches key on real values.

        The language stays as chosen: `auto` is resolved once the captions are known."""
        settings = settings or get_settings()
        return self.model_copy(update={"tts": self.tts or settings.effective_tts_engine})
