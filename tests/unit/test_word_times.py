"""Read-along word times: espeak-ng's own word events (through libespeak-ng), mapped onto the
page's words, checked against the audio itself; the gTTS path's aligner; the VTT timestamps."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from services import timeline
from services.media import alignment, espeak_library
from services.media.speech import EspeakEngine, Narrator, espeak_voice
from services.media.wav import wav_sample_count
from services.read_along import (
    Event,
    WordTime,
    first_frames,
    highlights,
    in_part,
    to_sound,
    vtt_text,
    word_units,
)
from services.stages import PartClip
from tests.media import parse_vtt

RATE = 22_050


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as audio:
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2").astype(float)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", 'The fox ran. "Hello!" she said.'),
        ("de", "Größe über alles: der Fuchs sagte „Hallo“."),
        ("zh", "小狐狸跑到河边。"),
    ],
)
def test_library_speaks_the_command_lines_very_samples(
    tmp_path: Path, language: str, text: str
) -> None:
    voice = espeak_voice(language)
    assert voice is not None
    engine = EspeakEngine()  # the child's rate (its -s)
    engine.synthesize_words(text, language, tmp_path)
    speed = str(engine.words_per_minute)
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", speed, "-w", str(tmp_path / "cli.wav"), "--stdin"],
        input=text.encode(),
        check=True,
    )
    assert (tmp_path / "espeak.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()


def _bursts(samples: np.ndarray, rate: int, gap: float = 0.12) -> list[float]:
    """Where sound starts after at least `gap` seconds of silence (10 ms frames: at 22,050 Hz
    220 samples, 9.98 ms, so a frame's time is its index times that)."""
    hop = rate // 100
    count = samples.size // hop
    levels = np.sqrt((samples[: count * hop].reshape(count, hop) ** 2).mean(axis=1))
    loud = levels > levels.max() / 25
    onsets: list[float] = []
    quiet = int(gap * 100)
    for index in np.nonzero(loud)[0]:
        if not loud[max(0, index - quiet) : index].any():
            onsets.append(index * hop / rate)
    return onsets


# Words spoken one sentence at a time, so each word's onset can be measured from the audio (the
# silence before it), not taken from the code's own numbers.
SEPARATE_WORDS = {
    "en": "Fox. River. Moon. Apple. Window.",
    "fr": "Renard. Rivière. Lune. Pomme. Fenêtre.",
    "de": "Fuchs. Fluss. Mond. Apfel. Fenster.",
    "es": "Luna. Mano. Nube. Mesa. Burro.",
    "hi": "लोमड़ी। नदी। चाँद। सेब। खिड़की।",
    "ar": "ثعلب. نهر. قمر. تفاحة. نافذة.",
    "zh": "狐狸。河流。月亮。苹果。窗户。",
    "th": "หมา. แมว. ปลา. นก. ม้า.",
}


@pytest.mark.parametrize("language", sorted(SEPARATE_WORDS))
def test_word_times_match_the_onsets_heard(tmp_path: Path, language: str) -> None:
    text = SEPARATE_WORDS[language]
    narrator = Narrator(EspeakEngine(), tmp_path)
    wav = narrator.narrate_many([text], language, words=True)[0]
    words = narrator.words_of(text, language)
    assert words is not None
    heard = _bursts(_samples(wav), RATE)
    assert len(heard) == 5, heard
    # The first unit of each sentence (a word; in Chinese and Thai the piece the voice speaks).
    starts = [0] + [match.end() for match in re.finditer(r"[.。।]\s*", text)][:4]
    firsts = [next(word for word in words if word.start >= start) for start in starts]
    assert [word.start for word in firsts] == starts, [text[w.start : w.end] for w in words]
    samples = [word.sample for word in words]
    assert samples == sorted(samples)
    assert "".join(text[word.start : word.end] for word in words) == text.replace(" ", "")
    for word, onset in zip(firsts, heard, strict=True):
        error = word.sample / RATE - onset
        # Each word's time is where its sound starts (espeak-ng's events come up to 80 ms before
        # it, in a stop's closure: read_along.to_sound moves them): a word time is at most 30 ms
        # before the onset heard (a soft f, h or th the detector hears late), and never after it
        # by more than the detector's 10 ms window (it dates an onset from the window's start).
        assert -0.03 <= error <= 0.01, (text[word.start : word.end], error)


def test_small_words_sharing_an_event_and_quotes_get_times_in_order(tmp_path: Path) -> None:
    text = "Sie sagte „Hallo“ und lief, ganz schnell, zum Fluss."
    target = tmp_path / "page.wav"
    found = espeak_library.speak(text, "de", 165, target)
    events = [Event(word.position, word.length, word.sample) for word in found]
    words = word_units(text, events, wav_sample_count(target))
    assert [text[word.start : word.end] for word in words] == text.split()
    samples = [word.sample for word in words]
    assert samples == sorted(samples)
    hallo = words[2]
    # „ gives an empty event before the word: it times the word, not a blank.
    assert any(event.length == 0 for event in events)
    assert hallo.sample > words[1].sample


def test_units_without_spaces_and_shared_events() -> None:
    # Chinese: one event per character.
    text = "小狐狸跑"
    events = [Event(index, 1, 1000 * index) for index in range(4)]
    assert [(w.start, w.end, w.sample) for w in word_units(text, events, 5000)] == [
        (0, 1, 0),
        (1, 2, 1000),
        (2, 3, 2000),
        (3, 4, 3000),
    ]
    # Japanese: every event names the whole sentence: one unit per event, in order.
    text = "小さなキツネ"
    events = [Event(0, 6, 900 * index) for index in range(3)]
    units = word_units(text, events, 4000)
    assert [(w.start, w.end) for w in units] == [(0, 2), (2, 4), (4, 6)]
    assert [w.sample for w in units] == [0, 900, 1800]
    # A word no event reached: interpolated by character offset between its neighbours.
    text = "one two three"
    units = word_units(text, [Event(0, 3, 0), Event(8, 5, 800)], 1000)
    assert [w.sample for w in units] == [0, 400, 800]


def test_word_times_move_from_silence_to_the_sound() -> None:
    # Windows of 100 samples: silence, then sound from window 3, a gap (a stop's closure) in
    # windows 6-7, sound again from window 8.
    sounding = [False, False, False, True, True, True, False, False, True, True]
    words = [
        WordTime(start=0, end=3, sample=50),  # in the silence before the speech: to window 3
        WordTime(start=4, end=7, sample=620),  # in the closure: to the burst at window 8
        WordTime(start=8, end=9, sample=910),  # already heard: kept
    ]
    assert [word.sample for word in to_sound(words, sounding, 100)] == [300, 800, 910]
    # Sound only after the next word's time: this word is not heard on its own, it stays.
    words = [WordTime(start=0, end=1, sample=10), WordTime(start=2, end=3, sample=150)]
    assert [word.sample for word in to_sound(words, sounding, 100)] == [10, 300]
    # Words sharing a time move together; times never decrease.
    words = [WordTime(start=0, end=1, sample=100), WordTime(start=2, end=3, sample=100)]
    assert [word.sample for word in to_sound(words, sounding, 100)] == [300, 300]


def test_highlights_hold_and_never_lag() -> None:
    words = [WordTime(start=0, end=1, sample=0), WordTime(start=2, end=3, sample=RATE // 20)]
    words.append(WordTime(start=4, end=5, sample=RATE))
    states = highlights(words, RATE, 24, page_frames=48)
    # The second word comes 50 ms after the first: it lights on its own frame (never late), and
    # the first stays lit beside it until its 150 ms (4 frames) have passed.
    assert [(state.first, state.current) for state in states] == [
        (0, (0,)),
        (1, (0, 1)),
        (4, (1,)),
        (24, (2,)),
    ]


def test_vtt_word_timestamps_are_the_frames_shown() -> None:
    words = [
        WordTime(start=0, end=3, sample=0),
        WordTime(start=4, end=7, sample=RATE // 2),
        WordTime(start=8, end=11, sample=RATE // 2 + 10),
        WordTime(start=12, end=17, sample=RATE),
    ]
    # Page 2's caption is on from frame 30 (fully from 34), its speech starts at frame 40.
    _, frames = in_part(words, RATE, 24, speech_start=40, clear=(34, 70))
    assert frames == [40, 52, 52, 64]  # the word times after the speech start
    clip = PartClip(
        part_number=1,
        video=Path("v.mp4"),
        audio=Path("a.wav"),
        frames=72,
        page_texts=["Hi.", "The fox ran away."],
        speech_starts=[6, 40],
        speech_ends=[20, 65],
        captions=[(0, 28), (30, 72)],
        fade_in=0,
        page_words=[None, words],
        word_frames=[None, frames],
    )
    cues = timeline.story_cues([clip], fps=24)
    vtt = timeline.to_vtt(cues)
    assert "<" not in vtt.split("\n\n")[1]  # a page without word times: plain
    # "The" lit at frame 40 (after the cue's start: stamped), "fox" at 52 (2.167 s), "ran" on
    # the same frame (no second timestamp), "away." at 64: each at the frame its highlight
    # appears, the page's speech start plus the word time.
    assert cues[1].timed == "<00:00:01.667>The <00:00:02.167>fox ran <00:00:02.667>away."
    assert first_frames(words, RATE, 24, 48) == [0, 12, 12, 24]
    parsed = parse_vtt(vtt)
    assert parsed[1].text.startswith("The")
    assert vtt_text("a b", [], 0, 24, [], timeline.vtt_clock) == "a b"


def test_no_highlight_before_the_caption_is_fully_visible() -> None:
    # The second word 1/3 s (8 frames) into the speech.
    words = [WordTime(start=0, end=3, sample=0), WordTime(start=4, end=7, sample=RATE // 3)]
    # Speech starting 2 frames before the caption's fade-in ends: the first word waits for it.
    states, frames = in_part(words, RATE, 24, speech_start=10, clear=(12, 40))
    assert frames == [12, 18]
    assert [(state.first, state.current) for state in states] == [(12, (0,)), (18, (1,))]
    # With the story's real timing: every page's speech starts inside its clear frames.
    timing = timeline.part_timing(
        [RATE, RATE // 2, RATE], RATE, 24, timeline.pace_of("normal"), 0.5, first=True, last=True
    )
    for start, (clear_from, clear_to), (shown, gone) in zip(
        timing.speech_starts, timing.clear, timing.captions, strict=True
    ):
        assert shown <= clear_from <= start < clear_to <= gone


def test_aligner_places_words_of_another_voice(tmp_path: Path) -> None:
    """The gTTS path, with espeak-ng's female voice at 140 words a minute, MP3-coded and slowed
    to 0.85x, standing in for gTTS: its own word events are the truth."""
    text = "Every morning the little fox ran down to the river to drink and watch the fish."
    reference, events = EspeakEngine().synthesize_words(text, "en", tmp_path)
    known = word_units(text, events, wav_sample_count(reference))
    found = espeak_library.speak(text, "en+f3", 140, tmp_path / "standin.wav")
    truth = word_units(
        text,
        [Event(w.position, w.length, w.sample) for w in found],
        wav_sample_count(tmp_path / "standin.wav"),
    )
    coded = tmp_path / "standin.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp_path / "standin.wav"), "-af", "atempo=0.85",
         "-c:a", "libmp3lame", "-b:a", "64k", str(coded)],
        check=True,
    )  # fmt: skip
    decoded = tmp_path / "decoded.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(coded), "-ar", "48000", "-ac", "1", str(decoded)],
        check=True,
    )
    aligned = alignment.align(text, reference, known, decoded)
    assert aligned is not None and len(aligned) == len(truth)
    errors = [
        abs(a.sample / 48_000 - t.sample / RATE / 0.85) for a, t in zip(aligned, truth, strict=True)
    ]
    assert np.median(errors) < 0.05 and np.percentile(errors, 90) < 0.1, errors


def test_aligner_refuses_speech_of_another_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "The little fox ran down to the river."
    reference, events = EspeakEngine().synthesize_words(text, "en", tmp_path)
    known = word_units(text, events, wav_sample_count(reference))
    other = tmp_path / "other.wav"
    espeak_library.speak("At night the stars came out, one by one.", "en+f3", 140, other)
    aligned = alignment.align(text, reference, known, other)
    # Not word by word: clauses at most, and said so in the log.
    assert aligned is None or len(aligned) < len(known)
    assert "read-along" in caplog.text


def test_line_offsets_follow_wrapping_and_direction_marks() -> None:
    from services.media.highlight_drawing import line_offsets

    text = "The fox ran to the river"
    lines = ["The fox ran", "to the river"]
    offsets = line_offsets(text, lines)
    joined = "\u2028".join(lines)
    # Every letter lands on itself in the drawn lines; the space a line break took has none.
    assert all(joined[at] == text[i] for i, at in enumerate(offsets) if at is not None)
    assert offsets[text.index(" to")] is None
    # A direction mark in front of the first line shifts every index by one.
    marked = line_offsets("Zoé قال", ["\u200fZoé قال"])
    assert marked[0] == 1 and marked[-1] == len("\u200fZoé قال") - 1


def test_part_store_keeps_the_word_times(tmp_path: Path) -> None:
    from services.storage.folder import LocalStorage
    from services.storage.part_store import PartStore

    (tmp_path / "clip.mp4").write_bytes(b"clip")
    (tmp_path / "narration.wav").write_bytes(b"wav")
    words = [WordTime(start=0, end=3, sample=0), WordTime(start=4, end=7, sample=9000)]
    clip = PartClip(
        part_number=3,
        video=tmp_path / "clip.mp4",
        audio=tmp_path / "narration.wav",
        frames=48,
        page_texts=["The fox"],
        speech_starts=[12],
        speech_ends=[30],
        captions=[(0, 48)],
        fade_in=6,
        page_words=[words],
        word_frames=[[12, 22]],
    )
    (tmp_path / "store").mkdir()
    store = PartStore(LocalStorage(tmp_path / "store"))
    store.save("k" * 64, clip)
    loaded = store.load("k" * 64, tmp_path / "work", PartClip)
    assert loaded is not None
    assert loaded.page_words == [words] and loaded.word_frames == [[12, 22]]
    # ... and a re-used part gives the same VTT word timestamps.
    assert timeline.to_vtt(timeline.story_cues([loaded], 24)) == timeline.to_vtt(
        timeline.story_cues([clip], 24)
    )
