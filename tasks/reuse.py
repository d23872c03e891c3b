"""Re-use of finished parts: look a part up by its content key before rendering, keep it after.

See services/part_store.py for the key and where entries live.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.part_store import PartStore
from services.retrying import TRANSIENT_RETRIES
from tasks.clips import PartClip


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
