"""Word times for speech whose engine reports none (gTTS): the same text spoken by espeak-ng, whose
word times are known, aligned to it.

Both recordings become MFCC frames (10 ms apart, each normalized over its recording so the two
voices' colours matter less than what they say); dynamic time warping finds the cheapest path
from the start of the speech in one to the start in the other and from end to end; each of
espeak-ng's word onsets is carried along that path to the other recording. Measured against voices
whose word times are known (bench/alignment.py; bench/README.md).

When the alignment is not credible, the highlight is coarser rather than wrong: speech lengths
more than twice apart give no word times at all; a poor match (a high mean cost along the path)
gives clause times only (each clause from its first word's aligned time, which a poor path still
places near the pauses). Both are logged.
"""

from __future__ import annotations

import logging
import re
import tempfile
import wave
from pathlib import Path

import numpy as np

from services.read_along import WordTime, word_units

log = logging.getLogger(__name__)

HOP_SECONDS = 0.010
WINDOW_SECONDS = 0.025
MEL_BANDS = 26
COEFFICIENTS = 13
# Credibility: speech lengths (after trimming silence) at most this far apart...
LENGTH_RATIO = (0.5, 2.0)
# ...and a mean cost along the path at most this share of the mean cost of any two frames.
# Measured (bench/alignment.py's captions): the same text by another espeak-ng voice 0.53-0.76,
# a different text 0.84-0.92.
MAX_PATH_COST = 0.8


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit WAV as floats in [-1, 1], and its rate."""
    with wave.open(str(path), "rb") as audio:
        rate = audio.getframerate()
        raw = audio.readframes(audio.getnframes())
        channels = audio.getnchannels()
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def _mel_filters(rate: int, fft_size: int) -> np.ndarray:
    def mel(hz: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def hz(mels: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)

    top = min(7600.0, rate / 2)
    edges = hz(np.linspace(mel(80.0), mel(top), MEL_BANDS + 2))
    bins = np.fft.rfftfreq(fft_size, 1.0 / rate)
    filters = np.zeros((MEL_BANDS, bins.size), dtype=np.float32)
    for band in range(MEL_BANDS):
        low, centre, high = edges[band : band + 3]
        rising = (bins - low) / (centre - low)
        falling = (high - bins) / (high - centre)
        filters[band] = np.clip(np.minimum(rising, falling), 0.0, None)
    return filters


def _dct_matrix() -> np.ndarray:
    k = np.arange(COEFFICIENTS)[:, None]
    n = np.arange(MEL_BANDS)[None, :]
    return np.cos(np.pi * k * (2 * n + 1) / (2 * MEL_BANDS)).astype(np.float32)


def mfcc(samples: np.ndarray, rate: int) -> np.ndarray:
    """(frames, coefficients): MFCCs every HOP_SECONDS, c0 left out, with their differences
    to the next frame (deltas), each normalized to mean 0 and deviation 1 over the recording."""
    hop = round(rate * HOP_SECONDS)
    window = round(rate * WINDOW_SECONDS)
    fft_size = 1 << (window - 1).bit_length()
    if samples.size < window:
        samples = np.pad(samples, (0, window - samples.size))
    count = 1 + (samples.size - window) // hop
    frames = np.lib.stride_tricks.sliding_window_view(samples, window)[::hop][:count]
    spectrum = np.abs(np.fft.rfft(frames * np.hamming(window).astype(np.float32), fft_size)) ** 2
    energies = np.log(spectrum @ _mel_filters(rate, fft_size).T + 1e-8)
    cepstra = energies @ _dct_matrix().T
    features = cepstra[:, 1:]
    deltas = np.gradient(features, axis=0)
    both = np.hstack([features, deltas])
    normalized: np.ndarray = (both - both.mean(axis=0)) / (both.std(axis=0) + 1e-6)
    return normalized


def speech_span(samples: np.ndarray, rate: int) -> tuple[int, int]:
    """First and last sample of speech: where 10 ms frames rise above 1/30 of the loudest."""
    hop = round(rate * HOP_SECONDS)
    count = max(1, samples.size // hop)
    levels = np.sqrt(np.mean(samples[: count * hop].reshape(count, hop) ** 2, axis=1))
    loud = np.nonzero(levels > levels.max() / 30.0)[0] if levels.max() > 0 else np.array([])
    if loud.size == 0:
        return 0, samples.size
    return int(loud[0]) * hop, min(samples.size, (int(loud[-1]) + 1) * hop)


# A window is audible when its RMS is within this many dB of the page's loudest window: a stop's
# burst and a soft fricative (f, h) are, the silence of a stop's closure and of a pause is not.
SOUNDING_DB = -40.0
SOUNDING_SECONDS = 0.005


def sounding(path: Path) -> tuple[list[bool], int]:
    """Which windows of `SOUNDING_SECONDS` of a WAV file are audible, and the window's length
    in samples (for read_along.to_sound)."""
    samples, rate = read_wav(path)
    window = max(1, round(rate * SOUNDING_SECONDS))
    count = samples.size // window
    if count == 0:
        return [], window
    levels = np.sqrt(np.mean(samples[: count * window].reshape(count, window) ** 2, axis=1))
    floor = levels.max() * 10 ** (SOUNDING_DB / 20)
    return [bool(level) for level in levels > floor] if floor > 0 else [False] * count, window


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """The cheapest monotone path from (0, 0) to the last frames of both (steps: both, one or
    the other), as an array mapping each frame of `a` to the first frame of `b` it meets; and the
    mean Euclidean distance along it, relative to the mean over all pairs of frames.

    Row by row, vectorized: along a row, D[j] = C[j] + min(A[j], D[j-1]) with A[j] the better of
    the cells above and above-left; with S the row's running sum of C, D[j] - S[j] is a running
    minimum (`np.minimum.accumulate`)."""
    squares = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    cost = np.sqrt(np.clip(squares, 0.0, None)).astype(np.float64)
    rows, columns = cost.shape
    total = np.full((rows, columns), np.inf)
    total[0] = np.cumsum(cost[0])
    for i in range(1, rows):
        above = total[i - 1]
        best = np.minimum(above, np.concatenate(([np.inf], above[:-1])))
        running = np.cumsum(cost[i])
        shifted = best - np.concatenate(([0.0], running[:-1]))
        total[i] = np.minimum.accumulate(shifted) + running
    # Back from the end, choosing the cheapest predecessor.
    i, j = rows - 1, columns - 1
    first_column = np.zeros(rows, dtype=np.int64)
    steps = 1
    first_column[i] = j
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            choices = (total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
            pick = int(np.argmin(choices))
            i, j = (i - 1, j - 1) if pick == 0 else (i - 1, j) if pick == 1 else (i, j - 1)
        first_column[i] = j
        steps += 1
    # Relative to the mean distance between any two frames: 1 is no better than chance.
    return first_column, float(total[-1, -1] / steps / cost.mean())


_CLAUSE_END = re.compile(r"[,;:.!?\u3001\u3002\uff0c\uff01\uff1f\u060c\u061f\u0964]+\s*")


def _clauses(text: str, words: list[WordTime]) -> list[WordTime]:
    """The word times joined into clauses (cut after , ; : . ! ? and their CJK, Arabic and
    Devanagari forms), each from its first word's time."""
    ends = {match.end() for match in _CLAUSE_END.finditer(text)}
    clauses: list[WordTime] = []
    for word in words:
        if clauses and not any(clauses[-1].end <= end <= word.start for end in ends):
            clauses[-1] = clauses[-1].model_copy(update={"end": word.end})
        else:
            clauses.append(word)
    return clauses


def align(
    text: str, reference: Path, reference_words: list[WordTime], target: Path
) -> list[WordTime] | None:
    """`reference_words` (times in `reference`'s samples) carried over to `target`'s samples,
    or clause times, or None: see the module's notes."""
    known, known_rate = read_wav(reference)
    spoken, rate = read_wav(target)
    known_start, known_end = speech_span(known, known_rate)
    start, end = speech_span(spoken, rate)
    ratio = ((end - start) / rate) / max(1e-3, (known_end - known_start) / known_rate)
    if not LENGTH_RATIO[0] <= ratio <= LENGTH_RATIO[1]:
        log.warning(
            "read-along: no word highlight for %r: its speech is %.2f times espeak-ng's",
            text[:40],
            ratio,
        )
        return None
    path, mean_cost = dtw_path(
        mfcc(known[known_start:known_end], known_rate), mfcc(spoken[start:end], rate)
    )
    hop_known, hop = known_rate * HOP_SECONDS, rate * HOP_SECONDS
    carried = []
    for word in reference_words:
        frame = int(np.clip(round((word.sample - known_start) / hop_known), 0, path.size - 1))
        sample = start + round(path[frame] * hop) if word.sample > known_start else 0
        carried.append(word.model_copy(update={"sample": int(sample)}))
    for index in range(1, len(carried)):
        if carried[index].sample < carried[index - 1].sample:
            carried[index] = carried[index].model_copy(update={"sample": carried[index - 1].sample})
    if mean_cost > MAX_PATH_COST:
        log.warning(
            "read-along: clause highlight only for %r: poor match with espeak-ng (cost %.2f)",
            text[:40],
            mean_cost,
        )
        return _clauses(text, carried)
    return carried


def align_to_espeak(text: str, language: str, target: Path) -> list[WordTime] | None:
    """Word times for `target` (a WAV of `text` spoken by another voice), from espeak-ng's
    rendering of the same text; None when espeak-ng has no voice for the language."""
    from services.media.speech import EspeakEngine, SpeechError
    from services.media.wav import wav_sample_count

    engine = EspeakEngine()
    with tempfile.TemporaryDirectory(prefix="align-") as scratch:
        try:
            reference, events = engine.synthesize_words(text, language, Path(scratch))
        except SpeechError as error:
            log.warning("read-along: no word highlight for %r: %s", text[:40], error)
            return None
        words = word_units(text, events, wav_sample_count(reference))
        if not words:
            return []
        return align(text, reference, words, target)
