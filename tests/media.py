"""Looking at rendered output the way a viewer would: streams, frames, pixels, captions, audio.

Tests use these helpers to assert on what a video shows and says, never on how it was made.
Frames come out through `services.media.ffmpeg.extract_frame`; pixels are read with Wand.
"""

from __future__ import annotations

import array
import difflib
import json
import math
import re
import shutil
import struct
import subprocess
import tempfile
import unicodedata
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from wand.image import Image

from services.media import ffmpeg
from services.media.speech import EspeakEngine

RGB = tuple[int, int, int]


# --- streams ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a rendered video, in the terms a player uses."""

    video_codec: str
    pixel_format: str
    width: int
    height: int
    frame_rate: Fraction
    frames: int
    video_seconds: float
    audio_codec: str | None
    audio_seconds: float | None
    sample_rate: int | None
    stream_kinds: list[str]


def count_video_frames(path: Path) -> int:
    """How many frames the first video stream holds (its packets counted)."""
    completed = ffmpeg.run(
        [
            ffmpeg.binary("FFPROBE_BINARY", "ffprobe"),
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


def convert_audio_to_wav(source: Path, target: Path) -> None:
    """Any audio ffmpeg reads -> mono 16-bit PCM WAV at 48 kHz."""
    ffmpeg.convert_audio_files_to_wav([(source, target)])


def inspect(video: Path) -> MediaInfo:
    info = ffmpeg.probe(video)
    streams = info["streams"]
    picture = next(s for s in streams if s["codec_type"] == "video")
    sound = next((s for s in streams if s["codec_type"] == "audio"), None)
    return MediaInfo(
        video_codec=picture["codec_name"],
        pixel_format=picture["pix_fmt"],
        width=int(picture["width"]),
        height=int(picture["height"]),
        frame_rate=Fraction(picture["avg_frame_rate"]),
        frames=count_video_frames(video),
        video_seconds=float(picture["duration"]),
        audio_codec=sound["codec_name"] if sound else None,
        audio_seconds=float(sound["duration"]) if sound else None,
        sample_rate=int(sound["sample_rate"]) if sound else None,
        stream_kinds=sorted(s["codec_type"] for s in streams),
    )


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 file's top-level box types in file order (ftyp, moov, mdat, ...)."""
    boxes = []
    with path.open("rb") as stream:
        while header := stream.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            skip = size - 8
            if size == 1:  # 64-bit size follows the type
                skip = struct.unpack(">Q", stream.read(8))[0] - 16
            elif size == 0:  # box runs to the end of the file
                boxes.append(kind.decode("latin-1"))
                break
            boxes.append(kind.decode("latin-1"))
            stream.seek(skip, 1)
    return boxes


def is_faststart(path: Path) -> bool:
    """True when the index (moov) comes before the media data, so playback starts at once."""
    boxes = top_level_boxes(path)
    return "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")


@dataclass(frozen=True)
class ChapterMark:
    start: float
    end: float
    title: str


def chapters(video: Path) -> list[ChapterMark]:
    """The chapters a player lists, as ffprobe reads them (asked of ffprobe directly)."""
    completed = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_chapters", str(video)],
        capture_output=True,
        check=True,
    )
    return [
        ChapterMark(
            start=float(chapter["start_time"]),
            end=float(chapter["end_time"]),
            title=chapter.get("tags", {}).get("title", ""),
        )
        for chapter in json.loads(completed.stdout)["chapters"]
    ]


def x264_options(path: Path) -> dict[str, str]:
    """The encoder settings x264 writes into the stream (crf, cabac, subme, ...)."""
    data = path.read_bytes()
    found = re.search(rb"x264 - core .*? options: ([^\x00]*)", data)
    if found is None:
        return {}
    pairs = found.group(1).decode("latin-1").split()
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


# --- frames and pixels --------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One decoded frame as 8-bit RGB pixels."""

    width: int
    height: int
    pixels: bytes

    def pixel(self, x: int, y: int) -> RGB:
        offset = (y * self.width + x) * 3
        r, g, b = self.pixels[offset : offset + 3]
        return (r, g, b)

    def mean(self, x: int, y: int, radius: int = 2) -> RGB:
        """Average colour of a small square around (x, y): steadier than one pixel."""
        total = [0, 0, 0]
        count = 0
        for yy in range(max(0, y - radius), min(self.height, y + radius + 1)):
            for xx in range(max(0, x - radius), min(self.width, x + radius + 1)):
                for channel, value in enumerate(self.pixel(xx, yy)):
                    total[channel] += value
                count += 1
        r, g, b = (round(value / count) for value in total)
        return (r, g, b)

    def centre(self) -> RGB:
        return self.mean(self.width // 2, self.height // 2)

    def at(self, fx: float, fy: float) -> RGB:
        """Mean colour at a point given as fractions of the frame size."""
        return self.mean(
            min(self.width - 1, int(fx * self.width)), min(self.height - 1, int(fy * self.height))
        )

    def brightness(self) -> float:
        """Mean of all channels of all pixels, 0..255."""
        return sum(self.pixels) / len(self.pixels)

    def region(self, top: int, bottom: int) -> list[RGB]:
        return [self.pixel(x, y) for y in range(top, bottom) for x in range(self.width)]


def read_png(path: Path) -> Frame:
    with Image(filename=str(path)) as image:
        image.alpha_channel = "remove"
        pixels = bytes(image.export_pixels(channel_map="RGB", storage="char"))
        return Frame(width=image.width, height=image.height, pixels=pixels)


def frame_at(video: Path, seconds: float) -> Frame:
    """The frame a player shows at `seconds` (the first whose time is not before it)."""
    with tempfile.TemporaryDirectory(prefix="frame-") as scratch:
        target = Path(scratch) / "frame.png"
        ffmpeg.extract_frame(video, max(0.0, seconds), target)
        if not target.is_file():
            raise AssertionError(f"no frame at {seconds:.3f} s in {video.name}")
        return read_png(target)


def frame_number(video: Path, index: int, fps: int) -> Frame:
    """Frame `index` (0-based) of a constant-frame-rate video."""
    return frame_at(video, index / fps)


def distance(a: RGB, b: RGB) -> float:
    return math.dist(a, b)


def closest(colour: RGB, palette: list[RGB]) -> RGB:
    return min(palette, key=lambda candidate: distance(colour, candidate))


def picture_top(frame: Frame, colour: RGB, tolerance: float = 45) -> int:
    """First row (from the top, centre column) that shows the picture's colour."""
    for y in range(frame.height):
        if distance(frame.mean(frame.width // 2, y, radius=1), colour) < tolerance:
            return y
    raise AssertionError(f"no {colour} in the centre column")


def luma(colour: RGB) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


# --- captions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCue:
    index: int
    start: float
    end: float
    text: str  # without WebVTT's inline word timestamps (read-along), which go in `stamps`
    stamps: tuple[float, ...] = ()


_TIME = r"(\d+):(\d\d):(\d\d)[,.](\d\d\d)"
_TIMING = re.compile(rf"^{_TIME} --> {_TIME}$")
_STAMP = re.compile(r"<(\d+):(\d\d):(\d\d)\.(\d\d\d)>")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _parse_blocks(blocks: list[str], numbered: bool) -> list[ParsedCue]:
    cues = []
    for position, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        index = position
        if numbered:
            index = int(lines.pop(0))
        timing = _TIMING.match(lines[0])
        if timing is None:
            raise AssertionError(f"cue {position} has no timing line: {block!r}")
        parts = timing.groups()
        text = "\n".join(lines[1:])
        stamps = tuple(_seconds(*found) for found in _STAMP.findall(text)) if not numbered else ()
        cues.append(
            ParsedCue(
                index=index,
                start=_seconds(*parts[:4]),
                end=_seconds(*parts[4:]),
                text=_STAMP.sub("", text) if not numbered else text,
                stamps=stamps,
            )
        )
    return cues


def parse_srt(text: str) -> list[ParsedCue]:
    blocks = [block.strip("\n") for block in text.replace("\r\n", "\n").split("\n\n")]
    return _parse_blocks([block for block in blocks if block], numbered=True)


def parse_vtt(text: str) -> list[ParsedCue]:
    text = text.replace("\r\n", "\n")
    header, _, body = text.partition("\n\n")
    if not header.startswith("WEBVTT"):
        raise AssertionError(f"not a WebVTT file: starts with {header[:20]!r}")
    blocks = [block.strip("\n") for block in body.split("\n\n")]
    return _parse_blocks([block for block in blocks if block], numbered=False)


# --- audio --------------------------------------------------------------------------------------


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


def read_wav_mono(path: Path) -> tuple[array.array, int]:
    """16-bit samples of a mono WAV, and its sample rate."""
    with wave.open(str(path), "rb") as audio:
        assert audio.getsampwidth() == 2 and audio.getnchannels() == 1
        samples = array.array("h")
        samples.frombytes(audio.readframes(audio.getnframes()))
        return samples, audio.getframerate()


def rms(samples: array.array, start: int = 0, end: int | None = None) -> float:
    window = samples[start:end]
    if not window:
        return 0.0
    return math.sqrt(sum(value * value for value in window) / len(window))


def loudness(video: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a file's sound, measured by ffmpeg's
    ebur128 filter run directly (not through the code under test)."""
    completed = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(video), "-map", "0:a:0"]
        + ["-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        check=True,
    )
    summary = completed.stderr.decode().rsplit("Summary:", 1)[1]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated.group(1)), float(peak.group(1))


def tone_power(
    samples: array.array, rate: int, frequency: float, start: float, end: float
) -> float:
    """Power (mean square, in 16-bit units) of the sine at `frequency` in a window, by correlating
    with it (one bin of a Fourier transform). The window's remaining power is everything else."""
    first, last = int(start * rate), int(end * rate)
    step = 2 * math.pi * frequency / rate
    real = imaginary = 0.0
    for index in range(first, last):
        value = samples[index]
        real += value * math.cos(step * index)
        imaginary += value * math.sin(step * index)
    count = max(1, last - first)
    return 2 * (real * real + imaginary * imaginary) / (count * count)


def decibels(power: float) -> float:
    return 10 * math.log10(max(power, 1e-12))


def soundtrack(video: Path, target: Path) -> Path:
    """The video's audio decoded to mono 48 kHz PCM WAV."""
    convert_audio_to_wav(video, target)
    return target


def audible_seconds(path: Path, silence_db: float = -45.0) -> float:
    """Seconds from the start of a mono WAV to the end of its last 10 ms window louder (RMS)
    than `silence_db`: how long it speaks, without the silence after."""
    samples, rate = read_wav_mono(path)
    step = rate // 100
    level = 32768 * 10 ** (silence_db / 20)
    loud = [at for at in range(0, len(samples), step) if rms(samples, at, at + step) > level]
    return (loud[-1] + step) / rate if loud else 0.0


def espeak_seconds(text: str, language: str = "en", audible: bool = False) -> float:
    """How long espeak-ng speaks `text`, asked of espeak-ng directly (not through our Narrator);
    `audible`: up to the end of its last sound (espeak-ng ends with 0.3-0.7 s of silence)."""
    binary = shutil.which("espeak-ng")
    assert binary, "espeak-ng is not installed"
    with tempfile.TemporaryDirectory(prefix="espeak-") as scratch:
        target = Path(scratch) / "speech.wav"
        subprocess.run(
            [
                binary,
                "-v",
                language,
                "-s",
                str(EspeakEngine().words_per_minute),
                "-w",
                str(target),
                "--stdin",
            ],
            input=text.encode("utf-8"),
            check=True,
            capture_output=True,
        )
        return audible_seconds(target) if audible else wav_seconds(target)


# --- motion -------------------------------------------------------------------------------------


def grey_frames(video: Path) -> tuple[int, int, list[bytes]]:
    """Every frame of a video as 8-bit grey pixels: width, height and one bytes per frame."""
    info = inspect(video)
    with tempfile.TemporaryDirectory(prefix="grey-") as scratch:
        raw = Path(scratch) / "frames.grey"
        ffmpeg.ffmpeg("-i", str(video), "-f", "rawvideo", "-pix_fmt", "gray", str(raw))
        data = raw.read_bytes()
    size = info.width * info.height
    return info.width, info.height, [data[at : at + size] for at in range(0, len(data), size)]


def bright_centroid(
    pixels: bytes, width: int, box: tuple[int, int, int, int], floor: int = 24
) -> tuple[float, float]:
    """Brightness-weighted centre (x, y) of what is brighter than `floor` in box (x0, y0, x1, y1):
    a blurred dot's position to a small fraction of a pixel."""
    x0, y0, x1, y1 = box
    total = sum_x = sum_y = 0.0
    for y in range(y0, y1):
        row = pixels[y * width + x0 : y * width + x1]
        for offset, value in enumerate(row):
            weight = value - floor
            if weight > 0:
                total += weight
                sum_x += weight * (x0 + offset)
                sum_y += weight * y
    if total == 0:
        raise AssertionError(f"nothing bright in {box}")
    return sum_x / total, sum_y / total


# --- drawn text ---------------------------------------------------------------------------------

# Captions are drawn white over a dark outline and scrim: a pixel this bright in every channel
# is caption text (the pictures of the test stories are darker).
TEXT_LEVEL = 190


def text_pixels(frame: Frame, top: int, bottom: int) -> int:
    """How many pixels between rows `top` and `bottom` are caption text (ink, not an empty band)."""
    return sum(1 for colour in frame.region(top, bottom) if min(colour) >= TEXT_LEVEL)


def _text_as_pgm(frame: Frame, top: int, bottom: int, scale: int) -> bytes:
    """Rows `top`..`bottom` as black text on white, `scale` times larger: what OCR reads best."""
    rows = []
    for y in range(top, bottom):
        row = bytearray()
        for x in range(frame.width):
            row += (b"\x00" if min(frame.pixel(x, y)) >= TEXT_LEVEL else b"\xff") * scale
        rows.extend([bytes(row)] * scale)
    header = f"P5 {frame.width * scale} {(bottom - top) * scale} 255\n".encode()
    return header + b"".join(rows)


def _tesseract(image: bytes, languages: str, output: str) -> str:
    binary = shutil.which("tesseract")
    assert binary, "tesseract is not installed (scripts/setup.sh installs it for the tests)"
    done = subprocess.run(
        [binary, "stdin", "stdout", "-l", languages, "--psm", "4", *([output] if output else [])],
        input=image,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def read_text(frame: Frame, top: int, bottom: int, languages: str, scale: int = 1) -> str:
    """The caption text between rows `top` and `bottom`, read by OCR (tesseract `languages`,
    e.g. "ara+eng"), in reading order."""
    return _tesseract(_text_as_pgm(frame, top, bottom, scale), languages, "")


def read_words(
    frame: Frame, top: int, bottom: int, languages: str, scale: int = 1
) -> list[tuple[str, int]]:
    """Each word OCR finds between rows `top` and `bottom`, with the x of its left edge."""
    table = _tesseract(_text_as_pgm(frame, top, bottom, scale), languages, "tsv")
    words = []
    for row in table.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[11].strip():
            words.append((cells[11].strip(), int(cells[6]) // scale))
    return words


def text_similarity(seen: str, expected: str) -> float:
    """How alike two texts are, 0..1, ignoring spaces and invisible marks (OCR puts spaces
    between Chinese characters and direction marks around Latin words in Arabic)."""

    def letters(text: str) -> str:
        return "".join(visible(text).split())

    return difflib.SequenceMatcher(None, letters(seen), letters(expected)).ratio()


def visible(text: str) -> str:
    """`text` without invisible format characters (direction marks, zero-width joiners)."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf")
