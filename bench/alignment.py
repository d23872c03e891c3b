"""How well the gTTS path's aligner places words, against voices whose word times are known.

    .venv/bin/python bench/alignment.py [--voices en+f3:140,en-us:190] [--languages en,de,fr,es]

gTTS cannot be reached here, so other voices stand in for it: espeak-ng at another voice and rate
(its own word events are the truth), also coded to MP3 (as gTTS sends it) and slowed to 0.85x with
ffmpeg's `atempo` (the truth times divided by 0.85). Each stand-in is aligned to espeak-ng's
default rendering of the same text (services/media/alignment.py). Printed per case: the words
measured, the median and 90th-percentile error of the word onsets, the share within 100 ms, the
aligned captions that fell back (clause or none), and the aligner's CPU per caption; beside it,
the same words placed by cutting the speech by character count.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.media import alignment, espeak_library  # noqa: E402
from services.media.speech import EspeakEngine, espeak_voice  # noqa: E402
from services.media.wav import wav_sample_count  # noqa: E402
from services.read_along import Event, WordTime, word_units  # noqa: E402

CAPTIONS = {
    "en": [
        "Once upon a time, a little fox lived at the edge of a quiet forest.",
        "Every morning she ran down to the river to drink and to watch the fish.",
        "One day she found a shiny stone, round and warm, lying in the grass.",
        '"Whose stone is this?" she asked the old owl, who only blinked.',
        "The rain came, and the fox hid under a big green leaf until it stopped.",
        "At night the stars came out, one by one, and the fox fell asleep.",
    ],
    "de": [
        "Es war einmal ein kleiner Fuchs, der am Rand eines stillen Waldes wohnte.",
        "Jeden Morgen lief sie zum Fluss hinunter, um zu trinken und die Fische zu sehen.",
        "Eines Tages fand sie einen glänzenden Stein, rund und warm, im Gras.",
    ],
    "fr": [
        "Il était une fois un petit renard qui vivait au bord d'une forêt tranquille.",
        "Chaque matin, elle courait jusqu'à la rivière pour boire et regarder les poissons.",
    ],
    "es": [
        "Había una vez un pequeño zorro que vivía al borde de un bosque tranquilo.",
        "Cada mañana corría hasta el río para beber y mirar los peces.",
    ],
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _render(text: str, voice: str, rate: int, target: Path) -> list[WordTime]:
    found = espeak_library.speak(text, voice, rate, target)
    events = [Event(word.position, word.length, word.sample) for word in found]
    return word_units(text, events, wav_sample_count(target))


def _transform(source: Path, how: str, scratch: Path) -> tuple[Path, float]:
    """The stand-in's audio after `how` (plain, mp3, mp3+atempo), at 48 kHz as the Narrator keeps
    gTTS's; and the factor its times are stretched by."""
    target = scratch / f"{how}.wav"
    middle = source
    stretch = 1.0
    if how.startswith("mp3"):
        middle = scratch / f"{how}.mp3"
        filters = ["-af", "atempo=0.85"] if how.endswith("atempo") else []
        stretch = 1 / 0.85 if how.endswith("atempo") else 1.0
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(source), *filters, "-ar", "24000",
             "-c:a", "libmp3lame", "-b:a", "64k", str(middle)],
            check=True,
        )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(middle), "-ar", "48000", "-ac", "1",
         "-c:a", "pcm_s16le", str(target)],
        check=True,
    )  # fmt: skip
    return target, stretch


def measure(languages: list[str], voices: list[tuple[str, int]], hows: list[str]) -> None:
    engine = EspeakEngine()
    print(
        f"{'stand-in':<24} {'words':>5} {'median':>7} {'p90':>6} {'<100ms':>7} {'fallback':>8} "
        f"{'CPU/caption':>11} | {'by chars: median':>16} {'p90':>6} {'<100ms':>7}"
    )
    for variant, rate in voices:
        for how in hows:
            errors: list[float] = []
            naive: list[float] = []
            cpu = 0.0
            captions = fallbacks = 0
            for language in languages:
                voice = espeak_voice(language) or language
                for text in CAPTIONS[language]:
                    with tempfile.TemporaryDirectory() as scratch_name:
                        scratch = Path(scratch_name)
                        reference, events = engine.synthesize_words(text, language, scratch)
                        known = word_units(text, events, wav_sample_count(reference))
                        truth = _render(text, voice + variant, rate, scratch / "standin.wav")
                        standin, stretch = _transform(scratch / "standin.wav", how, scratch)
                        started = _cpu()
                        aligned = alignment.align(text, reference, known, standin)
                        cpu += _cpu() - started
                        captions += 1
                        truth_s = {(w.start, w.end): w.sample / 22050 * stretch for w in truth}
                        if aligned is None or len(aligned) != len(known):
                            fallbacks += 1
                            continue
                        samples, rate_hz = alignment.read_wav(standin)
                        begin, end = alignment.speech_span(samples, rate_hz)
                        length = max(1, len(text))
                        for word in aligned:
                            if (word.start, word.end) not in truth_s:
                                continue
                            onset = truth_s[(word.start, word.end)]
                            errors.append(abs(word.sample / rate_hz - onset))
                            guess = (begin + (end - begin) * word.start / length) / rate_hz
                            naive.append(abs(guess - onset))
            e, n = np.array(errors) * 1000, np.array(naive) * 1000
            name = f"{variant or 'default'}@{rate} {how}"
            print(
                f"{name:<24} {e.size:>5} {np.median(e):>5.0f}ms {np.percentile(e, 90):>4.0f}ms "
                f"{np.mean(e < 100):>6.0%} {fallbacks:>8} {cpu / captions * 1000:>9.0f}ms | "
                f"{np.median(n):>14.0f}ms {np.percentile(n, 90):>4.0f}ms {np.mean(n < 100):>6.0%}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--languages", default="en,de,fr,es")
    parser.add_argument("--voices", default="+f3:140,+m3:190,+klatt:165")
    parser.add_argument("--how", default="plain,mp3,mp3+atempo")
    args = parser.parse_args()
    voices = []
    for item in args.voices.split(","):
        variant, rate = item.rsplit(":", 1)
        voices.append((variant, int(rate)))
    measure(args.languages.split(","), voices, args.how.split(","))


if __name__ == "__main__":
    main()
