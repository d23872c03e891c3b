"""The generate-video flow. Run as a script, it hands over to the command line (flows/cli.py).

    python flows/video.py --assets-dir DIR [--out FILE] [options]   # a local story folder
    ENV=p python flows/video.py CREATION_ID [options]                # a creation in the bucket

Loads and checks the whole story first (nothing renders, nothing is written while any part is
wrong), then per part: re-use the clip an earlier run made of the same content (image, captions,
options, voice; see services/part_store.py), or draw the caption pages, narrate them, render
the clip and keep it for next time (parts run concurrently: RENDER_WORKERS stage tasks at
once); then joins the clips and publishes the outputs. A creation's record (video.json) says
`running` from the start, then `completed` or `failed` with the reason; intermediate files live
in a temporary work area that is removed however the run ends.
"""

from __future__ import annotations

if __name__ == "__main__":
    # `python flows/video.py ...` (the Dockerfile's command): run the command line before this
    # file's own imports, so the flow module is imported once, as flows.video, by flows/cli.py.
    import runpy

    runpy.run_module("flows.cli", run_name="__main__", alter_sys=True)

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.part_futures import part_result, settled_on_failure
from flows.run_record import RunRecord
from services.media import fonts, memory
from services.media.speech import Narrator, make_engine
from services.record import VideoRecord, now
from services.settings import RenderOptions, get_settings
from services.stages import AssembledVideo, MusicTrack, PartClip
from services.storage.part_store import PartStore, part_key, store_for, story_key
from services.storage.retrying import call_with_retries
from services.storage.sources import CreationNotFound, RenderTarget, resolve_target
from services.story.languages import AUTO, resolve_language
from services.story.model import Story, StoryError, sha256_file
from tasks.assembly import assemble_video, publish_video
from tasks.captions import draw_captions
from tasks.clips import render_clip
from tasks.fetch_assets import fetch_music, fetch_part, list_story
from tasks.narration import narrate_part
from tasks.reuse import keep_part, keep_story, reuse_part, reuse_story
from tasks.soundtrack import make_soundtrack

# Before the stage workers start their threads (services/memory.py).
memory.limit_malloc_arenas(2)


class RenderTaskRunner(ThreadPoolTaskRunner):  # type: ignore[type-arg]
    """Prefect's thread pool, sized by RENDER_WORKERS when a run starts (not when this module is
    imported), so the environment of the run is what counts."""

    def __init__(self, max_workers: int | None = None):
        super().__init__(max_workers=max_workers)
        self._fixed_workers = max_workers

    def duplicate(self) -> RenderTaskRunner:
        return type(self)(self._fixed_workers)

    def __enter__(self) -> RenderTaskRunner:
        if self._fixed_workers is None:
            self._max_workers = get_settings().effective_render_workers
        super().__enter__()
        return self


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    if parameters.get("creation_id"):
        return f"video-{parameters['creation_id']}"
    return f"video-{Path(parameters.get('assets_dir') or 'story').name}"


def _gather_story(
    listing_problems: list[str], fetches: list[Any], music: Any
) -> tuple[Story, MusicTrack | None]:
    """Wait for every usable part's check and the music's; report every problem of the story in
    one StoryError."""
    parts, problems = [], list(listing_problems)
    for future in fetches:
        try:
            parts.append(future.result())
        except StoryError as error:
            problems.extend(error.problems)
    track = None
    try:
        track = music.result()
    except StoryError as error:
        problems.extend(error.problems)
    if problems:
        raise StoryError(problems)
    return Story(parts=parts), track


@flow(
    name="generate-video",
    flow_run_name=_flow_run_name,
    # TaskRunner is invariant in its future type, so prefect's own runner does not type-check here.
    task_runner=RenderTaskRunner(),  # type: ignore[arg-type]
    validate_parameters=True,
)
def generate_video(
    creation_id: str | None = None,
    assets_dir: str | None = None,
    out: str | None = None,
    options: RenderOptions | None = None,
) -> dict[str, Any]:
    """Render a story into a narrated video with burned-in captions, plus SRT/VTT and a record.

    Give `creation_id` (a creation in the configured bucket, production) or `assets_dir`
    (a local folder of numbered parts). `out` moves the local outputs elsewhere.
    Parts rendered by an earlier run with the same content are re-used, not rendered again.
    """
    from prefect.runtime import flow_run

    logger = get_run_logger()
    settings = get_settings()
    options = (options or RenderOptions()).resolved(settings)
    target = resolve_target(settings, creation_id=creation_id, assets_dir=assets_dir, out=out)
    run = RunRecord(
        target,
        VideoRecord(
            status="running",
            creation_id=creation_id,
            flow_run_id=str(flow_run.id or "") or None,
            started_at=now(),
            video=target.names.video,
            poster=target.names.poster,
        ),
        logger,
    )
    _prepare_outputs(target, creation_id, logger)
    # A caller polls the record of a creation from the moment its run starts. A local run that
    # fails its checks writes nothing at all.
    if target.record_from_start:
        run.start()

    try:
        # Everything intermediate lives here and goes when the run ends, however it ends.
        # On a failure, every stage's tasks are settled (settled_on_failure) before it goes.
        with (
            tempfile.TemporaryDirectory(
                prefix="story-video-", ignore_cleanup_errors=True
            ) as scratch,
            settled_on_failure() as track,
        ):
            outcome = _render(
                target, options, store_for(settings, creation_id), Path(scratch), run, track
            )
            run.complete(
                lambda record: publish_video(
                    outcome.assembled, target.outputs, target.names, record
                ),
                duration_seconds=outcome.assembled.duration_seconds,
                parts_reused=outcome.reused,
                music=outcome.music,
                loudness_lufs=outcome.assembled.loudness.integrated,
                true_peak_dbtp=outcome.assembled.loudness.true_peak,
                chapters=len(outcome.assembled.chapters),
            )
    except BaseException as error:
        if run.written:
            run.fail(error)
        raise

    if creation_id is not None:
        _prune_store(store_for(settings, creation_id), outcome.keys, logger)
    video_location = target.outputs.describe(target.names.video)
    logger.info(
        "video written to %s (%.2f s; %d part(s) rendered, %d re-used)",
        video_location,
        outcome.assembled.duration_seconds,
        outcome.parts - outcome.reused,
        outcome.reused,
    )
    return {
        "video": video_location,
        "duration_seconds": outcome.assembled.duration_seconds,
        "parts": outcome.parts,
        "pages": len(outcome.assembled.cues),
        "parts_rendered": outcome.parts - outcome.reused,
        "parts_reused": outcome.reused,
        "language": outcome.language,
        "poster": target.outputs.describe(target.names.poster),
        "music": outcome.music,
        "loudness_lufs": outcome.assembled.loudness.integrated,
        "true_peak_dbtp": outcome.assembled.loudness.true_peak,
    }


def _prepare_outputs(target: RenderTarget, creation_id: str | None, logger: Any) -> None:
    """Before anything is written: a creation must have a story (else nothing is written at
    all), and a publish an earlier run left half done is finished, its staging files removed."""
    if creation_id is not None and not call_with_retries(
        target.assets.has_story, what=f"list {target.assets.describe()}", logger=logger
    ):
        raise CreationNotFound(creation_id, target.assets.describe())
    call_with_retries(
        lambda: target.outputs.finish_publishing(target.names.stem),
        what=f"finish an earlier publish in {target.outputs.describe()}",
        logger=logger,
    )


@dataclass
class RenderOutcome:
    assembled: AssembledVideo
    parts: int
    reused: int
    keys: set[str]
    language: str
    music: str | None  # the music's name, when there was music


def _render(
    target: RenderTarget,
    options: RenderOptions,
    store: PartStore,
    work_dir: Path,
    run: RunRecord,
    track: Callable[[list[Any]], list[Any]],
) -> RenderOutcome:
    """Check the story, re-use or render each part, join them (the caller publishes). Every
    stage's futures go through `track`, so a failure settles them all before work_dir goes."""
    logger = run.logger
    narrator = Narrator(make_engine(options.tts or "espeak"), get_settings().cache_dir)
    if options.language != AUTO:
        narrator.engine.voice_id(options.language)  # a language the engine cannot speak: stop now
    layout = list_story(target.assets)
    logger.info("story at %s: %d parts", target.assets.describe(), len(layout.parts))
    story, music = _gather_story(
        layout.problems,
        track(
            fetch_part.map(
                layout.parts, storage=unmapped(target.assets), work_dir=unmapped(work_dir)
            )
        ),
        track([fetch_music.submit(layout.music, options, target.assets, work_dir)])[0],
    )
    if music is not None:
        logger.info("music: %s (%.1f s or more)", music.name, music.seconds)
    total = len(story.parts)
    options = _with_story_language(options, story, narrator, logger)
    run.update(parts=total, language=options.language, read_along=options.read_along)

    font = fonts.caption_font()
    voice = narrator.engine.voice_id(options.language)
    keys = {
        part.number: part_key(part, options, voice, narrator.sample_rate, font)
        for part in story.parts
    }
    whole = story_key(
        [keys[part.number] for part in story.parts],
        options,
        music=sha256_file(music.path) if music is not None else None,
    )
    keep_keys = {*keys.values(), whole}
    earlier = reuse_story(whole, store=store, work_dir=work_dir)
    if earlier is not None:
        # Every part and the music unchanged: the outputs an earlier run assembled, as they were.
        logger.info(
            "story unchanged (key %s): publishing the outputs kept from an earlier run", whole[:12]
        )
        run.update(parts_done=total, progress=1.0, parts_reused=total)
        return RenderOutcome(
            assembled=earlier,
            parts=total,
            reused=total,
            keys=keep_keys,
            language=options.language,
            music=music.name if music is not None else None,
        )

    lookups = track(
        reuse_part.map(
            [part.number for part in story.parts],
            [keys[part.number] for part in story.parts],
            store=unmapped(store),
            work_dir=unmapped(work_dir),
        )
    )
    clips: dict[int, PartClip] = {}
    for part, lookup in zip(story.parts, lookups, strict=True):
        found = lookup.result()
        if found is not None:
            clips[part.number] = found
            logger.info("part %d re-used (key %s)", part.number, keys[part.number][:12])
    reused = len(clips)
    if reused:
        run.update(parts_done=reused, progress=round(reused / total, 4), parts_reused=reused)

    # Longest captions first: encoding is most of a render, and a long part whose encode started
    # last would run alone at the end while the other cores idle.
    misses = sorted(
        (part for part in story.parts if part.number not in clips),
        key=lambda part: sum(len(caption.text) for caption in part.captions),
        reverse=True,
    )
    if not misses:
        sound = _submit_soundtrack(story, clips, {}, options, work_dir, music, track)
    else:
        pages = track(
            draw_captions.map(misses, options=unmapped(options), work_dir=unmapped(work_dir))
        )
        narrations = track(
            narrate_part.map(
                pages,
                narrator=unmapped(narrator),
                language=unmapped(options.language),
                words=unmapped(options.read_along),
            )
        )
        # Submitted before the clips, so it is made while they encode (Prefect's pool takes
        # tasks in order of submission).
        narrated = dict(zip([part.number for part in misses], narrations, strict=True))
        sound = _submit_soundtrack(story, clips, narrated, options, work_dir, music, track)
        rendered = track(
            render_clip.map(
                pages, narrations, options=unmapped(options), work_dir=unmapped(work_dir)
            )
        )
        kept = track(
            keep_part.map(rendered, [keys[part.number] for part in misses], store=unmapped(store))
        )
        stages = {
            id(last): chain for *chain, last in zip(pages, narrations, rendered, kept, strict=True)
        }
        for future in as_completed(kept):
            clip = part_result(stages[id(future)], future)  # a failed part fails the run
            clips[clip.part_number] = clip
            logger.info(
                "part %d rendered (key %s) (%d/%d)",
                clip.part_number,
                keys[clip.part_number][:12],
                len(clips),
                total,
            )
            run.update(parts_done=len(clips), progress=round(len(clips) / total, 4))
    logger.info(
        "parts: %d re-used, %d rendered; narration synthesized for %d page(s)",
        reused,
        total - reused,
        narrator.synthesized,
    )

    assembled = assemble_video(
        [clips[part.number] for part in story.parts], options, work_dir, sound=sound.result()
    )
    try:
        keep_story(assembled, whole, store=store)
    except Exception as error:  # noqa: BLE001 - a missed copy only costs the next run time
        logger.warning("could not keep the outputs in %s: %s", store.describe(), error)
    return RenderOutcome(
        assembled=assembled,
        parts=total,
        reused=reused,
        keys=keep_keys,
        language=options.language,
        music=music.name if music is not None else None,
    )


def _submit_soundtrack(
    story: Story,
    clips: dict[int, PartClip],
    narrations: dict[int, Any],
    options: RenderOptions,
    work_dir: Path,
    music: MusicTrack | None,
    track: Callable[[list[Any]], list[Any]],
) -> Any:
    """The story's soundtrack, from each part's re-used clip or (a future of) its narration."""
    parts = [clips.get(part.number) or narrations[part.number] for part in story.parts]
    music_path = music.path if music is not None else None
    return track([make_soundtrack.submit(parts, options, work_dir, music_path)])[0]


def _with_story_language(
    options: RenderOptions, story: Story, narrator: Narrator, logger: Any
) -> RenderOptions:
    """Options with `auto` replaced by the story's language; fails (before anything renders)
    when the engine cannot speak it."""
    texts = [caption.text for part in story.parts for caption in part.captions]
    language, why = resolve_language(options.language, texts, get_settings().tts_language)
    voice = narrator.engine.voice_id(language)
    logger.info("language: %s (%s); voice %s", language, why, voice)
    return options.model_copy(update={"language": language})


def _prune_store(store: PartStore, keep: set[str], logger: Any) -> None:
    """Drop a creation's stored parts that its story no longer has (edited captions, images)."""
    try:
        removed = store.prune(keep)
    except Exception as error:  # noqa: BLE001 - tidying up must not fail a finished run
        logger.warning("could not tidy %s: %s", store.describe(), error)
        return
    if removed:
        logger.info("removed %d stored part(s) no longer in the story", removed)
