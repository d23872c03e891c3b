"""Narration: text-to-speech engines behind one small interface, and a cache in front of them.

Engines write audio in whatever format they produce; `Narrator` turns it into mono PCM WAV at the
render sample rate and keeps it, keyed by (engine, voice, language, text), so an identical caption
is synthesized once, across parts and across runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from pathlib import Path
from typing import Protocol

from services import ffmpeg


class SpeechError(RuntimeError):
    """Synthesis failed; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class NothingToSay(SpeechError):
    """The text has no words an engine can speak (e.g. "…" or "—" as a scene break)."""

    def __init__(self, text: str):
        super().__init__(f"nothing to speak in {text!r}", transient=False)


# A page with nothing to speak still stays on screen this long, in silence.
SILENT_PAGE_SECONDS = 1.5


class SpeechEngine(Protocol):
    name: str

    def voice_id(self, language: str) -> str:
        """Everything besides the text that changes the sound (for the cache key)."""
        ...

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        """Speak `text` into a new audio file in target_dir and return its path."""
        ...


class EspeakEngine:
    """espeak-ng: offline, fast, robotic. The default for development and tests."""

    name = "espeak"

    def __init__(self, words_per_minute: int = 165):
        self.words_per_minute = words_per_minute

    def voice_id(self, language: str) -> str:
        return f"espeak-ng:{language}:{self.words_per_minute}wpm"

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise SpeechError("espeak-ng is not installed (run scripts/setup.sh)", transient=False)
        target = target_dir / "espeak.wav"
        completed = subprocess.run(
            [
                binary,
                "-v",
                language,
                "-s",
                str(self.words_per_minute),
                "-w",
                str(target),
                "--stdin",
            ],
            input=text.encode("utf-8"),
            capture_output=True,
            check=False,
        )
        problem = completed.stderr.decode("utf-8", "replace").strip()
        if completed.returncode != 0 or not target.is_file() or target.stat().st_size <= 44:
            raise SpeechError(
                f"espeak-ng could not speak {language!r}: {problem or 'no audio produced'}",
                transient=False,
            )
        return target


class GttsEngine:
    """Google Translate's text-to-speech through gTTS: the production voice. Needs internet."""

    name = "gtts"

    def __init__(self, tld: str = "com", timeout: float = 30.0):
        self.tld = tld
        self.timeout = timeout

    def voice_id(self, language: str) -> str:
        return f"gtts:{language}:{self.tld}"

    def request(self, text: str, language: str):  # -> gtts.gTTS
        """The gTTS object for this text: checks the language and splits long text into requests."""
        from gtts import gTTS

        try:
            return gTTS(text, lang=language, tld=self.tld, timeout=self.timeout)
        except ValueError as error:  # unsupported language, empty text
            raise SpeechError(f"gTTS cannot speak this: {error}", transient=False) from None

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        from gtts.tts import gTTSError

        speech = self.request(text, language)
        target = target_dir / "gtts.mp3"
        try:
            speech.save(str(target))
        except AssertionError:
            # gTTS asserts when its text cleaning leaves nothing to send (punctuation only).
            raise NothingToSay(text) from None
        except gTTSError as error:
            status = getattr(getattr(error, "rsp", None), "status_code", None)
            # No answer, throttling (429) and server errors may pass; other answers will not.
            transient = status is None or status == 429 or status >= 500
            raise SpeechError(f"gTTS request failed: {error}", transient=transient) from None
        return target


def make_engine(name: str) -> SpeechEngine:
    if name == "espeak":
        return EspeakEngine()
    if name == "gtts":
        return GttsEngine()
    raise ValueError(f"unknown narration engine {name!r} (choose gtts or espeak)")


class Narrator:
    """Speaks captions into cached, normalized WAV files."""

    def __init__(
        self, engine: SpeechEngine, cache_dir: Path, sample_rate: int = ffmpeg.AUDIO_SAMPLE_RATE
    ):
        self.engine = engine
        self.cache_dir = Path(cache_dir)
        self.sample_rate = sample_rate
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._synthesized = 0

    def cache_key(self, text: str, language: str) -> str:
        identity = "\x1f".join([self.engine.voice_id(language), str(self.sample_rate), text])
        return hashlib.sha256(identity.encode("utf-8")).hexdigest()

    @property
    def synthesized(self) -> int:
        """How many texts were actually sent to the engine (the others came from the cache)."""
        return self._synthesized

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def narrate(self, text: str, language: str) -> Path:
        """A WAV file of `text` spoken (mono, 16-bit, at the render sample rate)."""
        key = self.cache_key(text, language)
        cached = self.cache_dir / key[:2] / f"{key}.wav"
        with self._lock_for(key):
            if cached.is_file():
                return cached
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="tts-", dir=cached.parent) as scratch:
                partial = Path(scratch) / "normalized.wav"
                try:
                    spoken = self.engine.synthesize(text, language, Path(scratch))
                except NothingToSay:
                    write_silence(partial, SILENT_PAGE_SECONDS, self.sample_rate)
                else:
                    ffmpeg.convert_audio_to_wav(spoken, partial, self.sample_rate)
                os.replace(partial, cached)
        with self._locks_guard:  # parts narrate on several threads at once
            self._synthesized += 1
        return cached


def write_silence(target: Path, seconds: float, sample_rate: int) -> None:
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(b"\x00\x00" * round(seconds * sample_rate))


def wav_sample_count(path: Path) -> int:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes()
