"""The audio graphs: loudness measured (EBU R 128), speech found, music decoded
and mixed under the voice, levels set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.media.ffmpeg import AUDIO_SAMPLE_RATE, FfmpegError, ffmpeg_log, probe
from services.stages import Loudness  # a plain record, kept with the stages' records

# --- the soundtrack: loudness, music, mixing --------------------------------------------------


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
    log = ffmpeg_log(
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
    log = ffmpeg_log(
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
    log = ffmpeg_log(
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
    log = ffmpeg_log(
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
    log = ffmpeg_log(
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
    log = ffmpeg_log(
        ["-i", str(source), "-filter_complex", ";".join(graph), *outputs],
        f"measuring {source.name} at {count} new level(s)",
    )
    return [parse_ebur128_summary(log, f"ebur128@gain{index}") for index in range(count)]
