"""Stage 1: list the story, fetch each part's files (and its music), and check them before
anything renders."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from services.media.caption_drawing import unknown_characters
from services.media.pictures import ImageProblem, check_image
from services.media.soundtrack import MusicProblem, check_music
from services.media.title_drawing import TitleTooLong, fit_title
from services.settings import RenderOptions
from services.stages import MusicTrack
from services.storage.base import Storage, StorageError
from services.storage.retrying import TRANSIENT_RETRIES
from services.story.model import (
    Caption,
    Part,
    PartFiles,
    StoryError,
    StoryLayout,
    read_caption,
    read_title,
    sha256_file,
    survey_story,
    undrawable_characters_problem,
)

log = logging.getLogger(__name__)


def _fetch_or_note(
    storage: Storage, name: str, part_dir: Path, number: int, problems: list[str]
) -> Path | None:
    """The fetched file, or None with the reason noted as the part's problem (a link to nowhere,
    a device, a FIFO...). Failures worth retrying are raised."""
    try:
        return storage.fetch(name, part_dir)
    except StorageError as error:
        if error.transient:
            raise
        reason = str(error)
        problems.append(
            f"part {number}: {reason}"
            if reason.startswith(name)
            else f"part {number}: {name}: {reason}"
        )
        return None


def fetch_and_check_part(files: PartFiles, storage: Storage, work_dir: Path) -> Part:
    """Bring one part's files here and check them; raise StoryError naming every bad file."""
    part_dir = work_dir / f"part-{files.number:04d}" / "source"
    part_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []

    image_path = _fetch_or_note(storage, files.image, part_dir, files.number, problems)
    if image_path is not None:
        try:
            check_image(image_path)
        except ImageProblem as problem:
            problems.append(f"part {files.number}: {files.image} {problem}")

    captions: list[Caption] = []
    for name in files.captions:
        path = _fetch_or_note(storage, name, part_dir, files.number, problems)
        if path is None:
            continue
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
    assert image_path is not None
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
    layout = survey_story(storage.list_names())
    if layout.ignored:
        get_run_logger().info(
            "ignored (not a story part, image or caption): %s", ", ".join(layout.ignored)
        )
    return layout


@task(
    cache_policy=NO_CACHE,
    name="fetch-part",
    task_run_name="fetch-part-{files.number}",
    **TRANSIENT_RETRIES,
)
def fetch_part(files: PartFiles, storage: Storage, work_dir: Path) -> Part:
    return fetch_and_check_part(files, storage, work_dir)


def fetch_and_check_music(
    story_music: str | None, options: RenderOptions, storage: Storage, work_dir: Path
) -> MusicTrack | None:
    """The run's music (`--music FILE` before the story's own music.*), or None; StoryError
    naming the file when it cannot be played."""
    if not options.music:
        return None
    if options.music_file is not None:
        name, path = options.music_file, Path(options.music_file)
        if not path.is_file():
            raise StoryError([f"music file {name} does not exist"])
    elif story_music is not None:
        name = story_music
        music_dir = work_dir / "music"
        music_dir.mkdir(parents=True, exist_ok=True)
        path = storage.fetch(story_music, music_dir)
    else:
        return None
    try:
        seconds = check_music(path)
    except MusicProblem as problem:
        raise StoryError([f"music {name} {problem}"]) from None
    return MusicTrack(name=name, path=path, seconds=seconds)


@task(
    cache_policy=NO_CACHE,
    name="fetch-music",
    **TRANSIENT_RETRIES,
)
def fetch_music(
    story_music: str | None, options: RenderOptions, storage: Storage, work_dir: Path
) -> MusicTrack | None:
    return fetch_and_check_music(story_music, options, storage, work_dir)


def fetch_and_check_title(
    name: str | None, options: RenderOptions, storage: Storage, work_dir: Path
) -> str | None:
    """The story's title (title.txt), checked: text, drawable, and short enough to show on the
    first picture; None when the story has none. StoryError naming the file otherwise."""
    if name is None:
        return None
    title_dir = work_dir / "title" / "source"
    title_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = storage.fetch(name, title_dir)
    except StorageError as error:
        if error.transient:
            raise
        raise StoryError([f"title: {name}: {error}"]) from None
    title = read_title(path, name)
    undrawable = undrawable_characters_problem(title, name, None, unknown_characters)
    if undrawable:
        raise StoryError([undrawable])
    try:
        fit_title(title, options.width, options.height, options.caption_size, options.language)
    except TitleTooLong as problem:
        raise StoryError([f"title: {name} {problem}"]) from None
    return title


@task(
    cache_policy=NO_CACHE,
    name="fetch-title",
    **TRANSIENT_RETRIES,
)
def fetch_title(
    name: str | None, options: RenderOptions, storage: Storage, work_dir: Path
) -> str | None:
    return fetch_and_check_title(name, options, storage, work_dir)
