"""The generate-video flow. Run as a script, it hands over to the command line (flows/cli.py).

    python flows/video.py --assets-dir DIR [--out FILE] [options]   # a local story folder
    ENV=p python flows/video.py CREATION_ID [options]                # a creation in the bucket

Loads and checks the whole story first (nothing renders, nothing is written while any part is
wrong), then per part: re-use the clip an earlier run made of the same content (image, captions,
options, voice; see services/storage/part_store.py), or draw the caption pages, narrate them,
render the clip and keep it for next time (parts run concurrently: RENDER_WORKERS stage tasks at
once); then joins the clips and publishes the outputs (the steps: flows/render.py). A creation's
record (video.json) says `running` from the start, then `completed` or `failed` with the reason;
intermediate files live in a temporary work area that is removed however the run ends. The
Prefect UI shows the run's progress, then a link to the video and a summary, or why it failed
(flows/run_report.py).
"""

from __future__ import annotations

if __name__ == "__main__":
    # `python flows/video.py ...` (the Dockerfile's command): run the command line before this
    # file's own imports, so the flow module is imported once, as flows.video, by flows/cli.py.
    import runpy

    runpy.run_module("flows.cli", run_name="__main__", alter_sys=True)

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows.form import DEFAULT_OPTIONS, CreationIdField, FolderField, OptionsField, OutField
from flows.part_futures import settled_on_failure
from flows.render import RenderOutcome, StoryRender
from flows.run_logs import InputError, configure_run_logging, is_user_error, one_line
from flows.run_record import RunRecord, failure_message
from flows.run_report import (
    RunProgress,
    RunSummary,
    artifact_slug,
    publish_failure,
    publish_results,
)
from services.media import memory
from services.record import VideoRecord, now
from services.settings import RenderOptions, get_settings
from services.storage.part_store import PartStore, store_for
from services.storage.retrying import call_with_retries
from services.storage.sources import CreationNotFound, RenderTarget, resolve_target
from services.story.languages import AUTO
from services.work_area import work_folder
from tasks.assembly import publish_video

# Before the stage workers start their threads (services/memory.py).
memory.limit_malloc_arenas(2)
# Task-state chatter out of the log; story and setup problems as one line (flows/run_logs.py).
configure_run_logging()

NOTHING_TO_RENDER = (
    "nothing to render: give creation_id (a creation in the bucket) or assets_dir (a story "
    "folder on the worker's machine); a Quick run has neither, use Custom run"
)


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


def _subject(parameters: dict[str, Any]) -> str:
    """What a run renders, as its name and tags show it: the creation id, or the folder's name."""
    if parameters.get("creation_id"):
        return str(parameters["creation_id"])
    return Path(str(parameters.get("assets_dir") or "")).name or "no-story"


def _requested_language(parameters: dict[str, Any]) -> str:
    options = parameters.get("options")
    language = options.get("language") if isinstance(options, dict) else None
    language = getattr(options, "language", language)
    return str(language or AUTO)


def run_name(subject: str, language: str, started: datetime) -> str:
    """`video-<creation id or folder>-<language>-<start, UTC>`: runs of one story differ by
    their language and start."""
    return f"video-{subject}-{language}-{started:%Y%m%d-%H%M%S}"


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    started = flow_run.scheduled_start_time or datetime.now(UTC)
    return run_name(_subject(parameters), _requested_language(parameters), started)


class RunLabels:
    """The run's name and tags, kept in step with what the run learns (the story's language)."""

    def __init__(self, creation_id: str | None, assets_dir: str | None, logger: Any):
        from prefect.runtime import flow_run

        self.logger = logger
        self.flow_run_id = flow_run.id
        self.name = str(flow_run.name or "")
        self.subject = _subject({"creation_id": creation_id, "assets_dir": assets_dir})
        self.kind = "creation" if creation_id else "story"
        self.tags = [str(tag) for tag in (flow_run.tags or [])]

    def label(self, language: str) -> None:
        """Tag the run with what it renders and its language; name it after the language."""
        if not self.flow_run_id:
            return
        tags = [tag for tag in self.tags if not tag.startswith(("language:", f"{self.kind}:"))]
        tags += [f"{self.kind}:{self.subject}", f"language:{language}"]
        name = self.name
        for asked in (f"-{AUTO}-",):
            if asked in name and language != AUTO:
                name = name.replace(asked, f"-{language}-", 1)
        try:
            from prefect import get_client

            with get_client(sync_client=True) as client:
                client.update_flow_run(self.flow_run_id, name=name or None, tags=tags)
            self.tags, self.name = tags, name
        except Exception as error:  # noqa: BLE001 - a label must never fail a render
            self.logger.warning("could not tag the run: %s", error)


@flow(
    name="generate-video",
    flow_run_name=_flow_run_name,
    # TaskRunner is invariant in its future type, so prefect's own runner does not type-check here.
    task_runner=RenderTaskRunner(),  # type: ignore[arg-type]
    validate_parameters=True,
)
def generate_video(
    creation_id: CreationIdField = None,
    assets_dir: FolderField = None,
    out: OutField = None,
    options: OptionsField = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """Render a story into a narrated video with burned-in captions, plus SRT/VTT, a poster and
    a record (video.json). Give a creation id or a story folder, not both. Parts rendered by an
    earlier run with the same content are re-used, not rendered again.

    Args:
        creation_id: A creation in the configured bucket (a UUID): renders
            gs://<bucket>/<creation id>/assets/ and publishes the video beside it.
        assets_dir: Instead of a creation: a story folder of numbered parts on the worker's
            machine (relative to its working directory, or absolute).
        out: With a story folder only: write the video to this .mp4 file (captions, poster and
            record beside it) instead of into the folder.
        options: How the video is rendered. Fields left out take the defaults shown; a
            deployment may set its own.
    """
    from prefect.runtime import flow_run

    logger = get_run_logger()
    settings = get_settings()
    slug = artifact_slug(creation_id, assets_dir)
    progress = RunProgress(slug, logger)
    progress.start()
    labels = RunLabels(creation_id, assets_dir, logger)
    labels.label((options or RenderOptions()).language)
    run: RunRecord | None = None
    try:
        options = (options or RenderOptions()).resolved(settings)
        target = _target(creation_id, assets_dir, out)
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
        outcome = _render_and_publish(target, options, creation_id, run, progress, labels)
    except BaseException as error:
        reason = failure_message(error)
        progress.failed(reason)
        record = run.where if run is not None and run.written else None
        publish_failure(slug, reason, is_user_error(error), record, logger)
        raise

    progress.published()
    publish_results(
        slug,
        RunSummary(
            target=target,
            assembled=outcome.assembled,
            options=outcome.options,
            parts=outcome.parts,
            reused=outcome.reused,
            voice=outcome.voice,
            music=outcome.music,
        ),
        settings,
        logger,
    )
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


def _target(creation_id: str | None, assets_dir: str | None, out: str | None) -> RenderTarget:
    """Where the story is and where its outputs go; a parameter problem as an InputError."""
    if creation_id is None and assets_dir is None:
        raise InputError(NOTHING_TO_RENDER)
    try:
        return resolve_target(
            get_settings(), creation_id=creation_id, assets_dir=assets_dir, out=out
        )
    except ValueError as error:
        raise InputError(one_line(error)) from None


def _render_and_publish(
    target: RenderTarget,
    options: RenderOptions,
    creation_id: str | None,
    run: RunRecord,
    progress: RunProgress,
    labels: RunLabels,
) -> RenderOutcome:
    """Render in a temporary work area and publish the outputs with the final record; the
    record says `failed` (with the reason) if the run fails after it was first written."""
    logger = run.logger
    _prepare_outputs(target, creation_id, logger)
    # A caller polls the record of a creation from the moment its run starts. A local run that
    # fails its checks writes nothing at all.
    if target.record_from_start:
        run.start()
    try:
        # Everything intermediate lives here and goes when the run ends, however it ends (the
        # folders of earlier runs that were killed go first). On a failure, every stage's tasks
        # are settled (settled_on_failure) before it goes.
        with work_folder() as scratch, settled_on_failure() as track:
            outcome = StoryRender(
                target,
                options,
                store_for(get_settings(), creation_id),
                Path(scratch),
                run,
                track,
                progress,
                on_language=labels.label,
            ).render()
            logger.info("publishing to %s", target.outputs.describe())
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
                words_per_minute=outcome.assembled.words_per_minute,
            )
    except BaseException as error:
        if run.written:
            run.fail(error)
        raise
    return outcome


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


def _prune_store(store: PartStore, keep: set[str], logger: Any) -> None:
    """Drop a creation's stored parts that its story no longer has (edited captions, images)."""
    try:
        removed = store.prune(keep)
    except Exception as error:  # noqa: BLE001 - tidying up must not fail a finished run
        logger.warning("could not tidy %s: %s", store.describe(), error)
        return
    if removed:
        logger.info("removed %d stored part(s) no longer in the story", removed)
