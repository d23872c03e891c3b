"""How fast the narration speaks, in words a minute, measured from its sound.

    .venv/bin/python bench/speech_rate.py                  # espeak-ng -s values, and atempo
    .venv/bin/python bench/speech_rate.py --speeds 112 120 --tempos 0.9

Each children's sentence is spoken by espeak-ng; its speech is measured from the first to the last
audible 10 ms window (RMS above -45 dBFS), so the silence espeak-ng adds at the end does not count.
The rate is all the words over all that speech. gTTS cannot be reached here: its normal voice is
stood in for by espeak-ng at a normal rate, slowed with ffmpeg's atempo as the narrator slows
gTTS's MP3 (services/media/speech.py), to show what a tempo does to the measured rate.

This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import array
import math
import re
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SENTENCES = [
    "Far out in the bay stood an old lighthouse.",
    "At the top lived a small black cat called Zoe.",
    "One autumn night, a wild storm blew in.",
    "The wind howled, the rain hissed, and the great lamp went out!",
    "Out in the dark, the little boat was sailing home.",
    "She raced up the winding stairs, all the way to the lamp room.",
    "With one brave leap, she pressed the big brass switch.",
    "The boat came safely home, and the cat slept until noon.",
    "The little fox looked up at the moon. It was big and round and yellow.",
    "Mia had a red balloon. She held it tight all the way to the park.",
    "Once upon a time, there was a tiny mouse who lived under the stairs.",
    "The bear yawned. It was time for his long winter sleep.",
    "Every morning the hen laid one brown egg in the straw.",
]
WINDOW, SPEECH_DB = 0.01, -45.0


def speech_seconds(path: Path) -> float:
    """Seconds from the first to the last audible window of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as audio:
        rate = audio.getframerate()
        samples = array.array("h", audio.readframes(audio.getnframes()))
    step = round(rate * WINDOW)
    level = 32768 * 10 ** (SPEECH_DB / 20)
    loud = [
        at
        for at in range(0, len(samples), step)
        if math.sqrt(sum(v * v for v in samples[at : at + step]) / len(samples[at : at + step]))
        > level
    ]
    return (loud[-1] + step - loud[0]) / rate if loud else 0.0


def measure(speed: int, tempo: float, scratch: Path) -> float:
    words = seconds = 0.0
    for index, text in enumerate(SENTENCES):
        spoken = scratch / f"{index}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en", "-s", str(speed), "-w", str(spoken), "--stdin"],
            input=text.encode(),
            check=True,
        )
        if tempo != 1.0:
            slowed = scratch / f"{index}-slow.wav"
            subprocess.run(
                ["ffmpeg", "-v", "error", "-y", "-i", str(spoken), "-af", f"atempo={tempo}"]
                + ["-c:a", "pcm_s16le", str(slowed)],
                check=True,
            )
            spoken = slowed
        words += len(re.findall(r"\w+", text))
        seconds += speech_seconds(spoken)
    return words / seconds * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speeds", type=int, nargs="+", default=[175, 165, 130, 120, 112, 105])
    parser.add_argument("--tempos", type=float, nargs="+", default=[0.85, 0.9, 0.95])
    parser.add_argument("--normal", type=int, default=165, help="-s standing in for gTTS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="speech-rate-") as scratch:
        print("| espeak-ng -s | atempo | words a minute |")
        print("|---|---|---|")
        for speed in args.speeds:
            print(f"| {speed} | 1 | {measure(speed, 1.0, Path(scratch)):.0f} |")
        for tempo in args.tempos:
            rate = measure(args.normal, tempo, Path(scratch))
            print(f"| {args.normal} | {tempo} | {rate:.0f} |")


if __name__ == "__main__":
    main()
