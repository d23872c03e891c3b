"""The one runner of ffmpeg and ffprobe: binaries looked up on first use
(`FFMPEG_BINARY`, `FFPROBE_BINARY`), argument lists, never a shell.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

AUDIO_SAMPLE_RATE = 48_000  # divisible by every common frame rate, so frame edges fall on samples
AUDIO_BITRATE = "128k"
STEREO_BITRATE = "160k"  # music under the voice


class FfmpegError(RuntimeError):
    """ffmpeg or ffprobe failed; the message holds what it printed last."""


def binary(env_name: str, default: str) -> str:
    name = os.environ.get(env_name, default)
    found = shutil.which(name)
    if found is None:
        raise FfmpegError(f"{name} is not installed (run scripts/setup.sh, or set {env_name})")
    return found


def run(args: Sequence[str], what: str) -> subprocess.CompletedProcess[bytes]:
    completed = subprocess.run(list(args), capture_output=True, check=False)
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-6:]
        raise FfmpegError(f"{what} failed (exit {completed.returncode}): " + " | ".join(tail))
    return completed


def ffmpeg(*args: str, what: str = "ffmpeg") -> None:
    run([binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-y", *args], what)


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a media file: its streams and format, as parsed JSON."""
    completed = run(
        [
            binary("FFPROBE_BINARY", "ffprobe"),
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
    found: dict[str, Any] = json.loads(completed.stdout)
    return found


def convert_audio_files_to_wav(
    conversions: list[tuple[Path, Path]],
    sample_rate: int = AUDIO_SAMPLE_RATE,
    audio_filter: str | None = None,
) -> None:
    """Each (source, target): any audio ffmpeg reads -> mono 16-bit PCM WAV at `sample_rate`, all
    in one ffmpeg run (one process start instead of one per file: narration converts every page
    of a part at once), through `audio_filter` when given (gTTS's voice slowed with atempo)."""
    if not conversions:
        return
    inputs: list[str] = []
    outputs: list[str] = []
    for index, (source, target) in enumerate(conversions):
        inputs += ["-i", str(source)]
        outputs += ["-map", f"{index}:a", "-ac", "1", "-ar", str(sample_rate)]
        if audio_filter:
            outputs += ["-af", audio_filter]
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


def ffmpeg_log(args: Sequence[str], what: str) -> str:
    """Run ffmpeg and return what it printed (filters such as ebur128 report there)."""
    completed = run(
        [binary("FFMPEG_BINARY", "ffmpeg"), "-hide_banner", "-nostdin", "-nostats", "-y", *args],
        what,
    )
    return completed.stderr.decode("utf-8", "replace")


def concat_list(clips: list[tuple[Path, int]], fps: int) -> str:
    """The concat demuxer's list: each clip with its exact duration. Without `duration` the
    demuxer uses the duration stored in each MP4, which is rounded to milliseconds, and at frame
    rates like 12 fps the rounding adds up across parts into a few ticks of drift."""
    lines = []
    for path, frames in clips:
        quoted = str(path.resolve()).replace("'", r"'\''")
        lines.append(f"file '{quoted}'\nduration {frames / fps:.6f}\n")
    return "".join(lines)
