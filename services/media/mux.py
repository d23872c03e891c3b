"""Joining: the story's soundtrack encoded, the clips concatenated with it into
the video, and the poster taken from it.
"""

from __future__ import annotations

from pathlib import Path

from services.media.ffmpeg import AUDIO_BITRATE, concat_list, extract_frame, ffmpeg


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


def join_clips_and_sound(
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


# The video's BT.709 limited-range YUV (services/media/clip_graph.py) turned into a JPEG's:
# BT.601, full range, as every JPEG decoder reads it back to sRGB. Left to itself ffmpeg 5.1
# copies the samples across unchanged, and the poster's red (200,40,40) showed as (187,24,43).
POSTER_COLOURS = "scale=in_color_matrix=bt709:in_range=tv:out_color_matrix=bt601:out_range=pc"


def extract_poster(video: Path, seconds: float, target: Path) -> None:
    """One frame of `video` at `seconds`, full size, as a JPEG (sRGB) of good quality."""
    extract_frame(
        video,
        seconds,
        target,
        "-vf",
        f"{POSTER_COLOURS},format=yuvj420p",
        "-q:v",
        "2",
        "-update",
        "1",
        what=f"taking the poster frame of {video.name}",
    )
