"""Re-use of finished parts: look a part up by its content key before rendering, keep it after.
Likewise a story's assembled outputs, when every part of it is unchanged.

See services/storage/part_store.py for the key and where entries live.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.stages import AssembledVideo, PartClip
from services.storage.part_store import PartStore
from services.storage.retrying import TRANSIENT_RETRIES
from services.storage.sources import OUTPUTS


def load_part_clip(part_number: int, key: str, store: PartStore, work_dir: Path) -> PartClip | None:
    found = store.load(key, work_dir, PartClip)
    if found is None:
        return None
    return found.model_copy(update={"part_number": part_number})  # it may sit elsewhere now


def save_part_clip(clip: PartClip, key: str, store: PartStore) -> PartClip:
    store.save(key, clip)
    return clip


@task(
    cache_policy=NO_CACHE,
    name="reuse-part",
    task_run_name="reuse-part-{part_number}",
    **TRANSIENT_RETRIES,
)
def reuse_part(part_number: int, key: str, store: PartStore, work_dir: Path) -> PartClip | None:
    """The part's clip from an earlier run with the same content, or None."""
    return load_part_clip(part_number, key, store, work_dir)


@task(
    cache_policy=NO_CACHE,
    name="keep-part",
    task_run_name="keep-part-{clip.part_number}",
    **TRANSIENT_RETRIES,
)
def keep_part(clip: PartClip, key: str, store: PartStore) -> PartClip:
    """Persist a freshly rendered part so later runs can re-use it; passes the clip on."""
    return save_part_clip(clip, key, store)


def load_assembled(key: str, store: PartStore, work_dir: Path) -> AssembledVideo | None:
    found = store.load_story(key, work_dir)
    if found is None:
        return None
    fields, files = found
    return AssembledVideo.model_validate({**fields, **files})


def save_assembled(assembled: AssembledVideo, key: str, store: PartStore) -> None:
    """Every file of the assembled outputs (with its content type as published), and the rest
    of its fields."""
    content_types = {output.key: output.content_type for output in OUTPUTS}
    files = assembled.files()
    kept: dict[str, tuple[Path, str | None]] = {
        name: (path, content_types[name]) for name, path in files.items()
    }
    store.save_story(key, kept, assembled.model_dump(mode="json", exclude=set(files)))


@task(cache_policy=NO_CACHE, name="reuse-story", **TRANSIENT_RETRIES)
def reuse_story(key: str, store: PartStore, work_dir: Path) -> AssembledVideo | None:
    """The outputs an earlier run assembled from exactly these parts, or None."""
    return load_assembled(key, store, work_dir)


@task(cache_policy=NO_CACHE, name="keep-story", **TRANSIENT_RETRIES)
def keep_story(assembled: AssembledVideo, key: str, store: PartStore) -> None:
    """Keep the assembled outputs, so an unchanged re-run publishes them without assembling."""
    save_assembled(assembled, key, store)
