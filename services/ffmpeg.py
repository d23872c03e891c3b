"""Every ffmpeg and ffprobe call, and the plain functions that build their arguments.

Nothing here runs at import time; binaries are looked up when first used (`FFMPEG_BINARY`,
`FFPROBE_BINARY` override them). Commands are argument lists, never shell strings.

How a part's clip is made (see `build_clip_command`): each page still is decoded once, converted
to yuv420p once and repeated with the `loop` filter (an image input with `-loop 1` would decode the
PNG again for every frame); pages cross-fade with `xfade`; the part fades in from and out to black.
Timestamps are pinned to 1/fps with `settb`/`setpts=N` so every frame count is exact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services import zoom
from services.settings import RenderOptions

AUDIO_SAMPLE_RATE = 48_000  # divisible by every common frame rate, so frame edges fall on samples
AUDIO_BITRATE = "128k"


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


def extract_frame(video: Path, seconds: float, target: Path) -> None:
    """One decoded frame at `seconds` as PNG (used by tests and the benchmark to look at output)."""
    ffmpeg(
        "-ss",
        f"{seconds:.4f}",
        "-i",
        str(video),
        "-frames:v",
        "1",
        str(target),
        what=f"extracting a frame of {video.name}",
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


def _page_chain(plan: ClipPlan, pixel_format: str, first_input: int, fps: int) -> tuple[str, str]:
    """Filters that turn the page inputs into one stream of pages joined by cross-fades.

    The stream is a row of segments joined with `concat`: each page's still on its own, and
    between two pages a short cross-fade made by `xfade` from just the frames it spans. (`xfade`
    on whole pages would also work, but in ffmpeg 5.1 it costs CPU on every frame it passes.)
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
        still = f"[{first_input + index}:v]format={pixel_format}"
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
            fade = plan.crossfades[index]
            filters.append(_repeat(f"from{index}src", fade, fps, f"fadeout{index}"))
            filters.append(_repeat(f"into{index + 1}src", fade, fps, f"fadein{index}"))
            filters.append(
                f"[fadeout{index}][fadein{index}]xfade=transition=fade:"
                f"duration={fade / fps:.6f}:offset=0[cross{index}]"
            )
            segments.append(f"cross{index}")
    if len(segments) == 1:
        return ";".join(filters), segments[0]
    joined = "".join(f"[{segment}]" for segment in segments)
    filters.append(f"{joined}concat=n={len(segments)}:v=1:a=0,settb=1/{fps},setpts=N[pages]")
    return ";".join(filters), "pages"


def _repeat(source: str, frames: int, fps: int, label: str) -> str:
    """A still repeated for `frames` frames, with timestamps pinned to 1/fps."""
    return f"[{source}]loop=loop={frames - 1}:size=1,settb=1/{fps},setpts=N[{label}]"


def zoom_commands(plan: ClipPlan, options: RenderOptions) -> str:
    """The zoom as `sendcmd` commands: each frame's crop and scale (services/zoom.py).

    ffmpeg's `crop` takes its size only from a command, so the sizes go in one command file;
    each line fires half a frame before its frame, so rounding never delays it a frame."""
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    lines = []
    for frame, step in enumerate(zoom.zoom_steps(canvas, plan.total_frames, plan.zoom_amount)):
        start = max(0.0, (frame - 0.5) / options.fps)
        lines.append(
            f"{start:.6f} crop@zoomcrop w {step.crop_width}, crop@zoomcrop h {step.crop_height}, "
            f"scale@zoomscale w {step.scale_width}, scale@zoomscale h {step.scale_height}, "
            f"crop@zoomframe x {(step.scale_width - options.width) // 2}, "
            f"crop@zoomframe y {(step.scale_height - options.height) // 2};\n"
        )
    return "".join(lines)


def _zoom_filters(plan: ClipPlan, options: RenderOptions, commands: Path) -> str:
    """The zooming background: the canvas still, repeated, then per frame a centred crop, a
    scale and the centred frame (`zoom_commands` sets the sizes; the sizes here are the first
    frame's, replaced before any frame passes)."""
    canvas = zoom.zoom_canvas(options.width, options.height, plan.zoom_amount)
    fps = options.fps
    return (
        f"[0:v]format=yuv420p,loop=loop={plan.total_frames - 1}:size=1,settb=1/{fps},setpts=N,"
        f"sendcmd=f={_filter_path(commands)},"
        f"crop@zoomcrop=w={canvas.view_width}:h={canvas.view_height},"
        f"scale@zoomscale=w={options.width}:h={options.height}:flags=bicubic,"
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


def build_clip_command(plan: ClipPlan, options: RenderOptions, target: Path) -> list[str]:
    """ffmpeg arguments (without the binary) that encode one part's silent clip to `target`."""
    fps = options.fps
    inputs: list[str] = []
    filters: list[str] = []
    if plan.background is not None:
        inputs += ["-framerate", str(fps), "-i", str(plan.background)]
        for page in plan.pages:
            inputs += ["-framerate", str(fps), "-i", str(page.image)]
        chain, bands = _page_chain(plan, "yuva420p", first_input=1, fps=fps)
        filters.append(chain)
        filters.append(_zoom_filters(plan, options, zoom_commands_path(target)))
        filters.append(f"[background][{bands}]overlay=0:{plan.band_top}:format=yuv420[composed]")
        current = "composed"
    else:
        for page in plan.pages:
            inputs += ["-framerate", str(fps), "-i", str(page.image)]
        chain, current = _page_chain(plan, "yuv420p", first_input=0, fps=fps)
        filters.append(chain)

    last = plan.total_frames
    fades = []
    if plan.fade_frames > 0:
        fades.append(f"fade=t=in:s=0:n={plan.fade_frames}")
        fades.append(f"fade=t=out:s={last - plan.fade_frames}:n={plan.fade_frames}")
    tail = ",".join([*fades, "format=yuv420p"])
    filters.append(f"[{current}]{tail}[video]")

    return [
        *inputs,
        "-filter_complex",
        ";".join(filters),
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


def encode_clip(plan: ClipPlan, options: RenderOptions, target: Path, what: str) -> None:
    args = build_clip_command(plan, options, target)
    if plan.background is not None:
        zoom_commands_path(target).write_text(zoom_commands(plan, options), encoding="utf-8")
    _run([_binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-y", *args], what)


def build_assembly_command(concat_list: Path, narration: Path, target: Path) -> list[str]:
    """Arguments that join the part clips without re-encoding and add the narration as AAC once."""
    return [
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(concat_list),
        "-i",
        str(narration),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        # The default "twoloop" coder costs twice the CPU for no audible gain on speech at 128k.
        "-aac_coder",
        "fast",
        "-b:a",
        AUDIO_BITRATE,
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


def assemble_video(clips: list[tuple[Path, int]], fps: int, narration: Path, target: Path) -> None:
    """Join part clips (same encoder settings; each with its frame count) and mux the narration
    track into `target`."""
    listing = target.with_suffix(".concat.txt")
    listing.write_text(concat_list(clips, fps), encoding="utf-8")
    ffmpeg(*build_assembly_command(listing, narration, target), what="assembling the video")
