"""The generate-video flow, and its command line.

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

import argparse
import concurrent.futures
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# With no server configured, Prefect starts a temporary one; on a fresh PREFECT_HOME its database
# setup alone can outlast Prefect's 20 s default wait on a small machine. Set before prefect loads.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, get_run_logger, unmapped  # noqa: E402
from prefect.exceptions import TerminationSignal  # noqa: E402
from prefect.futures import as_completed, wait  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from services import imaging  # noqa: E402
from services.part_store import PartStore, part_key, store_for  # noqa: E402
from services.record import VideoRecord, now  # noqa: E402
from services.retrying import call_with_retries, exception_is_transient  # noqa: E402
from services.settings import RenderOptions, get_settings  # noqa: E402
from services.sources import RenderTarget, resolve_target  # noqa: E402
from services.speech import Narrator, make_engine  # noqa: E402
from services.storage import StorageError  # noqa: E402
from services.story import Story, StoryError  # noqa: E402
from tasks.assembly import AssembledVideo, assemble_video, publish_video  # noqa: E402
from tasks.captions import draw_captions  # noqa: E402
from tasks.clips import PartClip, render_clip  # noqa: E402
from tasks.fetch_assets import fetch_part, list_story  # noqa: E402
from tasks.narration import narrate_part  # noqa: E402
from tasks.reuse import keep_part, reuse_part  # noqa: E402


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    if parameters.get("creation_id"):
        return f"video-{parameters['creation_id']}"
    return f"video-{Path(parameters.get('assets_dir') or 'story').name}"


def _gather_story(listing_problems: list[str], fetches: list[Any]) -> Story:
    """Wait for every usable part's check; report every problem of the story in one StoryError."""
    parts, problems = [], list(listing_problems)
    for future in fetches:
        try:
            parts.append(future.result())
        except StoryError as error:
            problems.extend(error.problems)
    if problems:
        raise StoryError(problems)
    return Story(parts=parts)


class RunRecord:
    """This run's `video.json`: what callers poll. Written at the start (creations), after each
    finished part, and at the end, with retries where it matters (start and end)."""

    # The end of a run is the one write a caller cannot do without: try for about a minute.
    FINAL_DELAYS = [1.0, 2.0, 4.0, 8.0, 15.0, 30.0]

    def __init__(self, target: RenderTarget, record: VideoRecord, logger: Any):
        self.target = target
        self.record = record
        self.logger = logger
        self.written = False

    @property
    def where(self) -> str:
        return self.target.outputs.describe(self.target.names.record)

    def _write(self) -> None:
        self.target.outputs.write_text(
            self.target.names.record, self.record.to_json(), "application/json"
        )
        self.written = True

    def start(self) -> None:
        call_with_retries(self._write, what=f"write {self.where}", logger=self.logger)

    def update(self, **changes: Any) -> None:
        """Progress: one attempt; a missed update is logged, and the next one catches up."""
        self.record = self.record.model_copy(update=changes)
        try:
            self._write()
        except StorageError as error:
            self.logger.warning("progress not recorded in %s: %s", self.where, error)

    def complete(self, **changes: Any) -> None:
        self.record = self.record.model_copy(
            update={"status": "completed", "finished_at": now(), "progress": 1.0, **changes}
        )
        call_with_retries(
            self._write, what=f"write {self.where}", delays=self.FINAL_DELAYS, logger=self.logger
        )

    def fail(self, error: BaseException) -> None:
        """Record the failure; if even that cannot be written, say so in the log and go on
        (the original error is what the caller must see)."""
        self.record = self.record.model_copy(
            update={"status": "failed", "finished_at": now(), "error": failure_message(error)}
        )
        try:
            call_with_retries(
                self._write,
                what=f"record the failure in {self.where}",
                delays=self.FINAL_DELAYS,
                logger=self.logger,
            )
        except Exception as problem:  # noqa: BLE001 - logged; the run's own error is raised
            self.logger.error("the failure could not be recorded in %s: %s", self.where, problem)


def failure_message(error: BaseException) -> str:
    """One line a person can act on."""
    if isinstance(error, KeyboardInterrupt | TerminationSignal):
        # Prefect turns SIGTERM (Cloud Run's timeout or cancel) into TerminationSignal.
        return "the run was interrupted (stopped, cancelled or timed out) before it finished"
    text = " ".join(str(error).split()) or type(error).__name__
    if exception_is_transient(error):
        text += " (still failing after several tries; run it again later)"
    return text


@flow(
    name="generate-video",
    flow_run_name=_flow_run_name,
    # TaskRunner is invariant in its future type, so prefect's own runner does not type-check here.
    task_runner=ThreadPoolTaskRunner(  # type: ignore[arg-type]
        max_workers=get_settings().effective_render_workers
    ),
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
        ),
        logger,
    )
    # A caller polls the record of a creation from the moment its run starts. A local run that
    # fails its checks writes nothing at all.
    if target.record_from_start:
        run.start()

    try:
        # Everything intermediate lives here and goes when the run ends, however it ends.
        with tempfile.TemporaryDirectory(
            prefix="story-video-", ignore_cleanup_errors=True
        ) as scratch:
            outcome = _render(target, options, store_for(settings, creation_id), Path(scratch), run)
        run.complete(
            duration_seconds=outcome.assembled.duration_seconds,
            parts_reused=outcome.reused,
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
    }


@dataclass
class RenderOutcome:
    assembled: AssembledVideo
    parts: int
    reused: int
    keys: set[str]


def _render(
    target: RenderTarget, options: RenderOptions, store: PartStore, work_dir: Path, run: RunRecord
) -> RenderOutcome:
    """Check the story, re-use or render each part, join them, publish the outputs."""
    logger = run.logger
    layout = list_story(target.assets)
    logger.info("story at %s: %d parts", target.assets.describe(), len(layout.parts))
    story = _gather_story(
        layout.problems,
        fetch_part.map(layout.parts, storage=unmapped(target.assets), work_dir=unmapped(work_dir)),
    )
    total = len(story.parts)
    run.update(parts=total)

    narrator = Narrator(make_engine(options.tts or "espeak"), get_settings().cache_dir)
    assert options.language is not None  # resolved() filled it in
    font = imaging.caption_font()
    voice = narrator.engine.voice_id(options.language)
    keys = {
        part.number: part_key(part, options, voice, narrator.sample_rate, font)
        for part in story.parts
    }

    lookups = reuse_part.map(
        [part.number for part in story.parts],
        [keys[part.number] for part in story.parts],
        store=unmapped(store),
        work_dir=unmapped(work_dir),
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

    misses = [part for part in story.parts if part.number not in clips]
    futures: list[Any] = []
    try:
        if misses:
            pages = draw_captions.map(
                misses, options=unmapped(options), work_dir=unmapped(work_dir)
            )
            narrations = narrate_part.map(
                pages, narrator=unmapped(narrator), language=unmapped(options.language)
            )
            rendered = render_clip.map(
                pages, narrations, options=unmapped(options), work_dir=unmapped(work_dir)
            )
            kept = keep_part.map(
                rendered, [keys[part.number] for part in misses], store=unmapped(store)
            )
            futures = [*pages, *narrations, *rendered, *kept]
            stages = {
                id(last): chain
                for *chain, last in zip(pages, narrations, rendered, kept, strict=True)
            }
            for future in as_completed(kept):
                clip = _part_result(stages[id(future)], future)  # a failed part fails the run
                clips[clip.part_number] = clip
                logger.info(
                    "part %d rendered (key %s) (%d/%d)",
                    clip.part_number,
                    keys[clip.part_number][:12],
                    len(clips),
                    total,
                )
                run.update(parts_done=len(clips), progress=round(len(clips) / total, 4))
    except Exception:
        _settle(futures)
        raise
    logger.info(
        "parts: %d re-used, %d rendered; narration synthesized for %d page(s)",
        reused,
        total - reused,
        narrator.synthesized,
    )

    assembled = assemble_video([clips[part.number] for part in story.parts], options, work_dir)
    publish_video(assembled, target.outputs, target.names)
    return RenderOutcome(assembled=assembled, parts=total, reused=reused, keys=set(keys.values()))


def _part_result(upstream: list[Any], last: Any) -> PartClip:
    """The last stage's result; when a part failed, the error of the stage that failed (its
    later stages never ran and only say they were not ready)."""
    try:
        return last.result()
    except Exception:
        for stage in upstream:
            stage.result()  # raises the original error of the first stage that failed
        raise


def _settle(futures: list[Any]) -> None:
    """After a failure: drop the stages not started yet, and let the running ones end before
    the work area is removed under them (a part that finishes is kept in the store, so the
    next run does not render it again)."""
    wrapped = [getattr(future, "wrapped_future", None) for future in futures]
    for inner in wrapped:
        if isinstance(inner, concurrent.futures.Future):
            inner.cancel()  # only succeeds for work that has not started
    wait([future for future, inner in zip(futures, wrapped, strict=True) if not _cancelled(inner)])


def _cancelled(inner: Any) -> bool:
    return isinstance(inner, concurrent.futures.Future) and inner.cancelled()


def _prune_store(store: PartStore, keep: set[str], logger: Any) -> None:
    """Drop a creation's stored parts that its story no longer has (edited captions, images)."""
    try:
        removed = store.prune(keep)
    except Exception as error:  # noqa: BLE001 - tidying up must not fail a finished run
        logger.warning("could not tidy %s: %s", store.describe(), error)
        return
    if removed:
        logger.info("removed %d stored part(s) no longer in the story", removed)


def build_parser() -> argparse.ArgumentParser:
    defaults = RenderOptions()
    parser = argparse.ArgumentParser(
        prog="python flows/video.py",
        description="Render an illustrated story into a narrated MP4 with burned-in captions.",
    )
    parser.add_argument("creation_id", nargs="?", help="render this creation from the bucket")
    parser.add_argument("--assets-dir", type=Path, help="a local story folder (numbered parts)")
    parser.add_argument("--out", type=Path, help="write the video here instead of DIR/video.mp4")
    parser.add_argument("--width", type=int, default=defaults.width)
    parser.add_argument("--height", type=int, default=defaults.height)
    parser.add_argument("--fps", type=int, default=defaults.fps)
    parser.add_argument("--crf", type=int, default=defaults.crf)
    parser.add_argument("--preset", default=defaults.preset, help="x264 preset")
    parser.add_argument(
        "--zoom",
        action=argparse.BooleanOptionalAction,
        default=defaults.zoom,
        help="slow centre zoom on each picture",
    )
    parser.add_argument("--tts", choices=["gtts", "espeak"], help="narration engine")
    parser.add_argument("--language", help="narration language, e.g. en or de")
    return parser


def _quiet_from_here() -> None:
    """The reason must be the last line on stderr: silence Prefect's info logs from now on
    (with no server configured it logs the shutdown of its temporary server at exit)."""
    logging.getLogger("prefect").setLevel(logging.WARNING)


def option_errors(error: ValidationError) -> str:
    """Pydantic's report as CLI words: "--width: must be a multiple of 2; --crf: ..."."""
    reasons = []
    for problem in error.errors():
        field = "-".join(str(part) for part in problem["loc"])
        message = problem["msg"].replace("Input should be", "must be").replace("Value error, ", "")
        reasons.append(f"--{field}: {message}" if field else message)
    return "; ".join(reasons)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.creation_id is None) == (args.assets_dir is None):
        parser.error("give either --assets-dir DIR or a CREATION_ID")
    try:
        options = RenderOptions(
            width=args.width,
            height=args.height,
            fps=args.fps,
            crf=args.crf,
            preset=args.preset,
            zoom=args.zoom,
            tts=args.tts,
            language=args.language,
        )
    except ValidationError as error:
        parser.error(option_errors(error))
    try:
        result = generate_video(
            creation_id=args.creation_id,
            assets_dir=str(args.assets_dir) if args.assets_dir else None,
            out=str(args.out) if args.out else None,
            options=options,
        )
    except KeyboardInterrupt:
        _quiet_from_here()
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI reports every failure as one line
        reason = " ".join(str(error).split()) or type(error).__name__
        _quiet_from_here()
        print(f"error: {reason}", file=sys.stderr)
        return 1
    print(result["video"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
