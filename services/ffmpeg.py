"""Every ffmpeg and ffprobe call, and the plain functions that build their arguments.

Nothing here runs at import time; binaries are looked up when first used (`FFMPEG_BINARY`,
`FFPROBE_BINARY` override them). Commands are argument lists, never shell strings.

How a part's clip is made (see `build_clip_command`): each page still is decoded once, converted
to yuv420p once and repeated with the `loop` filter (an image input with `-loop 1` would decode the
PNG again for every frame); pages cross-fade (`overlay` or `blend`, see `_crossfade`); the part
fades in from and out to black.
Timestamps are pinned to 1/fps with `settb`/`setpts=N` so every frame count is exact.
However many pages a part has, the command line stays the same length: the pages are one input
(a concat list of the page images, split into one stream per page by the `segment` filter) and
the filter graph is read from a file (`-filter_complex_script`). On Linux one argument may not
exceed 128 KiB, which a 3,000-word caption's graph did.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services import zoom
from services.settings import RenderOptions

AUDIO_SAMPLE_RATE = 48_000  # divisible by every common frame rate, so frame edges fall on samples
AUDIO_BITRATE = "128k"
STEREO_BITRATE = "160k"  # music under the voice


class FfmpegError(RuntimeError):
    """ffmpeg or ffprobe failed; the message holds what it printed last."""


def _binary(env_name: str, default: str) -> str:
    name = os.environ.get(env_name, default)
    found = shutil.which(name)
    if found is None:
        raise FfmpegError(f"{name} is not installed (run scripts/setup.sh, or set {env_name})")
    return found


def _run(args: Sequence[str], what: str) -> subprocess.CompletedProcess[bytes]:
    completed = subprocess.run(list(args), capture_output=True, check=False)
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-6:]
        raise FfmpegError(f"{what} failed (exit {completed.returncode}): " + " | ".join(tail))
    return completed


def ffmpeg(*args: str, what: str = "ffmpeg") -> None:
    _run([_binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-y", *args], what)


def probe(path: Path) -> dict:
    """ffprobe's view of a media file: its streams and format, as parsed JSON."""
    completed = _run(
        [
            _binary("FFPROBE_BINARY", "ffprobe"),
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        f"ffprobe {path.name}",
    )
    return json.loads(completed.stdout)


def count_video_frames(path: Path) -> int:
    completed = _run(
        [
            _binary("FFPROBE_BINARY", "ffprobe"),
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            str(path),
        ],
        f"ffprobe {path.name}",
    )
    return int(completed.stdout.decode().strip().rstrip(","))


def convert_audio_to_wav(source: Path, target: Path, sample_rate: int = AUDIO_SAMPLE_RATE) -> None:
    """Any audio ffmpeg reads -> mono 16-bit PCM WAV at `sample_rate`."""
    ffmpeg(
        "-i",
        str(source),
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(sample_rate),
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
        str(target),
        what=f"converting {source.name} to WAV",
    )


def convert_audio_files_to_wav(
    conversions: list[tuple[Path, Path]], sample_rate: int = AUDIO_SAMPLE_RATE
) -> None:
    """Each (source, target) as `convert_audio_to_wav` makes it, all in one ffmpeg run (one
    process start instead of one per file: narration converts every page of a part at once)."""
    if not conversions:
        return
    inputs: list[str] = []
    outputs: list[str] = []
    for index, (source, target) in enumerate(conversions):
        inputs += ["-i", str(source)]
        outputs += ["-map", f"{index}:a", "-ac", "1", "-ar", str(sample_rate)]
        outputs += ["-c:a", "pcm_s16le", "-f", "wav", str(target)]
    ffmpeg(*inputs, *outputs, what=f"converting {len(conversions)} narration files to WAV")


def extract_frame(
    video: Path, seconds: float, target: Path, *encoder: str, what: str | None = None
) -> None:
    """One decoded frame at `seconds`, full size, in the target's format (PNG for tests and the
    benchmark; `encoder` adds output options such as a JPEG quality)."""
    ffmpeg(
        "-ss",
        f"{seconds:.6f}",
        "-i",
        str(video),
        "-frames:v",
        "1",
        *encoder,
        str(target),
        what=what or f"extracting a frame of {video.name}",
    )


@dataclass(frozen=True)
class StillSegment:
    """One still picture shown for `frames` frames."""

    image: Path
    frames: int


@dataclass(frozen=True)
class ClipPlan:
    """What one part's clip shows, in frames (see services/timeline.py for how it is computed).

    `pages` are the caption pages in order. `crossfades[i]` is the length of the cross-fade between
    page i and page i+1, centred on their boundary (an even number, 0 for a cut).
    With `background` set (zoom on), `pages` are transparent caption bands placed at `band_top`
    over the slowly zooming background; otherwise each page is a full frame.
    """

    pages: list[StillSegment]
    crossfades: list[int]
    fade_frames: int
    background: Path | None = None
    band_top: int = 0
    zoom_amount: float = 0.0

    @property
    def total_frames(self) -> int:
        return sum(page.frames for page in self.pages)


def _page_chain(plan: ClipPlan, pixel_format: str, sources: list[str], fps: int) -> tuple[str, str]:
    """Filters that turn the page streams (`sources`, one label per page) into one stream of
    pages joined by cross-fades.

    The stream is a row of segments joined with `concat`: each page's still on its own, and
    between two pages a short cross-fade made from just the frames it spans (`_crossfade`).
    """
    filters: list[str] = []
    count = len(plan.pages)
    halves = [fade // 2 for fade in plan.crossfades]
    uses: list[list[str]] = []  # for each page, the labels of the copies its segments need
    for index, page in enumerate(plan.pages):
        before = halves[index - 1] if index > 0 else 0
        after = halves[index] if index < count - 1 else 0
        body = page.frames - before - after
        labels = []
        if body > 0:
            labels.append(f"body{index}")
        if before:
            labels.append(f"into{index}")
        if after:
            labels.append(f"from{index}")
        uses.append(labels)
        still = f"[{sources[index]}]format={pixel_format}"
        copies = "".join(f"[{label}src]" for label in labels)
        filters.append(
            f"{still},split={len(labels)}{copies}" if len(labels) > 1 else f"{still}{copies}"
        )
        if body > 0:
            filters.append(_repeat(f"body{index}src", body, fps, f"body{index}"))

    segments: list[str] = []
    for index in range(count):
        if f"body{index}" in uses[index]:
            segments.append(f"body{index}")
        if index < count - 1 and plan.crossfades[index]:
            filters.append(_crossfade(index, plan.crossfades[index], pixel_format, fps))
            segments.append(f"cross{index}")
    if len(segments) == 1:
        return ";".join(filters), segments[0]
    joined = "".join(f"[{segment}]" for segment in segments)
    filters.append(f"{joined}concat=n={len(segments)}:v=1:a=0,settb=1/{fps},setpts=N[pages]")
    return ";".join(filters), "pages"


def _crossfade(index: int, frames: int, pixel_format: str, fps: int) -> str:
    """Page `index` fading into the next over `frames` frames, as `cross{index}`: frame i shows
    i/frames of the next page, as `xfade`'s fade does (`xfade` in ffmpeg 5.1 only mixes 4:4:4
    or RGB, so it converts every frame there and back, at 4-5 ms a full frame).

    Full pages (yuv420p): the next page gets an alpha plane once, fades it in (`fade` on alpha
    only) and is laid over the page (`overlay`). Transparent caption bands (yuva420p): all four
    planes are mixed, transparency too, by `blend` with its opacity set per frame."""
    leaving = f"from{index}src"
    coming = f"into{index + 1}src"
    if pixel_format == "yuv420p":
        return ";".join(
            [
                _repeat(leaving, frames, fps, f"fadeout{index}"),
                f"[{coming}]format=yuva420p[{coming}a]",
                _repeat(f"{coming}a", frames, fps, f"fadein{index}raw"),
                f"[fadein{index}raw]fade=t=in:s=0:n={frames}:alpha=1[fadein{index}]",
                f"[fadeout{index}][fadein{index}]overlay=format=yuv420[cross{index}]",
            ]
        )
    mixer = f"blend@cross{index}"
    opacities = ";".join(
        f"{max(0.0, (frame - 0.5) / fps):.6f} {mixer} all_opacity {1 - frame / frames:.6f}"
        for frame in range(frames)
    )
    return ";".join(
        [
            _repeat(leaving, frames, fps, f"fadeout{index}raw"),
            f"[fadeout{index}raw]sendcmd=c='{opacities}'[fadeout{index}]",
            _repeat(coming, frames, fps, f"fadein{index}"),
            f"[fadeout{index}][fadein{index}]{mixer}=all_mode=normal:all_opacity=1[cross{index}]",
        ]
    )


def _repeat(source: str, frames: int, fps: int, label: str) -> str:
    """A still repeated for `frames` frames, with timestamps pinned to 1/fps."""
    return f"[{source}]loop=loop={frames - 1}:size=1,settb=1/{fps},setpts=N[{label}]"


def _run_zoom_steps(
    plan: ClipPlan, options: RenderOptions, first_frame: int, part_frames: int | None
) -> list[zoom.ZoomStep]:
    """The zoom's steps for this run's frames: a run that starts at `first_frame` of a part of
    `part_frames` gets that stretch of the part's zoom."""
    part_frames = plan.total_frames if part_frames is None else part_frames
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    steps = zoom.zoom_steps(canvas, part_frames, plan.zoom_amount)
    return steps[first_frame : first_frame + plan.total_frames]


def zoom_commands(
    plan: ClipPlan, options: RenderOptions, first_frame: int = 0, part_frames: int | None = None
) -> str:
    """The zoom's crops as `sendcmd` commands: each frame's crop size and where the frame sits in
    the scaled picture (services/zoom.py; the scaled sizes are in `_zoom_filters`).

    ffmpeg's `crop` takes its size only from a command, so the sizes go in one command file;
    each line fires half a frame before its frame, so rounding never delays it a frame."""
    lines = []
    for frame, step in enumerate(_run_zoom_steps(plan, options, first_frame, part_frames)):
        start = max(0.0, (frame - 0.5) / options.fps)
        lines.append(
            f"{start:.6f} crop@zoomcrop w {step.crop_width}, crop@zoomcrop h {step.crop_height}, "
            f"crop@zoomframe x {(step.scale_width - options.width) // 2}, "
            f"crop@zoomframe y {(step.scale_height - options.height) // 2};\n"
        )
    return "".join(lines)


def _by_frame(values: list[int]) -> str:
    """An expression of the frame number `n` that is values[n] (escaped for the graph): a
    balanced tree of comparisons, each stretch of equal values one leaf."""

    def pick(low: int, high: int) -> str:
        if all(value == values[low] for value in values[low:high]):
            return str(values[low])
        middle = (low + high) // 2
        return f"if(lt(n\\,{middle})\\,{pick(low, middle)}\\,{pick(middle, high)})"

    return pick(0, len(values))


def _zoom_filters(
    plan: ClipPlan,
    options: RenderOptions,
    commands: Path,
    first_frame: int = 0,
    part_frames: int | None = None,
) -> str:
    """The zooming background: the canvas still, repeated, then per frame a centred crop, a
    scale and the centred frame (`zoom_commands` sets the crops; the sizes here are the first
    frame's, replaced before any frame passes).

    Every new size makes `scale` build a new scaler, so it should build one per frame, not one per
    command: its sizes are expressions of the frame number, evaluated per frame, rather than two
    commands. With the filter's default threads (one per core) each build would also start a pool
    of threads and a scaler per thread, which cost more than the scaling itself; a
    single-threaded scaler gives the same pixels for about half the CPU (the encoder keeps the
    cores busy anyway)."""
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    steps = _run_zoom_steps(plan, options, first_frame, part_frames)
    widths = _by_frame([step.scale_width for step in steps])
    heights = _by_frame([step.scale_height for step in steps])
    fps = options.fps
    return (
        f"[0:v]format=yuv420p,loop=loop={plan.total_frames - 1}:size=1,settb=1/{fps},setpts=N,"
        f"sendcmd=f={_filter_path(commands)},"
        f"crop@zoomcrop=w={canvas.view_width}:h={canvas.view_height},"
        f"scale@zoomscale=w={widths}:h={heights}:eval=frame:flags=bicubic:threads=1,"
        f"crop@zoomframe=w={options.width}:h={options.height}:x=0:y=0[background]"
    )


def _filter_path(path: Path) -> str:
    """A file name as a filter option value: escaped for the option, then for the graph."""
    value = str(path)
    for special in ("\\", "'", ":"):
        value = value.replace(special, "\\" + special)
    for special in ("\\", "'", "[", "]", ",", ";"):
        value = value.replace(special, "\\" + special)
    return value


def zoom_commands_path(target: Path) -> Path:
    return target.with_name(target.stem + ".zoom-commands.txt")


def _split_pages(page_input: int, count: int, pixel_format: str) -> tuple[list[str], list[str]]:
    """Filters that convert the one input holding every page image to `pixel_format` (once, with
    one scaler, not one per page) and split it into a stream per page; and those streams' labels."""
    converted = f"[{page_input}:v]format={pixel_format}"
    if count == 1:
        return [f"{converted}[page0]"], ["page0"]
    labels = [f"page{index}" for index in range(count)]
    cuts = "|".join(str(index) for index in range(1, count))
    outputs = "".join(f"[{label}]" for label in labels)
    return [f"{converted},segment=frames={cuts}{outputs}"], labels


def image_list(images: list[Path]) -> str:
    """The concat demuxer's list of still images, in order: one input however many there are."""
    lines = []
    for path in images:
        quoted = str(path.resolve()).replace("'", r"'\''")
        lines.append(f"file '{quoted}'\n")
    return "".join(lines)


@dataclass(frozen=True)
class ClipCommand:
    """ffmpeg arguments (without the binary) and the files they name, to be written first."""

    args: list[str]
    files: dict[Path, str]


def build_clip_command(
    plan: ClipPlan,
    options: RenderOptions,
    target: Path,
    first_frame: int = 0,
    part_frames: int | None = None,
) -> ClipCommand:
    """The ffmpeg run that encodes one part's silent clip to `target`. The page list and the
    filter graph are files beside the target, so the arguments do not grow with the pages.

    A long part is rendered in several runs (see `split_plan`): `plan` is then one run's pages,
    starting at `first_frame` of a part of `part_frames`; the part's fades and zoom stay the
    part's."""
    fps = options.fps
    part_frames = plan.total_frames if part_frames is None else part_frames
    page_list = target.with_name(f"{target.stem}.pages.txt")
    graph_file = target.with_name(f"{target.stem}.filter.txt")
    inputs: list[str] = []
    filters: list[str] = []
    if plan.background is not None:
        inputs += ["-framerate", str(fps), "-i", str(plan.background)]
        inputs += ["-f", "concat", "-safe", "0", "-i", str(page_list)]
        splits, sources = _split_pages(1, len(plan.pages), "yuva420p")
        filters += splits
        chain, bands = _page_chain(plan, "yuva420p", sources, fps=fps)
        filters.append(chain)
        filters.append(
            _zoom_filters(plan, options, zoom_commands_path(target), first_frame, part_frames)
        )
        filters.append(f"[background][{bands}]overlay=0:{plan.band_top}:format=yuv420[composed]")
        current = "composed"
    else:
        inputs += ["-f", "concat", "-safe", "0", "-i", str(page_list)]
        splits, sources = _split_pages(0, len(plan.pages), "yuv420p")
        filters += splits
        chain, current = _page_chain(plan, "yuv420p", sources, fps=fps)
        filters.append(chain)

    last = plan.total_frames
    fades = []
    if plan.fade_frames > 0 and first_frame == 0:
        fades.append(f"fade=t=in:s=0:n={plan.fade_frames}")
    if plan.fade_frames > 0 and first_frame + last == part_frames:
        fades.append(f"fade=t=out:s={last - plan.fade_frames}:n={plan.fade_frames}")
    tail = ",".join([*fades, "format=yuv420p"])
    filters.append(f"[{current}]{tail}[video]")

    args = [
        *inputs,
        "-filter_complex_script",
        str(graph_file),
        "-map",
        "[video]",
        "-frames:v",
        str(last),
        "-r",
        str(fps),
        "-c:v",
        "libx264",
        "-preset",
        options.preset,
        "-crf",
        str(options.crf),
        "-pix_fmt",
        "yuv420p",
        "-an",
        str(target),
    ]
    files = {
        page_list: image_list([page.image for page in plan.pages]),
        graph_file: ";\n".join(filters) + "\n",
    }
    if plan.background is not None:
        files[zoom_commands_path(target)] = zoom_commands(plan, options, first_frame, part_frames)
    return ClipCommand(args=args, files=files)


# ffmpeg 5.1 looks through every filter of a graph to pick the next one to run, so a graph's
# cost per frame grows with its pages, and so does its memory. Measured with bench/long_part.py
# (240x360, 20 frames a page; a busy 2-core machine): 1,000 pages in one run took 56-79 s and
# 2.2 GB, in runs of 64 pages 30 s and 196 MB; 100 pages, 3.7 s either way.
MAX_PAGES_PER_RUN = 64


def split_plan(plan: ClipPlan, max_pages: int) -> list[tuple[ClipPlan, int]]:
    """A part's plan as runs of at most about `max_pages` pages, each with the frame it starts
    at. A run ends inside a page's still stretch (never in a cross-fade or a part fade): that
    page ends one run and begins the next, so the joined clip is frame for frame the same."""
    count = len(plan.pages)
    if count <= max_pages:
        return [(plan, 0)]
    runs: list[tuple[ClipPlan, int]] = []
    pages: list[StillSegment] = []
    fades: list[int] = []
    start = 0  # the part's frame where the current run starts
    for index, page in enumerate(plan.pages):
        if pages:
            fades.append(plan.crossfades[index - 1])
        pages.append(page)
        before = plan.crossfades[index - 1] // 2 if index else 0
        after = plan.crossfades[index] // 2 if index < count - 1 else 0
        body = page.frames - before - after
        cut = before + body // 2
        at = start + sum(p.frames for p in pages[:-1]) + cut  # the cut, in the part's frames
        if (
            len(pages) >= max_pages
            and index < count - 1
            and body >= 2
            and plan.fade_frames <= at <= plan.total_frames - plan.fade_frames
        ):
            pages[-1] = StillSegment(image=page.image, frames=cut)
            runs.append((_with_pages(plan, pages, fades), start))
            start = at
            pages = [StillSegment(image=page.image, frames=page.frames - cut)]
            fades = []
    runs.append((_with_pages(plan, pages, fades), start))
    return runs


def _with_pages(plan: ClipPlan, pages: list[StillSegment], crossfades: list[int]) -> ClipPlan:
    return ClipPlan(
        pages=pages,
        crossfades=crossfades,
        fade_frames=plan.fade_frames,
        background=plan.background,
        band_top=plan.band_top,
        zoom_amount=plan.zoom_amount,
    )


def _encode(command: ClipCommand, what: str) -> None:
    for path, text in command.files.items():
        path.write_text(text, encoding="utf-8")
    _run(
        [_binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-y", *command.args], what
    )


def encode_clip(plan: ClipPlan, options: RenderOptions, target: Path, what: str) -> None:
    """One part's silent clip: one ffmpeg run, or for a long part several joined without
    re-encoding."""
    runs = split_plan(plan, MAX_PAGES_PER_RUN)
    if len(runs) == 1:
        _encode(build_clip_command(plan, options, target), what)
        return
    pieces: list[tuple[Path, int]] = []
    for index, (run, first_frame) in enumerate(runs):
        piece = target.with_name(f"{target.stem}.{index:04d}{target.suffix}")
        command = build_clip_command(run, options, piece, first_frame, plan.total_frames)
        _encode(command, f"{what} (run {index + 1} of {len(runs)})")
        pieces.append((piece, run.total_frames))
    listing = target.with_name(f"{target.stem}.pieces.txt")
    listing.write_text(concat_list(pieces, options.fps), encoding="utf-8")
    ffmpeg(
        *["-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy"],
        *["-f", "mp4", str(target)],
        what=f"{what} (joining {len(pieces)} runs)",
    )
    for piece, _ in pieces:
        piece.unlink(missing_ok=True)


def build_soundtrack_command(
    source: Path,
    target: Path,
    *,
    audio_filters: str | None = None,
    audio_bitrate: str = AUDIO_BITRATE,
) -> list[str]:
    """Arguments that encode the soundtrack (through `audio_filters`, if any) to AAC, once, in an
    MP4 audio file: the video's sound, muxed later without re-encoding."""
    return [
        "-i",
        str(source),
        "-map",
        "0:a:0",
        *(["-af", audio_filters] if audio_filters else []),
        "-c:a",
        "aac",
        # The default "twoloop" coder costs twice the CPU for no audible gain on speech at 128k.
        "-aac_coder",
        "fast",
        "-b:a",
        audio_bitrate,
        "-f",
        "mp4",
        str(target),
    ]


def encode_soundtrack(
    source: Path,
    target: Path,
    *,
    audio_filters: str | None = None,
    audio_bitrate: str = AUDIO_BITRATE,
) -> None:
    ffmpeg(
        *build_soundtrack_command(
            source, target, audio_filters=audio_filters, audio_bitrate=audio_bitrate
        ),
        what="encoding the soundtrack",
    )


def build_assembly_command(
    concat_list: Path, soundtrack: Path, target: Path, *, chapters: Path | None = None
) -> list[str]:
    """Arguments that join the part clips and lay the encoded soundtrack under them, neither
    re-encoded, with `chapters` (an FFMETADATA file) as chapter marks, the index up front."""
    inputs = ["-f", "concat", "-safe", "0", "-i", str(concat_list), "-i", str(soundtrack)]
    if chapters is not None:
        inputs += ["-f", "ffmetadata", "-i", str(chapters)]
    return [
        *inputs,
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        *(["-map_chapters", "2"] if chapters is not None else []),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(target),
    ]


def concat_list(clips: list[tuple[Path, int]], fps: int) -> str:
    """The concat demuxer's list: each clip with its exact duration. Without `duration` the
    demuxer uses the duration stored in each MP4, which is rounded to milliseconds, and at frame
    rates like 12 fps the rounding adds up across parts into a few ticks of drift."""
    lines = []
    for path, frames in clips:
        quoted = str(path.resolve()).replace("'", r"'\''")
        lines.append(f"file '{quoted}'\nduration {frames / fps:.6f}\n")
    return "".join(lines)


def assemble_video(
    clips: list[tuple[Path, int]],
    fps: int,
    soundtrack: Path,
    target: Path,
    *,
    chapters: Path | None = None,
) -> None:
    """Join part clips (same encoder settings; each with its frame count) and mux the encoded
    soundtrack (`encode_soundtrack`) and chapters into `target`, copying both."""
    listing = target.with_suffix(".concat.txt")
    listing.write_text(concat_list(clips, fps), encoding="utf-8")
    ffmpeg(
        *build_assembly_command(listing, soundtrack, target, chapters=chapters),
        what="assembling the video",
    )


def extract_poster(video: Path, seconds: float, target: Path) -> None:
    """One frame of `video` at `seconds`, full size, as a JPEG of good quality."""
    extract_frame(
        video,
        seconds,
        target,
        "-q:v",
        "2",
        "-update",
        "1",
        what=f"taking the poster frame of {video.name}",
    )


# --- the soundtrack: loudness, music, mixing --------------------------------------------------


@dataclass(frozen=True)
class Loudness:
    """EBU R128 figures of a piece of audio, as ffmpeg's ebur128 filter measures them."""

    integrated: float  # LUFS; -70 when nothing is loud enough to count (silence)
    true_peak: float  # dBTP (-inf for digital silence); nan when not measured
    loudness_range: float  # LU


def _ffmpeg_log(args: Sequence[str], what: str) -> str:
    """Run ffmpeg and return what it printed (filters such as ebur128 report there)."""
    completed = _run(
        [_binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-nostats", "-y", *args],
        what,
    )
    return completed.stderr.decode("utf-8", "replace")


# framelog=verbose: the per-block lines go to a level that is not printed; the summary still is.
def _ebur128(true_peak: bool) -> str:
    return "ebur128=framelog=verbose" + (":peak=true" if true_peak else "")


def parse_ebur128_summary(log: str, instance: str | None = None) -> Loudness:
    """The figures of the last ebur128 summary in an ffmpeg log (of the filter instance named
    `instance`, as in `ebur128@name`, when several measured side by side)."""
    start = log.rfind(f"[{instance} @") if instance else log.rfind("Summary:")
    summary = log[start:] if start >= 0 else ""
    integrated = re.search(r"\bI:\s+(-?[\d.]+|-inf) LUFS", summary)
    loudness_range = re.search(r"\bLRA:\s+(-?[\d.]+) LU", summary)
    true_peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if integrated is None or loudness_range is None:
        raise FfmpegError("ffmpeg's loudness summary was not found in its output")
    return Loudness(
        integrated=float(integrated.group(1)),
        true_peak=float(true_peak.group(1)) if true_peak else math.nan,
        loudness_range=float(loudness_range.group(1)),
    )


def measure_loudness(path: Path, true_peak: bool = True) -> Loudness:
    """Integrated loudness, loudness range and (unless not asked: it costs as much again) true
    peak of the first audio stream of `path`."""
    log = _ffmpeg_log(
        ["-i", str(path), "-map", "0:a:0", "-af", _ebur128(true_peak), "-f", "null", "-"],
        f"measuring the loudness of {path.name}",
    )
    return parse_ebur128_summary(log)


def analyse_speech(
    path: Path,
    silence_db: float,
    min_silence: float,
    resampled: Path | None = None,
    samples: int = 0,
) -> tuple[Loudness, list[tuple[float, float | None]]]:
    """Loudness of a narration track, and its silences at least `min_silence` seconds long
    (start, end; end None when the silence lasts to the end), in one decoding pass. With
    `resampled`, the same pass writes the track there at AUDIO_SAMPLE_RATE (16-bit WAV), exactly
    `samples` long, and what it measures is that track."""
    analysis = f"silencedetect=noise={silence_db}dB:duration={min_silence},{_ebur128(False)}"
    output = ["-f", "null", "-"]
    if resampled is not None:
        analysis = (
            f"aresample={AUDIO_SAMPLE_RATE},apad=whole_len={samples},"
            f"atrim=end_sample={samples},{analysis}"
        )
        output = ["-c:a", "pcm_s16le", "-f", "wav", str(resampled)]
    log = _ffmpeg_log(
        ["-i", str(path), "-map", "0:a:0", "-af", analysis, *output],
        f"analysing {path.name}",
    )
    silences: list[tuple[float, float | None]] = []
    for kind, value in re.findall(r"silence_(start|end): (-?[\d.]+)", log):
        if kind == "start":
            silences.append((max(0.0, float(value)), None))
        elif silences and silences[-1][1] is None:
            silences[-1] = (silences[-1][0], float(value))
    return parse_ebur128_summary(log), silences


@dataclass(frozen=True)
class AudioCheck:
    """What decoding the start of an audio file found."""

    seconds: float  # how much of it was decoded (all of it when shorter than asked)
    peak_db: float  # loudest sample, dBFS (-inf: digital silence)


def check_audio(path: Path, seconds: float) -> AudioCheck:
    """Decode up to `seconds` of the first audio stream; FfmpegError when there is none or it
    does not decode."""
    info = probe(path)
    if not any(stream.get("codec_type") == "audio" for stream in info.get("streams", [])):
        raise FfmpegError("it has no audio stream")
    log = _ffmpeg_log(
        [
            "-t",
            f"{seconds:.3f}",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "volumedetect",
            "-f",
            "null",
            "-",
        ],
        f"decoding {path.name}",
    )
    samples = re.search(r"n_samples: (\d+)", log)
    peak = re.search(r"max_volume: (-?[\d.]+|-inf) dB", log)
    stream = next(stream for stream in info["streams"] if stream.get("codec_type") == "audio")
    per_second = int(stream.get("channels") or 1) * int(stream.get("sample_rate") or 1)
    return AudioCheck(
        seconds=int(samples.group(1)) / per_second if samples else 0.0,
        peak_db=float(peak.group(1)) if peak else -math.inf,
    )


def decode_music(source: Path, seconds: float, target: Path) -> Loudness:
    """At most `seconds` of `source` (nothing more is read) as 48 kHz stereo PCM WAV, and its
    loudness."""
    log = _ffmpeg_log(
        [
            "-t",
            f"{seconds:.6f}",
            "-i",
            str(source),
            "-map",
            "0:a:0",
            "-af",
            f"aresample={AUDIO_SAMPLE_RATE},aformat=channel_layouts=stereo,{_ebur128(False)}",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            str(target),
        ],
        f"decoding {source.name}",
    )
    return parse_ebur128_summary(log)


@dataclass(frozen=True)
class MusicBed:
    """How the music goes under the narration (times in samples at AUDIO_SAMPLE_RATE).

    `music` holds the decoded music, `music_samples` long. When it is shorter than the
    narration it is looped: its first `crossfade` samples play once, then a loop unit repeats
    (the rest of the music, its end cross-faded into its beginning, so the loop has no seam).
    `envelope` is a mono WAV of the ducking gain (0..1) at a low rate, stretched to the audio.
    """

    music: Path
    music_samples: int
    envelope: Path
    gain_db: float
    fade_in: float
    fade_out: float
    crossfade: int


def music_bed_filters(bed: MusicBed, total_samples: int) -> str:
    """Filters from input 1 (music) and 2 (envelope) to the bed `[bed]`, stereo, as long as the
    narration."""
    rate = AUDIO_SAMPLE_RATE
    seconds = total_samples / rate
    filters: list[str] = []
    if bed.music_samples >= total_samples:
        filters.append(f"[1:a]atrim=end_sample={total_samples}[music]")
    else:
        head, unit = bed.crossfade, bed.music_samples - bed.crossfade
        filters += [
            "[1:a]asplit=3[head_src][body_src][seam_src]",
            f"[head_src]atrim=end_sample={head}[head]",
            f"[body_src]atrim=start_sample={head},asetpts=PTS-STARTPTS[body]",
            f"[seam_src]atrim=end_sample={head},asetpts=PTS-STARTPTS[seam]",
            # The end of the music fades into its beginning: one unit of the loop.
            f"[body][seam]acrossfade=ns={head}:c1=qsin:c2=qsin[unit]",
            f"[unit]aloop=loop=-1:size={unit}[loops]",
            f"[head][loops]concat=n=2:v=0:a=1,atrim=end_sample={total_samples}[music]",
        ]
    fade_out_start = max(0.0, seconds - bed.fade_out)
    filters += [
        f"[music]aformat=sample_fmts=fltp:channel_layouts=stereo,"
        f"afade=t=in:d={bed.fade_in:.3f},"
        f"afade=t=out:st={fade_out_start:.6f}:d={bed.fade_out:.3f},"
        f"volume={bed.gain_db:.3f}dB[level]",
        f"[2:a]aresample={rate},aformat=sample_fmts=fltp,pan=stereo|c0=c0|c1=c0,"
        f"apad,atrim=end_sample={total_samples}[envelope]",
        "[level][envelope]amultiply[bed]",
    ]
    return ";".join(filters)


def mix_music(narration: Path, bed: MusicBed, total_samples: int, target: Path) -> Loudness:
    """The narration (centred) with the music bed under it, as 32-bit float stereo PCM WAV
    (headroom: the level is set later), and the mix's loudness."""
    voice = "[0:a]aformat=sample_fmts=fltp,pan=stereo|c0=0.70710678*c0|c1=0.70710678*c0[voice]"
    graph = ";".join(
        [
            voice,
            music_bed_filters(bed, total_samples),
            f"[voice][bed]amix=inputs=2:duration=first:normalize=0,{_ebur128(False)}[mix]",
        ]
    )
    log = _ffmpeg_log(
        [
            "-i",
            str(narration),
            "-i",
            str(bed.music),
            "-i",
            str(bed.envelope),
            "-filter_complex",
            graph,
            "-map",
            "[mix]",
            "-c:a",
            "pcm_f32le",
            "-f",
            "wav",
            str(target),
        ],
        "mixing the music under the narration",
    )
    return parse_ebur128_summary(log)


def level_filters(gain_db: float, ceiling_db: float) -> str:
    """Gain, then a look-ahead peak limiter that only touches the few peaks above the ceiling.

    The limiter sees samples, not the peaks between them; the ceiling leaves room for those (and
    for the AAC encoder's overshoot), and the finished file's true peak is measured. Running it
    at 4x the rate instead cost three times the CPU of all the other loudness steps together."""
    ceiling = 10 ** (ceiling_db / 20)
    return f"volume={gain_db:.3f}dB,alimiter=limit={ceiling:.6f}:attack=5:release=80:level=false"


def leveled_loudness(source: Path, gain_db: float, ceiling_db: float) -> Loudness:
    """The loudness `source` would have after `level_filters` (nothing is written)."""
    return leveled_loudnesses(source, [gain_db], ceiling_db)[0]


def leveled_loudnesses(
    source: Path, gains_db: Sequence[float], ceiling_db: float
) -> list[Loudness]:
    """The loudness `source` would have after `level_filters` at each of `gains_db`, measured
    side by side in one run: the source is read and decoded once (nothing is written)."""
    count = len(gains_db)
    graph = [f"[0:a]asplit={count}" + "".join(f"[in{index}]" for index in range(count))]
    outputs: list[str] = []
    for index, gain in enumerate(gains_db):
        graph.append(
            f"[in{index}]{level_filters(gain, ceiling_db)},"
            f"{_ebur128(False).replace('ebur128', f'ebur128@gain{index}', 1)}[out{index}]"
        )
        outputs += ["-map", f"[out{index}]", "-f", "null", "-"]
    log = _ffmpeg_log(
        ["-i", str(source), "-filter_complex", ";".join(graph), *outputs],
        f"measuring {source.name} at {count} new level(s)",
    )
    return [parse_ebur128_summary(log, f"ebur128@gain{index}") for index in range(count)]
