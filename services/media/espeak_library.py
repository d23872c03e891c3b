"""libespeak-ng through ctypes: a page's speech and, in the same pass, espeak-ng's word events.

The command line (`espeak-ng -w`) writes the sound only; the library's synchronous mode hands a
callback each chunk of samples together with the events that fall in it, among them one
`espeakEVENT_WORD` per word spoken: the word's character position and length in the text and its
audio position in milliseconds. Speaking through the library gives the same samples as the command
line with the same voice, rate and flags (tests/unit/test_word_times.py compares them), so the
WAV and the word times come from one synthesis and always agree.

The library keeps one global voice and output, and more state from one text to the next: each
text is spoken by a process of its own (`speak`).
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

# espeak_AUDIO_OUTPUT, espeak_EVENT_TYPE, espeak_PARAMETER, flags (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_SAMPLERATE = 8
_RATE = 1
_POS_CHARACTER = 1
_CHARS_AUTO = 0  # UTF-8 when it is valid UTF-8
_PHONEMES = 0x100
_ENDPAUSE = 0x1000
_INITIALIZE_DONT_EXIT = 0x8000


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # characters, counting from 1
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds from the start of the text
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class EspeakLibraryError(RuntimeError):
    pass


@dataclass(frozen=True)
class WordEvent:
    """espeak-ng's report of a word: `position` (0-based) and `length` in characters of the text,
    and when its sound starts, in samples from the start of the speech."""

    position: int
    length: int
    sample: int


@dataclass(frozen=True)
class Spoken:
    samples: bytes  # mono 16-bit little-endian PCM
    sample_rate: int
    words: list[WordEvent]


class _Library:
    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL("libespeak-ng.so.1")
        except OSError as error:
            raise EspeakLibraryError(
                f"libespeak-ng is not installed (run scripts/setup.sh): {error}"
            ) from None
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_Voice)]
        lib.espeak_SetVoiceByProperties.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise EspeakLibraryError("libespeak-ng did not initialize (is espeak-ng-data there?)")
        self.sample_rate = rate
        self._chunks: list[bytes] = []
        self._events: list[tuple[int, int, int]] = []
        self._callback = _CALLBACK(self._receive)  # kept: the library holds only the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _receive(self, wav, count, events) -> int:  # type: ignore[no-untyped-def]
        if count > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._events.append((event.text_position, event.length, event.audio_position))
            index += 1
        return 0  # go on

    def _set_voice(self, voice: str) -> None:
        """As the command line's `-v`: a voice file's name, else a language espeak-ng speaks."""
        if self.lib.espeak_SetVoiceByName(voice.encode("utf-8")) == 0:
            return
        wanted = _Voice(languages=voice.encode("utf-8"))
        if self.lib.espeak_SetVoiceByProperties(ctypes.byref(wanted)) != 0:
            raise EspeakLibraryError(f"espeak-ng has no voice {voice!r}")

    def speak(self, text: str, voice: str, words_per_minute: int) -> Spoken:
        self._set_voice(voice)
        self.lib.espeak_SetParameter(_RATE, words_per_minute, 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\x00"
        buffer = ctypes.create_string_buffer(data, len(data))
        # The command line's flags (espeak-ng.c): text, [[phonemes]] allowed, a pause at the end.
        flags = _CHARS_AUTO | _PHONEMES | _ENDPAUSE
        status = self.lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, flags, None, None)
        if status != 0 or self.lib.espeak_Synchronize() != 0:
            raise EspeakLibraryError(f"espeak-ng could not speak with voice {voice!r}")
        rate = self.sample_rate
        words = [
            WordEvent(position=position - 1, length=length, sample=round(millis * rate / 1000))
            for position, length, millis in self._events
        ]
        return Spoken(samples=b"".join(self._chunks), sample_rate=rate, words=words)


def _child() -> None:
    """The speaking process: the text on stdin, the arguments voice, rate and target WAV; the
    sample rate and the word events as JSON on stdout."""
    voice, rate, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    text = sys.stdin.buffer.read().decode("utf-8")
    try:
        spoken = _Library().speak(text, voice, rate)
    except EspeakLibraryError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    with wave.open(target, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(spoken.sample_rate)
        out.writeframes(spoken.samples)
    words = [[word.position, word.length, word.sample] for word in spoken.words]
    json.dump({"sample_rate": spoken.sample_rate, "words": words}, sys.stdout)


def speak(text: str, voice: str, words_per_minute: int, target: Path) -> list[WordEvent]:
    """`text` spoken by espeak-ng's `voice` at `words_per_minute` (its `-s`) into the WAV file
    `target` (mono 16-bit, the library's rate); its word events.

    Each text is spoken by a new process, as the command line is: the library keeps state from
    one text to the next (its random numbers, and more), so a second text spoken in the same
    process sounds slightly different, and lasts a few samples more or less, than the same text
    spoken alone. A new process gives exactly the command line's samples."""
    completed = subprocess.run(
        [sys.executable, "-I", "-S", __file__, voice, str(words_per_minute), str(target)],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        problem = completed.stderr.decode("utf-8", "replace").strip()
        raise EspeakLibraryError(problem or f"espeak-ng stopped ({completed.returncode})")
    found = json.loads(completed.stdout)
    return [WordEvent(*word) for word in found["words"]]


if __name__ == "__main__":
    _child()
