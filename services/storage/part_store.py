"""Finished parts, kept by content, so a re-run renders only what changed.

A part's key is a sha256 over everything that decides its clip and narration: the image bytes,
the caption texts, the render options that shape the clip, the narration voice and language,
the caption font, the source of every project module the part's stages import, and the versions
of the native tools that draw and encode (services/media/render_identity.py: a change to any of
them invalidates every key, so a deployment never mixes clips of two renderer versions). The part's
number is not in the key, only whether it is the story's first or last part (which hold the
opening and the ending) and whether it follows a title card. The title card (title.txt) is kept
like a part, under `title_key`: its text and the first part's picture.

A whole story's assembled outputs are kept the same way, under the story's key (`story_key`:
every part's key in order, plus the assembly's code), so a run whose parts are all unchanged
publishes them again without joining and encoding anything: `<story key>/` holds the files of
`AssembledVideo` (video, captions) and `story.json` (the rest of it), written last.

A part entry is three files under `<key>/`: `clip.mp4` (the part's silent H.264 segment),
`narration.wav` (its mono PCM track, padded to the clip's length) and `part.json` (the clip
stage's own result, less those two files: frames, page timing and texts). `part.json` is written
last: an entry without it is unfinished and ignored.

Where entries live: production, in the bucket beside the creation
(`gs://<bucket>/<creation_id>/render-cache/`), because every Cloud Run execution starts in a new
container; development, in the local cache folder (`<cache_dir>/parts/`).

Why not Prefect's task cache: persisting Prefect results across containers needs a GcsBucket
block registered on the Prefect server, stores pickles tied to the Prefect version, and does not
work when the container runs as a plain Cloud Run job without a server. This store is a few plain
files in the bucket we already use, readable and deletable by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.media.render_identity import PART_STAGES, STORY_STAGES, render_identity
from services.settings import ASSEMBLY_OPTIONS, RenderOptions, Settings
from services.stages import ClipFiles
from services.storage.base import Storage, StorageError
from services.storage.folder import LocalStorage
from services.story.languages import AUTO
from services.story.model import Part, sha256_file

log = logging.getLogger(__name__)

# Bump when the stored entry's layout changes (files, part.json fields).
PART_FORMAT_VERSION = 4  # 4: part.json keeps the pages' word times (read-along)

CACHE_FOLDER = "render-cache"  # gs://<bucket>/<creation_id>/render-cache/<key>/...
CLIP_NAME = "clip.mp4"
AUDIO_NAME = "narration.wav"
META_NAME = "part.json"
STORY_META_NAME = "story.json"


def render_code_version() -> str:
    """The code and native tools that make a part (services/media/render_identity.py)."""
    return f"format {PART_FORMAT_VERSION} " + render_identity(PART_STAGES)


@lru_cache(maxsize=8)
def _file_digest(path: str) -> str:
    return sha256_file(Path(path))


def part_key(
    part: Part,
    options: RenderOptions,
    voice_id: str,
    sample_rate: int,
    font_path: str,
    role: tuple[bool, bool] = (False, False),
    after_title: bool = False,
) -> str:
    """The content key of one part's rendered clip and narration; `role`: whether it is the
    story's first and last part (they hold the story's opening and ending); `after_title`: it
    follows the title card (it starts on its picture, not from black)."""
    if options.language == AUTO:
        raise ValueError("a part's key needs the story's language resolved, not auto")
    identity = {
        "code": render_code_version(),
        "image": part.image_sha256,
        "captions": [caption.text for caption in part.captions],
        # Every option shapes the clip but the soundtrack's, which only the assembly uses. The
        # engine counts through the voice id (which names it); the language is the resolved one
        # (never `auto`), as captions may be drawn by it.
        "options": options.model_dump(mode="json", exclude={"tts", *ASSEMBLY_OPTIONS}),
        "voice": voice_id,
        "sample_rate": sample_rate,
        "font": _file_digest(font_path),
        "role": [*role, "after title"] if after_title else list(role),
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def title_key(
    title: str,
    first_part: Part,
    options: RenderOptions,
    voice_id: str,
    sample_rate: int,
    font_path: str,
) -> str:
    """The content key of the title card's clip (tasks/title.py): the title, the first part's
    picture it is drawn over, and what else shapes a part's clip. Not the first part's captions:
    editing them leaves the title card as it is."""
    if options.language == AUTO:
        raise ValueError("the title's key needs the story's language resolved, not auto")
    identity = {
        "code": render_code_version(),
        "title": title,
        "image": first_part.image_sha256,
        "options": options.model_dump(mode="json", exclude={"tts", *ASSEMBLY_OPTIONS}),
        "voice": voice_id,
        "sample_rate": sample_rate,
        "font": _file_digest(font_path),
        "role": ["title"],
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def story_key(part_keys: list[str], options: RenderOptions, music: str | None = None) -> str:
    """The content key of a story's assembled outputs: its parts' keys in order (the options
    that shape a part are in them), the options applied at assembly only (music level), the
    music's sha256, and the code and tools that join them."""
    digest = hashlib.sha256(f"story format {PART_FORMAT_VERSION}".encode())
    mix = options.model_dump(mode="json", include=set(ASSEMBLY_OPTIONS - {"music_file"}))
    digest.update(json.dumps(mix, sort_keys=True).encode())
    digest.update(f"music {music}".encode())
    digest.update(render_identity(STORY_STAGES).encode())
    for key in part_keys:
        digest.update(key.encode())
    return digest.hexdigest()


class StoredStory(BaseModel):
    """story.json: the assembled outputs' files (field -> stored name) and their other fields."""

    key: str
    format: int = PART_FORMAT_VERSION
    files: dict[str, str]
    fields: dict[str, Any]


Clip = TypeVar("Clip", bound=ClipFiles)
_MEDIA_FIELDS = {"video", "audio"}


class StoredPart(BaseModel):
    """part.json: the key, and the stored clip's fields less its media files."""

    key: str
    format: int = PART_FORMAT_VERSION
    clip: dict[str, Any]


class PartStore:
    """Finished parts by key, in any `Storage` (a bucket prefix or a local folder)."""

    def __init__(self, storage: Storage):
        self.storage = storage

    def describe(self, key: str = "") -> str:
        return self.storage.describe(key)

    def load(self, key: str, work_dir: Path, clip_type: type[Clip]) -> Clip | None:
        """The stored part for `key` as a `clip_type`, its files fetched into work_dir, or None
        when there is none.

        An entry that is unfinished, damaged or vanishes while being read is a miss, not an
        error: the part is simply rendered again. Transient storage errors are raised, so the
        caller's retry can ask again.
        """
        text = self.storage.read_text(f"{key}/{META_NAME}")
        if text is None:
            return None
        try:
            meta = StoredPart.model_validate_json(text)
        except ValidationError as error:
            log.warning("stored part %s is damaged, rendering again: %s", key[:12], error)
            return None
        if meta.key != key or meta.format != PART_FORMAT_VERSION:
            return None
        target = work_dir / "reused" / key[:16]
        try:
            video = self.storage.fetch(f"{key}/{CLIP_NAME}", target)
            audio = self.storage.fetch(f"{key}/{AUDIO_NAME}", target)
        except StorageError as error:
            if error.transient:
                raise
            log.warning("stored part %s is incomplete, rendering again: %s", key[:12], error)
            return None
        try:
            return clip_type.model_validate({**meta.clip, "video": video, "audio": audio})
        except ValidationError as error:
            log.warning("stored part %s does not fit, rendering again: %s", key[:12], error)
            return None

    def save(self, key: str, clip: ClipFiles) -> None:
        """Store a finished part; the entry counts only once part.json is written, last."""
        self.storage.publish(clip.video, f"{key}/{CLIP_NAME}", "video/mp4")
        self.storage.publish(clip.audio, f"{key}/{AUDIO_NAME}", "audio/wav")
        meta = StoredPart(key=key, clip=clip.model_dump(mode="json", exclude=_MEDIA_FIELDS))
        self.storage.write_text(f"{key}/{META_NAME}", meta.model_dump_json(indent=2) + "\n")

    def load_story(self, key: str, work_dir: Path) -> tuple[dict[str, Any], dict[str, Path]] | None:
        """A story's stored outputs for `key`, fetched into work_dir: (fields, files by field),
        or None when there are none (or they are unfinished or damaged: assembled again)."""
        text = self.storage.read_text(f"{key}/{STORY_META_NAME}")
        if text is None:
            return None
        try:
            meta = StoredStory.model_validate_json(text)
        except ValidationError as error:
            log.warning("stored story %s is damaged, assembling again: %s", key[:12], error)
            return None
        if meta.key != key or meta.format != PART_FORMAT_VERSION:
            return None
        target = work_dir / "reused" / f"story-{key[:16]}"
        try:
            files = {
                field: self.storage.fetch(f"{key}/{name}", target)
                for field, name in meta.files.items()
            }
        except StorageError as error:
            if error.transient:
                raise
            log.warning("stored story %s is incomplete, assembling again: %s", key[:12], error)
            return None
        return meta.fields, files

    def save_story(
        self, key: str, files: dict[str, tuple[Path, str | None]], fields: dict[str, Any]
    ) -> None:
        """Keep a story's outputs (field -> file and content type); story.json goes last."""
        names = {}
        for field, (path, content_type) in files.items():
            names[field] = f"{field}{path.suffix}"
            self.storage.publish(path, f"{key}/{names[field]}", content_type)
        meta = StoredStory(key=key, files=names, fields=fields)
        self.storage.write_text(f"{key}/{STORY_META_NAME}", meta.model_dump_json(indent=2) + "\n")

    def keys(self) -> set[str]:
        """Keys with a finished entry."""
        names = self._names()
        return {name.split("/", 1)[0] for name in names if name.endswith(f"/{META_NAME}")}

    def _names(self) -> list[str]:
        try:
            return self.storage.list_names()
        except StorageError as error:
            if error.transient:
                raise
            return []  # no store yet

    def prune(self, keep: set[str]) -> int:
        """Delete entries whose key is not in `keep` (a creation's parts that were edited away).

        Returns how many entries went.
        """
        stale = sorted({name for name in self._names() if name.split("/", 1)[0] not in keep})
        self.storage.delete(stale, quiet=True)
        return len({name.split("/", 1)[0] for name in stale})


def store_for(settings: Settings, creation_id: str | None) -> PartStore:
    """Production: beside the creation in the bucket (not under assets/). Local: the cache."""
    if creation_id is not None:
        from services.storage.bucket import GcsStorage

        return PartStore(
            GcsStorage(settings.bucket_for_creations(), f"{creation_id}/{CACHE_FOLDER}")
        )
    return PartStore(LocalStorage(settings.cache_dir / "parts"))
