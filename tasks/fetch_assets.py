"""Stage 1: list the story, fetch each part's files, and check them before anything renders."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.imaging import ImageProblem, check_image, unknown_characters
from services.retrying import TRANSIENT_RETRIES
from services.storage import Storage
from services.story import (
    Caption,
    Part,
    PartFiles,
    StoryError,
    StoryLayout,
    read_caption,
    sha256_file,
    survey_story,
    undrawable_characters_problem,
)

log = logging.getLogger(__name__)


def fetch_and_check_part(files: PartFiles, storage: Storage, work_dir: Path) -> Part:
    """Bring one part's files here and check them; raise StoryError naming every bad file."""
    part_dir = work_dir / f"part-{files.number:04d}" / "source"
    part_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    image_path = storage.fetch(files.image, part_dir)
    try:
        check_image(image_path)
    except ImageProblem as problem:
        problems.append(f"part {files.number}: {files.image} {problem}")

    captions: list[Caption] = []
    for name in files.captions:
        path = storage.fetch(name, part_dir)
        try:
            text = read_caption(path, name, files.number)
        except StoryError as error:
            problems.extend(error.problems)
            continue
        undrawable = undrawable_characters_problem(text, name, files.number, unknown_characters)
        if undrawable:
            problems.append(undrawable)
        captions.append(Caption(number=int(Path(name).stem), file=name, text=text))

    if problems:
        raise StoryError(problems)
    return Part(
        number=files.number,
        image_file=files.image,
        image_path=image_path,
        image_sha256=sha256_file(image_path),
        captions=captions,
    )


@task(
    cache_policy=NO_CACHE,
    name="list-story",
    **TRANSIENT_RETRIES,
)
def list_story(storage: Storage) -> StoryLayout:
    """Which parts the story has, and what is wrong with it, from the file listing alone."""
    return survey_story(storage.list_names())


@task(
    cache_policy=NO_CACHE,
    name="fetch-part",
    task_run_name="fetch-part-{files.number}",
    **TRANSIENT_RETRIES,
)
def fetch_part(files: PartFiles, storage: Storage, work_dir: Path) -> Part:
    return fetch_and_check_part(files, storage, work_dir)
