"""The command line: `python flows/video.py --assets-dir DIR` or `... CREATION_ID` (also installed
as the `story-video` command). It imports the flow (flows/video.py) only after the arguments are
checked; the flow module never imports this one.

Exit status 0 with the video's location on stdout; non-zero with `error: <reason>` as the last
line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from pydantic import ValidationError

from services.settings import RenderOptions

# A heartbeat every 30 s (Prefect's default: 180), read when Prefect loads: the API answers a run
# with no heartbeat for RUN_HEARTBEAT_GRACE_SECONDS (90) as failed, its machine gone.
os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")


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
    parser.add_argument(
        "--language",
        default=defaults.language,
        help="narration language, a tag such as en, en-GB, de, zh-TW; auto (the default) reads "
        "it off the captions' script and words, else uses TTS_LANGUAGE",
    )
    parser.add_argument(
        "--pace",
        choices=["relaxed", "normal"],
        default=defaults.pace,
        help="relaxed: a bedtime read with page-turn pauses (the default); normal: shorter gaps",
    )
    parser.add_argument(
        "--speech-rate",
        type=float,
        default=defaults.speech_rate,
        metavar="FACTOR",
        help="speaking rate, 1 = reading aloud to a child, about 140 words a minute (0.5 to 2)",
    )
    parser.add_argument(
        "--caption-position",
        choices=["auto", "bottom", "top", "middle"],
        default=defaults.caption_position,
        help="where the captions sit",
    )
    parser.add_argument(
        "--caption-size",
        type=float,
        default=defaults.caption_size,
        metavar="SCALE",
        help="caption text size, 1 = default (0.5 to 2)",
    )
    parser.add_argument(
        "--caption-style",
        choices=["outline", "box"],
        default=defaults.caption_style,
        help="outline: outlined text over a soft scrim behind the lines; box: text on a rounded "
        "translucent box",
    )
    parser.add_argument(
        "--read-along",
        action=argparse.BooleanOptionalAction,
        default=defaults.read_along,
        help="highlight each word as it is spoken (and word timestamps in the VTT)",
    )
    parser.add_argument(
        "--music",
        metavar="FILE",
        type=Path,
        help="background music (mp3, m4a, aac, ogg, wav, flac) instead of the story's music.*",
    )
    parser.add_argument(
        "--no-music", action="store_true", help="no background music, even if the story has one"
    )
    parser.add_argument(
        "--music-volume",
        type=float,
        default=defaults.music_volume,
        metavar="DB",
        help="music level in dB relative to the default bed level (-30 to 6)",
    )
    return parser


def quiet_from_here() -> None:
    """The reason must be the last line on stderr. Prefect sends events and logs from background
    services that it drains at exit, and logs while doing so ("EventsWorker - Still processing
    items..."), and with no server configured it logs the shutdown of its temporary server: drain
    them now, then silence every Prefect logger for the rest of the process."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (EventsWorker, APILogWorker):
        with contextlib.suppress(Exception):  # best effort: the reason is printed regardless
            service.drain_all(timeout=10)
    prefect_loggers = [
        name for name in logging.root.manager.loggerDict if name.split(".")[0] == "prefect"
    ]
    for name in ["prefect", *prefect_loggers]:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def local_server_url() -> str:
    """Where `prefect server start` listens by default (PREFECT_SERVER_API_HOST/PORT)."""
    host = os.environ.get("PREFECT_SERVER_API_HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    port = os.environ.get("PREFECT_SERVER_API_PORT", "4200")
    return f"http://{host}:{port}/api"


def answers_as_prefect(api_url: str) -> bool:
    """True when a Prefect server answers its health check at api_url (within half a second)."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=0.5) as answer:
            return bool(answer.status == 200 and answer.read().strip() == b"true")
    except (OSError, ValueError):
        return False


def blank_api_url_is_unset() -> None:
    """`PREFECT_API_URL=` (set but empty, as a copied .env or a container may leave it) means no
    server, as unset does. Prefect would take "" for a server's address and fail on every event
    it sends ("Cannot put items in a stopped service instance"). Before Prefect is imported."""
    if os.environ.get("PREFECT_API_URL") == "":
        del os.environ["PREFECT_API_URL"]


@contextlib.contextmanager
def prefect_server() -> Iterator[None]:
    """The Prefect server this run reports to.

    With no API URL configured, Prefect would start a temporary server for the run (about ten
    seconds here). A server already running on the local default port is used instead, and the
    log says so; otherwise the log says how to keep one running for later runs. The temporary
    server runs without telemetry: on a fresh PREFECT_HOME its first telemetry write raced the
    database setup and printed a "database is locked" traceback before every first video."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    if PREFECT_API_URL.value():
        yield
        return
    url = local_server_url()
    if answers_as_prefect(url):
        print(
            f"using the Prefect server running at {url} (PREFECT_API_URL is not set)",
            file=sys.stderr,
        )
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
        return
    print(
        f"no Prefect server at {url}: starting a temporary one for this run; "
        "`.venv/bin/prefect server start --background` keeps one running for later runs "
        "(`.venv/bin/prefect server stop` ends it)",
        file=sys.stderr,
    )
    # An empty URL from a .env file: no server, as unset (see blank_api_url_is_unset).
    with temporary_settings(
        updates={PREFECT_SERVER_ANALYTICS_ENABLED: False}, restore_defaults={PREFECT_API_URL}
    ):
        yield


def patient_temporary_server() -> AbstractContextManager[object]:
    """With no server configured, Prefect starts a temporary one; on a fresh PREFECT_HOME its
    database setup alone can outlast Prefect's 20 s default wait on a small machine. Wait up to
    120 s instead, unless the environment says otherwise."""
    from prefect.settings import (
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    if PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.name in os.environ:
        return nullcontext()
    return temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 120})


def option_errors(error: ValidationError) -> str:
    """Pydantic's report as CLI words: "--width: must be a multiple of 2; --crf: ..."."""
    reasons = []
    for problem in error.errors():
        field = "-".join(str(part) for part in problem["loc"]).replace("_", "-")
        message = problem["msg"].replace("Input should be", "must be").replace("Value error, ", "")
        reasons.append(f"--{field}: {message}" if field else message)
    return "; ".join(reasons)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.creation_id is None) == (args.assets_dir is None):
        parser.error("give either --assets-dir DIR or a CREATION_ID")
    if args.music is not None and args.no_music:
        parser.error("give --music FILE or --no-music, not both")
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
            pace=args.pace,
            speech_rate=args.speech_rate,
            caption_position=args.caption_position,
            caption_size=args.caption_size,
            caption_style=args.caption_style,
            read_along=args.read_along,
            music=not args.no_music,
            music_volume=args.music_volume,
            music_file=str(args.music.resolve()) if args.music is not None else None,
        )
    except ValidationError as error:
        parser.error(option_errors(error))
    blank_api_url_is_unset()
    from flows.video import generate_video  # imports Prefect: after the arguments are checked

    try:
        with patient_temporary_server(), prefect_server():
            result = generate_video(
                creation_id=args.creation_id,
                assets_dir=str(args.assets_dir) if args.assets_dir else None,
                out=str(args.out) if args.out else None,
                options=options,
            )
    except KeyboardInterrupt:
        quiet_from_here()
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI reports every failure as one line
        reason = " ".join(str(error).split()) or type(error).__name__
        quiet_from_here()
        print(f"error: {reason}", file=sys.stderr)
        return 1
    print(result["video"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
