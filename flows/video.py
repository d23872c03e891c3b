"""The generate-video flow, and its command line.

    python flows/video.py --assets-dir DIR [--out FILE] [options]   # a local story folder
    ENV=p python flows/video.py CREATION_ID [options]                # a creation in the bucket

Loads and checks the whole story first (nothing renders, nothing is written while any part is
wrong), then per part: draw the caption pages, narrate them, render the clip (parts run
concurrently, bounded by the CPU count); then joins the clips and publishes the outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# With no server configured, Prefect starts a temporary one; on a fresh PREFECT_HOME its database
# setup alone can outlast Prefect's 20 s default wait on a small machine. Set before prefect loads.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, get_run_logger, unmapped  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from services.record import VideoRecord, now  # noqa: E402
from services.settings import RenderOptions, get_settings  # noqa: E402
from services.sources import RenderTarget, resolve_target  # noqa: E402
from services.speech import Narrator, make_engine  # noqa: E402
from services.story import Story, StoryError  # noqa: E402
from tasks.assembly import assemble_video, publish_video  # noqa: E402
from tasks.captions import draw_captions  # noqa: E402
from tasks.clips import render_clip  # noqa: E402
from tasks.fetch_assets import fetch_part, list_story  # noqa: E402
from tasks.narration import narrate_part  # noqa: E402


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    if parameters.get("creation_id"):
        return f"video-{parameters['creation_id']}"
    return f"video-{Path(parameters.get('assets_dir') or 'story').name}"


def _gather_story(fetches: list[Any]) -> Story:
    """Wait for every part's check; report all bad files together in one StoryError."""
    parts, problems = [], []
    for future in fetches:
        try:
            parts.append(future.result())
        except StoryError as error:
            problems.extend(error.problems)
    if problems:
        raise StoryError(problems)
    return Story(parts=parts)


def _write_record(target: RenderTarget, record: VideoRecord) -> None:
    target.outputs.write_text(target.names.record, record.to_json(), "application/json")


@flow(
    name="generate-video",
    flow_run_name=_flow_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count() or 2),
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
    """
    from prefect.runtime import flow_run

    logger = get_run_logger()
    settings = get_settings()
    options = (options or RenderOptions()).resolved(settings)
    target = resolve_target(settings, creation_id=creation_id, assets_dir=assets_dir, out=out)
    record = VideoRecord(
        status="running",
        creation_id=creation_id,
        flow_run_id=str(flow_run.id or "") or None,
        started_at=now(),
        video=target.names.video,
    )
    # A caller polls the record of a creation from the moment its run starts. A local run that
    # fails its checks writes nothing at all.
    record_started = target.record_from_start
    if record_started:
        _write_record(target, record)

    try:
        with tempfile.TemporaryDirectory(prefix="story-video-") as scratch:
            work_dir = Path(scratch)
            layout = list_story(target.assets)
            logger.info("story at %s: %d parts", target.assets.describe(), len(layout.parts))
            story = _gather_story(
                fetch_part.map(
                    layout.parts, storage=unmapped(target.assets), work_dir=unmapped(work_dir)
                )
            )
            record = record.model_copy(update={"parts": len(story.parts)})
            if not record_started:
                _write_record(target, record)
                record_started = True

            narrator = Narrator(make_engine(options.tts or "espeak"), settings.cache_dir)
            pages = draw_captions.map(
                story.parts, options=unmapped(options), work_dir=unmapped(work_dir)
            )
            narrations = narrate_part.map(
                pages, narrator=unmapped(narrator), language=unmapped(options.language)
            )
            clips = render_clip.map(
                pages, narrations, options=unmapped(options), work_dir=unmapped(work_dir)
            )
            for done, future in enumerate(as_completed(clips), start=1):
                clip = future.result()  # a failed part fails the run here, naming the part
                logger.info("part %d ready (%d/%d)", clip.part_number, done, len(story.parts))
                record = record.model_copy(
                    update={"parts_done": done, "progress": round(done / len(story.parts), 4)}
                )
                _write_record(target, record)

            assembled = assemble_video([future.result() for future in clips], options, work_dir)
            publish_video(assembled, target.outputs, target.names)
            logger.info(
                "narration synthesized for %d page(s); the rest came from the cache",
                narrator.synthesized,
            )
    except BaseException as error:
        if record_started:
            _write_record(
                target,
                record.model_copy(
                    update={"status": "failed", "finished_at": now(), "error": str(error)}
                ),
            )
        raise

    record = record.model_copy(
        update={
            "status": "completed",
            "finished_at": now(),
            "progress": 1.0,
            "duration_seconds": assembled.duration_seconds,
        }
    )
    _write_record(target, record)
    video_location = target.outputs.describe(target.names.video)
    logger.info("video written to %s (%.2f s)", video_location, assembled.duration_seconds)
    return {
        "video": video_location,
        "duration_seconds": assembled.duration_seconds,
        "parts": len(story.parts),
        "pages": len(assembled.cues),
    }


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
    except ValueError as error:
        parser.error(str(error).replace("\n", " "))
    try:
        result = generate_video(
            creation_id=args.creation_id,
            assets_dir=str(args.assets_dir) if args.assets_dir else None,
            out=str(args.out) if args.out else None,
            options=options,
        )
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI reports every failure as one line
        reason = " ".join(str(error).split()) or type(error).__name__
        print(f"error: {reason}", file=sys.stderr)
        return 1
    print(result["video"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
