"""How far the read-along highlight leads or trails the voice, per language: espeak-ng's raw word
events on the nearest frame (before) against the word times moved to where the sound starts
(`read_along.to_sound`) on the frame showing then (after).

    .venv/bin/python bench/word_onsets.py [--rates 110,165] [--fps 24]

Words are spoken one sentence each, so each word's onset can be heard in the audio: where the
10 ms RMS first rises above 1/25 of the loudest after 120 ms of quiet (the render test's own
detector, tests/render/test_read_along.py). Printed per language and rate, in ms (a lead is the
highlight before the sound, a negative one a lag): the raw event's lead to the sound, and the
highlight frame's lead before and after, as min/mean/max over the words. The issue's bounds:
never lag, lead at most ~50 ms (the render test: at most 80 ms ahead, never behind but for its
detector's 10 ms window).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.media import espeak_library  # noqa: E402
from services.media.alignment import sounding  # noqa: E402
from services.media.speech import espeak_voice  # noqa: E402
from services.media.wav import wav_sample_count  # noqa: E402
from services.read_along import Event, onset_frame, to_sound, word_units  # noqa: E402

WORDS = {
    "en": "Lantern. Harbour. Blanket. Morning. Fox. River. Moon. Apple. Window. Table. Kite.",
    "de": "Laterne. Hafen. Decke. Morgen. Fuchs. Fluss. Mond. Apfel. Fenster. Tisch. Kuchen.",
    "fr": "Renard. Rivière. Lune. Pomme. Fenêtre. Table. Gâteau. Chat.",
    "es": "Luna. Mano. Nube. Mesa. Burro. Perro. Casa. Tigre.",
    "hi": "लालटेन। बंदरगाह। कंबल। सुबह। लोमड़ी। नदी। चाँद। सेब। खिड़की। पतंग।",
    "ar": "فانوس. ميناء. بطانية. صباح. ثعلب. نهر. قمر. تفاحة. نافذة. كتاب.",
    "zh": "灯笼。港口。毯子。早晨。狐狸。河流。月亮。苹果。窗户。桌子。",
    "th": "โคม. ท่าเรือ. ผ้าห่ม. เช้า. หมา. แมว. ปลา. นก. ม้า. ตา.",
}


def heard_onsets(path: Path, gap: float = 0.12) -> list[float]:
    with wave.open(str(path), "rb") as audio:
        rate = audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), "<i2").astype(float)
    hop = rate // 100
    count = samples.size // hop
    levels = np.sqrt((samples[: count * hop].reshape(count, hop) ** 2).mean(axis=1))
    loud = levels > levels.max() / 25
    quiet = int(gap * 100)
    return [i * hop / rate for i in np.nonzero(loud)[0] if not loud[max(0, i - quiet) : i].any()]


def nearest_frame(sample: int, rate: int, fps: int) -> int:
    """The rounding before: the frame starting nearest the event."""
    return (2 * sample * fps + rate) // (2 * rate)


def measure(language: str, speed: int, fps: int) -> dict[str, list[float]] | None:
    text = WORDS[language]
    voice = espeak_voice(language)
    assert voice is not None
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "page.wav"
        found = espeak_library.speak(text, voice, speed, wav)
        events = [Event(word.position, word.length, word.sample) for word in found]
        words = word_units(text, events, wav_sample_count(wav))
        moved = to_sound(words, *sounding(wav))
        heard = heard_onsets(wav)
        with wave.open(str(wav), "rb") as audio:
            rate = audio.getframerate()
    starts = [0] + [match.end() for match in re.finditer(r"[.。।]\s*", text)]
    firsts = [next(i for i, w in enumerate(words) if w.start >= start) for start in starts[:-1]]
    if len(heard) != len(firsts):
        print(f"{language} -s {speed}: {len(heard)} onsets heard for {len(firsts)} words")
        return None
    result: dict[str, list[float]] = {"event": [], "before": [], "after": []}
    for index, onset in zip(firsts, heard, strict=True):
        result["event"].append(1000 * (onset - words[index].sample / rate))
        before = nearest_frame(words[index].sample, rate, fps) / fps
        after = onset_frame(moved[index].sample, rate, fps) / fps
        result["before"].append(1000 * (onset - before))
        result["after"].append(1000 * (onset - after))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="110,165")
    parser.add_argument("--fps", type=int, default=24)
    args = parser.parse_args()
    print("lead of the highlight over the heard onset, ms: min / mean / max (negative: a lag)")
    print(f"{'':12} {'words':>5} | {'event':>17} | {'before':>17} | {'after':>17}")
    for speed in (int(rate) for rate in args.rates.split(",")):
        for language in WORDS:
            found = measure(language, speed, args.fps)
            if found is None:
                continue
            cells = [
                f"{min(found[key]):>5.0f} {np.mean(found[key]):>5.0f} {max(found[key]):>5.0f}"
                for key in ("event", "before", "after")
            ]
            count = len(found["event"])
            print(f"{language} -s {speed:<5} {count:>5} | " + " | ".join(f"{c:>17}" for c in cells))


if __name__ == "__main__":
    main()
