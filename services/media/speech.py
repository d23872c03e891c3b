"""Narration: text-to-speech engines behind one small interface, and a cache in front of them.

Engines write audio in whatever format they produce; `Narrator` keeps it as mono 16-bit PCM WAV,
keyed by (engine, voice, language, text, sample rate), so an identical caption is synthesized
once, across parts and across runs. An engine that writes such a WAV itself (espeak-ng, at
22,050 Hz) is kept at its own rate, as it wrote it: the story's sound is resampled to the video's
48 kHz once, when the soundtrack is made (services/soundtrack.py). Other audio (gTTS's MP3) is
converted to 48 kHz, a part's new pages in one ffmpeg run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from services.media import espeak_library, ffmpeg
from services.media.wav import wav_sample_count, write_silence
from services.read_along import Event, WordTime, to_sound, word_units
from services.story.languages import language_name

if TYPE_CHECKING:
    from gtts import gTTS


class SpeechError(RuntimeError):
    """Synthesis failed; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class PageNotSpoken(SpeechError):
    """`Narrator.narrate_many`: the text at `index` could not be spoken (the cause is chained)."""

    def __init__(self, index: int, error: SpeechError):
        super().__init__(str(error), transient=error.transient)
        self.index = index
        self.error = error


class NothingToSay(SpeechError):
    """The text has no words an engine can speak (e.g. "…" or "—" as a scene break)."""

    def __init__(self, text: str):
        super().__init__(f"nothing to speak in {text!r}", transient=False)


class UnsupportedLanguage(SpeechError):
    """The engine has no voice for the language: known before anything is rendered."""

    def __init__(self, engine: str, language: str, other_engine: str):
        super().__init__(
            f"{engine} cannot speak {language_name(language)}: choose another "
            f"language, or the {other_engine} narration engine",
            transient=False,
        )


# --- one language tag -> each engine's own code ---------------------------------------------------

# espeak-ng voices whose name differs from the tag (the others are named by the tag itself).
_ESPEAK_RENAMED = {
    "zh": "cmn",  # Mandarin, whatever the characters: Taiwan's Mandarin is Mandarin too
    "en-GB": "en-gb",
    "en-US": "en-us",
    "en-029": "en-029",
    "fr": "fr-fr",
    "fr-BE": "fr-be",
    "fr-CH": "fr-ch",
    "pt": "pt-br",  # gTTS's `pt` is Brazilian: both engines agree on what plain `pt` sounds like
    "pt-BR": "pt-br",
    "pt-PT": "pt",
    "es-419": "es-419",
    "es-MX": "es-419",
    "no": "nb",
    "vi": "vi",
}
_ESPEAK_SAME_NAME = set(
    "af am ar as az be bg bn bs ca cs cy da de el en eo es et eu fa fi ga gd gu he hi hr ht hu "
    "hy id is it ja ka kk kn ko ku ky la lb lt lv mi mk ml mr ms mt my nb ne nl or pa pl ro ru "
    "sd si sk sl sq sr sv sw ta te th tk tr tt ug uk ur uz yue".split()
)
ESPEAK_VOICES = {**{tag: tag for tag in _ESPEAK_SAME_NAME}, **_ESPEAK_RENAMED}

# gTTS (Google Translate) language codes and, for regional English, French, Spanish and
# Portuguese, the Google domain whose accent matches (gTTS's own advice: lang=en, tld=co.uk).
_GTTS_SAME_CODE = set(
    "af am ar bg bn bs ca cs cy da de el en es et eu fi fr gl gu ha hi hr hu id is it ja km kn "
    "ko la lt lv ml mr ms my ne nl no pa pl pt ro ru si sk sq sr su sv sw ta te th tl tr uk ur "
    "vi yue".split()
)
_GTTS_RENAMED: dict[str, tuple[str, str | None]] = {
    "he": ("iw", None),
    "jv": ("jw", None),
    "fil": ("tl", None),
    "nb": ("no", None),
    "zh": ("zh-CN", None),
    "zh-CN": ("zh-CN", None),
    "zh-Hans": ("zh-CN", None),
    "zh-SG": ("zh-CN", None),
    "zh-TW": ("zh-TW", None),
    "zh-Hant": ("zh-TW", None),
    "zh-HK": ("zh-TW", None),
    "en-US": ("en", "com"),
    "en-GB": ("en", "co.uk"),
    "en-AU": ("en", "com.au"),
    "en-CA": ("en", "ca"),
    "en-IE": ("en", "ie"),
    "en-IN": ("en", "co.in"),
    "en-ZA": ("en", "co.za"),
    "fr-CA": ("fr-CA", None),
    "fr-FR": ("fr", "fr"),
    "pt-BR": ("pt", "com.br"),
    "pt-PT": ("pt-PT", None),
    "es-ES": ("es", "es"),
    "es-MX": ("es", "com.mx"),
}
GTTS_LANGUAGES = {**{tag: (tag, None) for tag in _GTTS_SAME_CODE}, **_GTTS_RENAMED}


def _lookup_order(tag: str) -> list[str]:
    """`zh-Hant-TW` -> zh-Hant-TW, zh-Hant, zh-TW, zh: the most specific entry of a table wins."""
    language, *rest = tag.split("-")
    script = next((part for part in rest if len(part) == 4), None)
    region = next((part for part in rest if len(part) != 4), None)
    order = [tag]
    if script:
        order.append(f"{language}-{script}")
    if region:
        order.append(f"{language}-{region}")
    order.append(language)
    return list(dict.fromkeys(order))


def espeak_voice(tag: str) -> str | None:
    """The espeak-ng voice for a normalized language tag, or None when it has none."""
    return next((ESPEAK_VOICES[key] for key in _lookup_order(tag) if key in ESPEAK_VOICES), None)


def gtts_language(tag: str) -> tuple[str, str | None] | None:
    """gTTS's (lang, tld or None for the engine's own) for a normalized tag, or None."""
    return next((GTTS_LANGUAGES[key] for key in _lookup_order(tag) if key in GTTS_LANGUAGES), None)


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


ESPEAK_SAMPLE_RATE = 22_050  # what espeak-ng writes, for every voice it has
# espeak-ng's `-s` for a child's read-aloud at speech rate 1. Its `-s` is not the real rate:
# measured on 13 children's sentences (bench/speech_rate.py: words over the seconds from each
# sentence's first to its last audible sound), -s 165 speaks 215 words a minute, -s 120 156,
# -s 110 143, -s 105 136. Read to children: 120-150.
ESPEAK_CHILD_SPEED = 110
# gTTS has one normal voice and a `slow` one (about half speed: too slow); its normal voice is
# time-stretched (ffmpeg's atempo, pitch kept) by this at speech rate 1: words a minute times 0.9
# (measured on espeak-ng standing in: 215 -> 194; gTTS itself cannot be reached from here).
GTTS_CHILD_TEMPO = 0.9


class EspeakEngine:
    """espeak-ng: offline, fast, robotic. The default for development and tests."""

    name = "espeak"
    wav_sample_rate = ESPEAK_SAMPLE_RATE  # it writes mono 16-bit WAV at this rate

    def __init__(self, words_per_minute: int = ESPEAK_CHILD_SPEED):
        self.words_per_minute = words_per_minute  # espeak-ng's -s (not the measured rate)

    def voice(self, language: str) -> str:
        voice = espeak_voice(language)
        if voice is None:
            raise UnsupportedLanguage("espeak-ng", language, "gtts")
        return voice

    def voice_id(self, language: str) -> str:
        return f"espeak-ng:{self.voice(language)}:{self.words_per_minute}wpm"

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        """The speech alone, by the command line (the cheaper: no word events wanted)."""
        voice = self.voice(language)
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise SpeechError("espeak-ng is not installed (run scripts/setup.sh)", transient=False)
        target = target_dir / "espeak.wav"
        completed = subprocess.run(
            [binary, "-v", voice, "-s", str(self.words_per_minute), "-w", str(target), "--stdin"],
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

    def synthesize_words(
        self, text: str, language: str, target_dir: Path
    ) -> tuple[Path, list[Event]]:
        """The speech as a WAV file and espeak-ng's word events, from one synthesis (through
        libespeak-ng: the same samples as `espeak-ng -v VOICE -s RATE -w FILE --stdin`)."""
        voice = self.voice(language)
        target = target_dir / "espeak.wav"
        try:
            found = espeak_library.speak(text, voice, self.words_per_minute, target)
        except espeak_library.EspeakLibraryError as error:
            raise SpeechError(
                f"espeak-ng could not speak {language!r}: {error}", transient=False
            ) from None
        if not target.is_file() or target.stat().st_size <= 44:
            raise SpeechError(
                f"espeak-ng could not speak {language!r}: no audio produced", transient=False
            )
        return target, [Event(word.position, word.length, word.sample) for word in found]


class GttsEngine:
    """Google Translate's text-to-speech through gTTS: the production voice. Needs internet."""

    name = "gtts"

    def __init__(self, tld: str = "com", timeout: float = 30.0, tempo: float = GTTS_CHILD_TEMPO):
        self.tld = tld
        self.timeout = timeout
        self.tempo = tempo  # ffmpeg atempo applied when the MP3 is converted (Narrator)

    @property
    def audio_filter(self) -> str | None:
        return None if self.tempo == 1.0 else f"atempo={self.tempo:.4f}"

    def voice(self, language: str) -> tuple[str, str]:
        """gTTS's language code and Google domain for the tag."""
        found = gtts_language(language)
        if found is None:
            raise UnsupportedLanguage("gTTS", language, "espeak")
        code, tld = found
        return code, tld or self.tld

    def voice_id(self, language: str) -> str:
        code, tld = self.voice(language)
        return f"gtts:{code}:{tld}:x{self.tempo:.4f}"

    def request(self, text: str, language: str) -> gTTS:
        """The gTTS object for this text: checks the language and splits long text into requests."""
        from gtts import gTTS

        code, tld = self.voice(language)
        try:
            # The code comes from GTTS_LANGUAGES, checked against gTTS's own list by the tests;
            # gTTS's check would only warn that zh-TW "falls back" to zh-TW.
            return gTTS(text, lang=code, tld=tld, timeout=self.timeout, lang_check=False)
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


def make_engine(name: str, speech_rate: float = 1.0) -> SpeechEngine:
    """The engine by name, speaking at `speech_rate` times a child's read-aloud rate."""
    if name == "espeak":
        return EspeakEngine(round(ESPEAK_CHILD_SPEED * speech_rate))
    if name == "gtts":
        return GttsEngine(tempo=round(GTTS_CHILD_TEMPO * speech_rate, 4))
    raise ValueError(f"unknown narration engine {name!r} (choose gtts or espeak)")


class Narrator:
    """Speaks captions into cached, normalized WAV files."""

    def __init__(self, engine: SpeechEngine, cache_dir: Path, sample_rate: int | None = None):
        """`sample_rate`: of the WAV files it makes; by default the rate of the WAV the engine
        writes itself (`wav_sample_rate`: no conversion), else the video's."""
        self.engine = engine
        self.cache_dir = Path(cache_dir)
        self.sample_rate = (
            sample_rate or getattr(engine, "wav_sample_rate", None) or ffmpeg.AUDIO_SAMPLE_RATE
        )
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

    def _cached(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.wav"

    def narrate(self, text: str, language: str) -> Path:
        """A WAV file of `text` spoken (mono, 16-bit, at the render sample rate)."""
        try:
            return self.narrate_many([text], language)[0]
        except PageNotSpoken as error:
            failed = error.error
        raise failed  # the engine's own error, as it raised it

    def narrate_many(self, texts: list[str], language: str, words: bool = False) -> list[Path]:
        """`narrate` for each text, in order; the texts not cached yet are synthesized one by
        one and, unless the engine wrote them as they are kept, converted in one ffmpeg run. A
        text that cannot be spoken raises `PageNotSpoken` with its index; nothing of the others
        is lost (they are cached). With `words`, each text's word times are made too (`words_of`
        reads them): from the engine's own word events, else by aligning the audio."""
        try:
            keys = [self.cache_key(text, language) for text in texts]
        except SpeechError as failed:  # no voice for the language: every text fails alike
            raise PageNotSpoken(0, failed) from failed
        wanted = dict(zip(keys, texts, strict=True))
        with ExitStack() as held:
            # Sorted, so two threads wanting some of the same texts cannot wait on each other.
            for key in sorted(wanted):
                held.enter_context(self._lock_for(key))
            missing = {key: text for key, text in wanted.items() if not self._cached(key).is_file()}
            if words and isinstance(self.engine, EspeakEngine):
                # Spoken before word times were kept: speak again (the same samples), with them.
                missing.update(
                    (key, text)
                    for key, text in wanted.items()
                    if not self._words_file(key).is_file()
                )
            if missing:
                self._synthesize(missing, language, keys, words)
            if words:
                for key, text in wanted.items():
                    if not self._words_file(key).is_file():
                        self._align(key, text, language)
        return [self._cached(key) for key in keys]

    def _words_file(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.words.json"

    def words_of(self, text: str, language: str) -> list[WordTime] | None:
        """The word times `narrate_many(..., words=True)` made for `text`, each where its sound
        starts in the page's WAV (`read_along.to_sound`), or None when they are not known (an
        alignment that was not credible: see services/media/alignment.py)."""
        from services.media.alignment import sounding  # numpy: only for read-along

        key = self.cache_key(text, language)
        found = json.loads(self._words_file(key).read_text())
        if found is None:
            return None
        words = [WordTime.model_validate(word) for word in found]
        return to_sound(words, *sounding(self._cached(key))) if words else words

    def _keep_words(self, key: str, found: list[WordTime] | None) -> None:
        target = self._words_file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        payload = None if found is None else [word.model_dump() for word in found]
        partial.write_text(json.dumps(payload))
        os.replace(partial, target)

    def _align(self, key: str, text: str, language: str) -> None:
        """Word times for audio without word events (gTTS): aligned to espeak-ng's rendering."""
        from services.media import alignment  # numpy: only when a voice needs aligning

        self._keep_words(key, alignment.align_to_espeak(text, language, self._cached(key)))

    def _synthesize(
        self, missing: dict[str, str], language: str, keys: list[str], words: bool = False
    ) -> None:
        """Speak and convert the `missing` texts (by cache key) into the cache; `keys` (all
        the call's keys, in order) only say which index a failing text had. With `words`,
        espeak-ng speaks through its library and the word times are kept too."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="tts-", dir=self.cache_dir) as scratch:
            done: list[tuple[Path, str]] = []
            conversions: list[tuple[Path, Path]] = []
            error: PageNotSpoken | None = None
            found_words: dict[str, list[Event]] = {}
            for number, (key, text) in enumerate(missing.items()):
                work = Path(scratch) / str(number)
                work.mkdir()
                partial = work / "normalized.wav"
                try:
                    if words and isinstance(self.engine, EspeakEngine):
                        spoken, found_words[key] = self.engine.synthesize_words(
                            text, language, work
                        )
                    else:
                        spoken = self.engine.synthesize(text, language, work)
                except NothingToSay:
                    write_silence(partial, SILENT_PAGE_SECONDS, self.sample_rate)
                    found_words[key] = []
                except SpeechError as failed:
                    error = PageNotSpoken(keys.index(key), failed)
                    break
                else:
                    if self._kept_as_written(spoken):
                        os.replace(spoken, partial)
                    else:
                        conversions.append((spoken, partial))
                done.append((partial, key))
            ffmpeg.convert_audio_files_to_wav(
                conversions, self.sample_rate, getattr(self.engine, "audio_filter", None)
            )
            for partial, key in done:
                cached = self._cached(key)
                cached.parent.mkdir(parents=True, exist_ok=True)
                if key in found_words:
                    units = word_units(missing[key], found_words[key], wav_sample_count(partial))
                    self._keep_words(key, units)
                os.replace(partial, cached)
        with self._locks_guard:  # parts narrate on several threads at once
            self._synthesized += len(done)
        if error is not None:
            raise error

    def _kept_as_written(self, spoken: Path) -> bool:
        """Whether the engine's file is already mono 16-bit PCM WAV at the narrator's rate."""
        try:
            with wave.open(str(spoken), "rb") as audio:
                params = (audio.getnchannels(), audio.getsampwidth(), audio.getframerate())
        except (wave.Error, EOFError):  # not a PCM WAV (gTTS's MP3)
            return False
        return params == (1, 2, self.sample_rate)
