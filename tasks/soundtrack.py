"""Between stages 3 and 5: the story's soundtrack, made as soon as every part's narration exists
(services/media/narration_track.py), while the part clips are still being encoded."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.media.narration_track import PartSound, make_story_soundtrack
from services.settings import RenderOptions
from services.stages import StorySoundtrack


@task(name="make-soundtrack", cache_policy=NO_CACHE)
def make_soundtrack(
    parts: list[PartSound], options: RenderOptions, work_dir: Path, music: Path | None = None
) -> StorySoundtrack:
    return make_story_soundtrack(parts, options, work_dir, music)
