"""Frame-exact timing and caption file formatting (pure functions, no media)."""

from __future__ import annotations

import pytest

from services import timeline
from services.timeline import Cue
from tests.media import parse_srt, parse_vtt

RATE = 48_000


@pytest.mark.parametrize(
    ("samples", "fps", "frames"),
    [
        (48_000, 24, 24),  # exactly one second
        (48_001, 24, 25),  # one sample more needs one more frame
        (47_999, 24, 24),
        (2_000, 24, 1),  # exactly one frame
        (2_001, 24, 2),
        (1, 30, 1),
        (0, 24, 1),  # never zero frames: a page is always seen
        (22_050 * 3, 10, 14),  # 66150 samples at 48 kHz = 1.378 s -> 14 frames at 10 fps
    ],
)
def test_frames_for_samples_rounds_up_to_whole_frames(samples: int, fps: int, frames: int) -> None:
    assert timeline.frames_for_samples(samples, RATE, fps) == frames


@pytest.mark.parametrize("fps", [10, 12, 20, 24, 25, 30, 60])
def test_frames_cover_the_audio_with_less_than_one_frame_of_padding(fps: int) -> None:
    for samples in range(1, 5 * RATE, 7919):
        frames = timeline.frames_for_samples(samples, RATE, fps)
        covered = timeline.sample_at_frame(frames, RATE, fps)
        assert covered >= samples
        assert covered - samples < RATE / fps


def test_sample_at_frame_is_exact_and_does_not_drift() -> None:
    assert timeline.sample_at_frame(0, RATE, 24) == 0
    assert timeline.sample_at_frame(24, RATE, 24) == RATE
    assert timeline.sample_at_frame(1, RATE, 24) == 2000
    # An hour at 24 fps lands on the exact sample: no accumulated rounding.
    assert timeline.sample_at_frame(24 * 3600, RATE, 24) == RATE * 3600
    # Rates that do not divide evenly still land within one sample and never run backwards.
    starts = [timeline.sample_at_frame(frame, 44_100, 30) for frame in range(0, 3000)]
    assert starts == sorted(starts)
    assert all(abs(start - frame * 44_100 / 30) <= 0.5 for frame, start in enumerate(starts))


@pytest.mark.parametrize(
    ("seconds", "fps", "left", "right", "expected"),
    [
        (0.4, 20, 100, 100, 8),
        (0.4, 24, 100, 100, 10),  # 9.6 -> 10
        (0.4, 25, 100, 100, 10),
        (0.4, 12, 100, 100, 4),  # 4.8 -> 5 -> even 4
        (0.4, 10, 100, 100, 4),
        (0.4, 24, 3, 100, 2),  # never longer than the shorter page, and even
        (0.4, 24, 100, 1, 0),
        (0.0, 24, 100, 100, 0),
    ],
)
def test_crossfade_is_even_and_bounded_by_both_pages(
    seconds: float, fps: int, left: int, right: int, expected: int
) -> None:
    fade = timeline.crossfade_frames(seconds, fps, left, right)
    assert fade == expected
    assert fade % 2 == 0
    assert 0 <= fade <= min(left, right)


def test_crossfade_properties_hold_everywhere() -> None:
    for fps in (10, 12, 24, 30):
        for left in range(1, 30):
            for right in range(1, 30):
                fade = timeline.crossfade_frames(0.4, fps, left, right)
                assert fade % 2 == 0 and 0 <= fade <= min(left, right, round(0.4 * fps))


def test_part_fade_is_at_most_a_third_of_the_part() -> None:
    assert timeline.part_fade_frames(0.4, 20, 100) == 8
    assert timeline.part_fade_frames(0.4, 20, 9) == 3
    assert timeline.part_fade_frames(0.4, 20, 2) == 0
    assert timeline.part_fade_frames(0.0, 20, 100) == 0


RELAXED, NORMAL = timeline.PACES["relaxed"], timeline.PACES["normal"]


def _seconds_to_samples(*seconds: float) -> list[int]:
    return [round(value * RATE) for value in seconds]


@pytest.mark.parametrize("pace", [RELAXED, NORMAL], ids=["relaxed", "normal"])
@pytest.mark.parametrize("fps", [10, 20, 24, 30])
@pytest.mark.parametrize(("first", "last"), [(False, False), (True, False), (False, True)])
def test_part_timing_follows_the_read_aloud(
    pace: timeline.Pace, fps: int, first: bool, last: bool
) -> None:
    speech = _seconds_to_samples(2.3, 0.3, 4.1)  # a short caption ("Boom!") in the middle
    timing = timeline.part_timing(speech, RATE, fps, pace, 0.4, first=first, last=last)
    frame = 1 / fps
    starts = [start / fps for start in timing.speech_starts]
    ends = [end / fps for end in timing.speech_ends]
    # Each page speaks as long as its audio (whole frames), one after another.
    for start, end, seconds in zip(starts, ends, [2.3, 0.3, 4.1], strict=True):
        assert seconds - 1e-9 <= end - start < seconds + frame
    # The picture is fully on screen for the lead-in (the opening) before the first word.
    assert starts[0] >= timing.fade_in / fps + pace.lead_in - frame / 2
    if first:
        assert abs(starts[0] - pace.opening) <= frame / 2
    # A pause between captions, longer when a short caption must stay readable.
    assert abs(starts[1] - ends[0] - pace.caption_pause) <= frame
    assert starts[2] - ends[1] >= pace.caption_pause - frame
    # Every caption is on screen long enough to read, and all the time its page is spoken.
    spoken = zip(timing.speech_starts, timing.speech_ends, strict=True)
    for (on, off), (start, end) in zip(timing.captions, spoken, strict=True):
        assert (off - on) / fps >= pace.min_caption - frame / 2
        assert on <= start and end <= off
    # Between two captions at least one frame shows neither.
    for (_, off), (on, _) in zip(timing.captions, timing.captions[1:], strict=False):
        assert off < on
    # The end: a page-turn pause (with the next part's fade-in and lead-in), or the ending.
    tail = (timing.frames - timing.speech_ends[-1]) / fps
    if last:
        assert tail >= pace.ending_hold + pace.ending_fade - frame
        assert timing.captions[-1][1] == timing.frames - timing.fade_out
    else:
        assert abs(tail + 0.4 + pace.lead_in - pace.page_turn) <= 2 * frame
        assert timing.captions[-1][1] == timing.frames
    # What the clip shows adds up to the part, its dissolves fit their stills.
    assert sum(frames for _, frames in timing.segments) == timing.frames
    assert len(timing.changes) == len(timing.segments) - 1
    assert all(change % 2 == 0 for change in timing.changes)
    for index, change in enumerate(timing.changes):
        assert (
            change // 2 <= timing.segments[index][1]
            and change // 2 <= timing.segments[index + 1][1]
        )
    assert [page for page, _ in timing.segments if page is not None] == [0, 1, 2]


def test_caption_change_fits_a_short_pause_at_a_low_frame_rate() -> None:
    pause, fade, gap = timeline.caption_change_frames(NORMAL, 5)
    assert 2 * fade + gap + 2 <= pause or fade == 0
    assert gap >= 1


def test_srt_has_numbered_blocks_with_comma_milliseconds() -> None:
    cues = [Cue(0.0, 1.25, "Hello there."), Cue(1.25, 2.5, "Zoë’s «café» — naïve…")]
    text = timeline.to_srt(cues)
    assert text == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
        "2\n00:00:01,250 --> 00:00:02,500\nZoë’s «café» — naïve…\n"
    )
    parsed = parse_srt(text)
    assert [(c.index, c.start, c.end, c.text) for c in parsed] == [
        (1, 0.0, 1.25, "Hello there."),
        (2, 1.25, 2.5, "Zoë’s «café» — naïve…"),
    ]


def test_vtt_has_a_header_and_dot_milliseconds() -> None:
    text = timeline.to_vtt([Cue(0.0, 0.5, "One."), Cue(0.5, 1.0, "Two.")])
    assert text.startswith("WEBVTT\n\n")
    assert "00:00:00.000 --> 00:00:00.500\nOne.\n" in text
    assert [(c.start, c.end, c.text) for c in parse_vtt(text)] == [
        (0.0, 0.5, "One."),
        (0.5, 1.0, "Two."),
    ]


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [
        (0.0, "00:00:00,000", "00:00:00.000"),
        (59.9995, "00:01:00,000", "00:01:00.000"),  # rounding carries into the minutes
        (61.042, "00:01:01,042", "00:01:01.042"),
        (3599.999, "00:59:59,999", "00:59:59.999"),
        (3600.0, "01:00:00,000", "01:00:00.000"),
        (3 * 3600 + 25 * 60 + 45.678, "03:25:45,678", "03:25:45.678"),
        (12345 / 24, "00:08:34,375", "00:08:34.375"),
    ],
)
def test_clock_formats_hours_minutes_seconds_millis(seconds: float, srt: str, vtt: str) -> None:
    cue = [Cue(seconds, seconds + 1, "x")]
    assert timeline.to_srt(cue).splitlines()[1].startswith(f"{srt} --> ")
    assert timeline.to_vtt(cue).splitlines()[2].startswith(f"{vtt} --> ")


def test_frame_times_at_24_fps_survive_the_millisecond_clock() -> None:
    """Cue ends written to the millisecond still name the right frame when read back."""
    timing = timeline.part_timing(
        [37 * 2000, 1, 24 * 2000, 49 * 2000, 13 * 2000] * 40, RATE, 24, RELAXED, 0.4
    )
    starts = [(on / 24, off / 24) for on, off in timing.captions]
    cues = [Cue(start, end, f"page {i}") for i, (start, end) in enumerate(starts)]
    for parsed, (start, end) in zip(parse_srt(timeline.to_srt(cues)), starts, strict=True):
        assert round(parsed.start * 24) == round(start * 24)
        assert round(parsed.end * 24) == round(end * 24)
        assert abs(parsed.start - start) <= 0.0005 + 1e-9
