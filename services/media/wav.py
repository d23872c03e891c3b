"""Mono 16-bit WAV files as the narration uses them: silence written, samples counted, and where a
page's last audible sound ends."""

from __future__ import annotations

import array
import sys
import wave
from pathlib import Path


def write_silence(target: Path, seconds: float, sample_rate: int) -> None:
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(b"\x00\x00" * round(seconds * sample_rate))


# Quieter than this (peak, dBFS) is no speech: espeak-ng ends every text with 0.3-0.7 s of
# silence, which the timeline must not count as speaking.
AUDIBLE_DB = -45.0
_AUDIBLE_WINDOW = 0.01  # seconds


def audible_samples(path: Path) -> int:
    """Samples of a mono 16-bit WAV up to the end of its last audible sound (0: silent)."""
    with wave.open(str(path), "rb") as audio:
        rate = audio.getframerate()
        samples = array.array("h")
        samples.frombytes(audio.readframes(audio.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    level = 32768 * 10 ** (AUDIBLE_DB / 20)
    window = max(1, round(rate * _AUDIBLE_WINDOW))
    end = len(samples)
    while end > 0:
        chunk = samples[max(0, end - window) : end]
        if max(chunk) > level or -min(chunk) > level:
            return end
        end -= window
    return 0


def wav_sample_count(path: Path) -> int:
    """How many samples (per channel) a WAV file holds."""
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes()
