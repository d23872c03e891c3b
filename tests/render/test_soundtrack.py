"""How the finished video sounds and opens: music under the voice, loudness, chapters, poster.

A two-part story is rendered once through the plain stage functions (no Prefect), then assembled
several ways. The music is a steady 440 Hz tone two seconds long, so its share of the finished
file's sound can be measured apart from the voice (the power at 440 Hz against the rest), and the
video outlasts it: what plays after two seconds is the loop. One page is punctuation only: a page
of silence, as the narrator makes it when there is nothing to speak.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import timeline
from services.media import audio_graph, ffmpeg, soundtrack
from services.media.narration_track import (
    PartSound,
    join_narration,
    make_story_soundtrack,
    write_part_audio,
)
from services.media.speech import EspeakEngine, Narrator, NothingToSay
from services.settings import RenderOptions
from services.stages import (
    AssembledVideo,
    Loudness,
    PageAudio,
    PartClip,
    PartNarration,
    StorySoundtrack,
)
from services.storage.folder import LocalStorage
from services.story.model import StoryError, plan_story, survey_story
from services.timeline import narration_timing, poster_frame
from tasks.assembly import assemble_outputs
from tasks.captions import lay_out_part
from tasks.clips import render_part_clip
from tasks.fetch_assets import fetch_and_check_music, fetch_and_check_part
from tasks.narration import narrate_pages
from tests import media
from tests.stories import PALETTE, PartSpec, StorySpec, build_story

pytestmark = pytest.mark.slow

FPS = 10
OPTIONS = RenderOptions(
    width=160, height=240, fps=FPS, preset="ultrafast", language="en", tts="espeak"
)
TONE = 440.0
MUSIC_SECONDS = 2.0
CAPTIONS = {
    1: ["The cat walked along the long grey wall.", "…", "Then it sat down and looked at the sea."],
    2: ["A boat came in with the evening tide, and the cat went home."],
}


class EspeakQuietOnPunctuation(EspeakEngine):
    """espeak-ng, except that a page without a letter or digit is left silent, as the gTTS engine
    does (espeak-ng itself would make a fraction of a second of silence of it)."""

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        if not any(character.isalnum() for character in text):
            raise NothingToSay(text)
        return super().synthesize(text, language, target_dir)


@dataclass
class Rendered:
    root: Path
    clips: list[PartClip]
    narrations: list[PartNarration]
    music: Path


def write_tone(target: Path, seconds: float, frequency: float = TONE, *extra: str) -> Path:
    ffmpeg.ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={frequency}:duration={seconds}:sample_rate=44100",
        "-ac",
        "2",
        *extra,
        str(target),
    )
    return target


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    root = tmp_path_factory.mktemp("sound")
    story = build_story(
        root / "story", StorySpec(parts={n: PartSpec(captions=c) for n, c in CAPTIONS.items()})
    )
    storage = LocalStorage(story)
    work = root / "work"
    narrator = Narrator(EspeakQuietOnPunctuation(), root / "cache")
    clips, narrations = [], []
    planned = plan_story(storage.list_names()).parts
    for index, files in enumerate(planned):
        part = fetch_and_check_part(files, storage, work)
        pages = lay_out_part(part, OPTIONS, work)
        narrations.append(narrate_pages(pages, narrator, "en"))
        first, last = index == 0, index == len(planned) - 1
        clips.append(render_part_clip(pages, narrations[-1], OPTIONS, work, first, last))
    music = write_tone(root / "music.mp3", MUSIC_SECONDS)
    return Rendered(root=root, clips=clips, narrations=narrations, music=music)


def assemble_with_sound(clips: list[PartClip], work: Path, music: Path | None = None):
    """Stage 5 as the flow runs it: the soundtrack (tasks/soundtrack.py), then assembly."""
    return assemble_outputs(
        clips, OPTIONS, work, make_story_soundtrack(clips, OPTIONS, work, music)
    )


@pytest.fixture(scope="module")
def plain(rendered: Rendered) -> AssembledVideo:
    return assemble_with_sound(rendered.clips, rendered.root / "plain")


@pytest.fixture(scope="module")
def with_music(rendered: Rendered) -> AssembledVideo:
    return assemble_with_sound(rendered.clips, rendered.root / "music", rendered.music)


@pytest.fixture(scope="module")
def heard(with_music: AssembledVideo, tmp_path_factory: pytest.TempPathFactory):
    wav = media.soundtrack(with_music.video, tmp_path_factory.mktemp("heard") / "sound.wav")
    return media.read_wav_mono(wav)


def levels(heard, start: float, end: float) -> tuple[float, float]:
    """(music, everything else) in dB, over a window of the finished file's sound."""
    samples, rate = heard
    music = media.tone_power(samples, rate, TONE, start, end)
    total = media.rms(samples, int(start * rate), int(end * rate)) ** 2
    return media.decibels(music), media.decibels(max(total - music, 1e-12))


def spoken_cues(assembled: AssembledVideo) -> list[timeline.Cue]:
    return [cue for cue in assembled.cues if any(c.isalnum() for c in cue.text)]


def silent_cue(assembled: AssembledVideo) -> timeline.Cue:
    return next(cue for cue in assembled.cues if cue.text == "…")


# --- music under the voice ------------------------------------------------------------------------


def test_music_plays_under_every_spoken_page_and_past_its_own_end(
    with_music: AssembledVideo, heard
) -> None:
    assert with_music.music
    assert with_music.duration_seconds > 3 * MUSIC_SECONDS  # the tone had to loop
    for cue in spoken_cues(with_music):
        music, _ = levels(heard, cue.start + 0.3, cue.end - 0.3)
        assert music > -75, f"no music under {cue.text!r} ({music:.1f} dB)"
    # Every second after the music file's own end still has it (looped, not silence).
    end = with_music.duration_seconds - soundtrack.MUSIC_FADE_OUT
    second = MUSIC_SECONDS
    while second + 1 <= end:
        music, _ = levels(heard, second, second + 1)
        assert music > -75, f"no music {second:.0f}-{second + 1:.0f} s"
        second += 1


def speaking(rendered: Rendered) -> list[tuple[float, float]]:
    """Where the narration speaks (the timeline's record), each page at least 0.6 s."""
    return [
        (start, end)
        for start, end in timeline.story_speech(rendered.clips, FPS)
        if end - start >= 0.6
    ]


def test_voice_is_at_least_12_db_above_the_music_under_narration(
    with_music: AssembledVideo, heard, rendered: Rendered
) -> None:
    spans = speaking(rendered)
    assert len(spans) == len(spoken_cues(with_music))
    for start, end in spans:
        music, voice = levels(heard, start + 0.1, end - 0.1)
        assert voice - music >= 12, f"{start:.2f} s: voice {voice:.1f} dB, music {music:.1f} dB"


def test_music_rises_where_nobody_speaks(
    with_music: AssembledVideo, heard, rendered: Rendered
) -> None:
    silent = silent_cue(with_music)
    assert silent.end - silent.start >= 1.4
    spans = speaking(rendered)
    under_speech = max(levels(heard, start + 0.1, end - 0.1)[0] for start, end in spans)
    # Full level from the end of the rise to the start of the fall, inside the silent page.
    rise = soundtrack.DUCK_HOLD + soundtrack.DUCK_RISE
    fall = soundtrack.DUCK_LEAD + soundtrack.DUCK_FALL
    music, voice = levels(heard, silent.start + rise, silent.end - fall)
    assert music - under_speech >= soundtrack.DUCK_DB - 2, (music, under_speech)
    assert voice < music - 15, "the silent page is not silent"


def test_looped_music_has_no_seam(tmp_path: Path) -> None:
    """A tone whose length is not a whole number of periods: cut and repeated, it would jump."""
    seconds = 1.2937  # 569.2 periods: a hard loop would break the wave by 0.8 of a period
    music = write_tone(tmp_path / "music.wav", seconds)
    silence = tmp_path / "narration.wav"
    from services.media.wav import write_silence

    write_silence(silence, 5.0, ffmpeg.AUDIO_SAMPLE_RATE)
    mixed = soundtrack.mix_soundtrack(silence, music, 0.0, tmp_path)
    samples, rate = media.read_wav_mono(media.soundtrack(mixed.audio, tmp_path / "bed.wav"))
    steady = samples[int(1.2 * rate) : int(4.5 * rate)]  # after the fade-in, before the fade-out
    amplitude = max(abs(value) for value in steady)
    assert amplitude > 1000
    largest_step = max(abs(b - a) for a, b in zip(steady, steady[1:], strict=False))
    smooth = amplitude * 2 * 3.14159 * TONE / rate
    assert largest_step < 1.6 * smooth, (largest_step, smooth)


# --- loudness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["plain", "with_music"])
def test_finished_file_is_at_minus_16_lufs_and_under_minus_1_dbtp(which: str, request) -> None:
    assembled: AssembledVideo = request.getfixturevalue(which)
    integrated, true_peak = media.loudness(assembled.video)
    assert -17 <= integrated <= -15
    assert true_peak <= -1.0
    assert assembled.loudness.integrated == pytest.approx(integrated, abs=0.1)


@pytest.mark.parametrize("gain_db", [-18, 10])
def test_quiet_and_hot_voices_are_brought_to_the_same_loudness(
    rendered: Rendered, tmp_path: Path, gain_db: int
) -> None:
    """The gTTS path: MP3 speech (here espeak-ng's, much quieter or hotter, clipping) converted to
    PCM by the same function the narrator uses for gTTS, then assembled as usual."""
    clips = []
    for clip in rendered.clips:
        mp3 = tmp_path / f"{clip.part_number}.mp3"
        ffmpeg.ffmpeg("-i", str(clip.audio), "-af", f"volume={gain_db}dB", str(mp3))
        audio = tmp_path / f"{clip.part_number}.wav"
        media.convert_audio_to_wav(mp3, audio)
        clips.append(clip.model_copy(update={"audio": audio}))
    original = media.loudness(rendered.clips[0].audio)[0]
    assert abs(media.loudness(clips[0].audio)[0] - original) > 8
    assembled = assemble_with_sound(clips, tmp_path / "out")
    integrated, true_peak = media.loudness(assembled.video)
    assert -17 <= integrated <= -15
    assert true_peak <= -1.0


def test_gains_tried_side_by_side_find_the_target_between_them() -> None:
    # espeak-ng's narration as measured: the limiter takes 1.3 LU at the plain gain of 4.2 dB.
    measured = {4.2: -17.3, 6.2: -16.4, 8.2: -15.6}
    gain, found = soundtrack.gain_for_target(measured)
    assert found and gain == pytest.approx(7.2)
    # Close enough already: that gain, as measured.
    assert soundtrack.gain_for_target({3.0: -16.1, 5.0: -15.0}) == (3.0, True)
    # Beyond the gains tried: a guess along their slope (never steeper than 1 LU/dB, never
    # flatter than 0.2), to be measured before it counts.
    gain, found = soundtrack.gain_for_target({0.0: -20.0, 2.0: -19.0})
    assert not found and gain == pytest.approx(8.0)
    gain, found = soundtrack.gain_for_target({0.0: -20.0, 2.0: -19.9})
    assert not found and gain == pytest.approx(2.0 + 3.9 / 0.2)
    gain, found = soundtrack.gain_for_target({-3.0: -14.0, -1.0: -12.0})
    assert not found and gain == pytest.approx(-5.0)


def test_leveled_loudness_side_by_side_is_each_gain_measured_alone(rendered: Rendered) -> None:
    audio = rendered.clips[0].audio
    together = audio_graph.leveled_loudnesses(audio, [3.0, 9.0], soundtrack.LIMITER_CEILING)
    alone = [
        audio_graph.leveled_loudnesses(audio, [gain], soundtrack.LIMITER_CEILING)[0]
        for gain in (3, 9)
    ]
    assert [m.integrated for m in together] == [m.integrated for m in alone]
    assert together[1].integrated > together[0].integrated + 2


def test_soundtrack_from_narrations_is_the_clips_own_sound(
    rendered: Rendered, tmp_path: Path
) -> None:
    """The flow makes the soundtrack from the parts' narration while their clips encode; it is
    sample for sample the track each clip keeps (and a re-used part brings)."""
    from_clips, from_narrations, mixed = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    join_narration(list(rendered.clips), OPTIONS, from_clips)
    join_narration(list(rendered.narrations), OPTIONS, from_narrations)
    join_narration([rendered.clips[0], rendered.narrations[1]], OPTIONS, mixed)
    expected = from_clips.read_bytes()
    assert from_narrations.read_bytes() == expected
    assert mixed.read_bytes() == expected
    frames = sum(clip.frames for clip in rendered.clips)
    assert media.wav_seconds(from_clips) == pytest.approx(frames / FPS, abs=1e-6)


def test_at_espeaks_rate_every_part_starts_on_the_sample_of_its_first_frame(
    tmp_path: Path,
) -> None:
    """At 22,050 Hz and 24 fps a frame is 918.75 samples: each part's own track is rounded to
    its own length, and 40 parts of an odd number of frames would add samples of drift if joined
    end to end. Joined, every part's speech starts where the timeline puts it, from its
    narration (a part rendered now) or from its clip's track (a part re-used)."""
    rate, fps, parts = 22_050, 24, 40
    options = RenderOptions(fps=fps, pace="normal")
    wav = tmp_path / "page.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\xe8\x03" * 1000)  # 1000 samples at 1000: two frames' worth
    narrations, clips = [], []
    for number in range(1, parts + 1):
        narration = PartNarration(
            part_number=number, sample_rate=rate, pages=[PageAudio(wav=wav, samples=1000)]
        )
        timing = narration_timing(narration, options, first=number == 1, last=number == parts)
        track = tmp_path / f"part-{number}.wav"
        write_part_audio(narration, timing, fps, track)
        narrations.append(narration)
        clips.append(
            PartClip(
                part_number=number, video=track, audio=track, frames=timing.frames,
                page_texts=["x"], speech_starts=timing.speech_starts,
                speech_ends=timing.speech_ends, captions=timing.captions, fade_in=timing.fade_in,
            )
        )  # fmt: skip
    assert clips[1].frames % 2 == 1  # frames that are not a whole number of samples add up
    total = sum(clip.frames for clip in clips)
    expected, first_frame = [], 0
    for clip in clips:
        expected.append(timeline.sample_at_frame(first_frame + clip.speech_starts[0], rate, fps))
        first_frame += clip.frames
    mixed: list[PartSound] = [*clips[::2], *narrations[1::2]]
    for sources in (narrations, clips, mixed):
        joined = tmp_path / "joined.wav"
        in_order = sorted(sources, key=lambda part: part.part_number)
        samples, joined_rate, _ = join_narration(in_order, options, joined)
        assert (samples, joined_rate) == (timeline.sample_at_frame(total, rate, fps), rate)
        sound, _ = media.read_wav_mono(joined)
        starts = [
            index
            for index, value in enumerate(sound)
            if value and (index == 0 or not sound[index - 1])
        ]
        assert starts == expected


def test_a_soundtrack_of_other_length_is_refused(rendered: Rendered, tmp_path: Path) -> None:
    clip = rendered.clips[0]
    wrong = StorySoundtrack(
        audio=clip.audio,
        samples=timeline.sample_at_frame(clip.frames + 1, ffmpeg.AUDIO_SAMPLE_RATE, FPS),
        sample_rate=ffmpeg.AUDIO_SAMPLE_RATE,
        loudness=Loudness(-16.0, -2.0, 5.0),
        music=False,
    )
    with pytest.raises(ValueError, match="not as long as the"):
        assemble_outputs([clip], OPTIONS, tmp_path, wrong)


# --- chapters and poster ------------------------------------------------------------------------


def test_one_chapter_per_part_from_its_first_frame_titled_with_its_first_caption(
    plain: AssembledVideo, rendered: Rendered
) -> None:
    marks = media.chapters(plain.video)
    assert [mark.title for mark in marks] == [
        timeline.chapter_title(clip.page_texts[0]) for clip in rendered.clips
    ]
    assert marks[0].title == "The cat walked along the long grey wall."
    first_frame = 0
    for mark, clip in zip(marks, rendered.clips, strict=True):
        start = first_frame / FPS
        # MP4 chapter times count milliseconds: the mark falls within the part's first frame.
        assert start <= mark.start <= start + 0.001
        first_frame += clip.frames
    assert marks[-1].end == pytest.approx(first_frame / FPS, abs=0.001)
    info = media.inspect(plain.video)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.frames == first_frame  # the chapter track did not change the picture
    assert media.is_faststart(plain.video)


def test_poster_is_the_first_part_with_its_caption_at_the_video_size(
    plain: AssembledVideo, rendered: Rendered
) -> None:
    poster = media.read_png(plain.poster)  # ImageMagick reads the JPEG as well
    assert (poster.width, poster.height) == (OPTIONS.width, OPTIONS.height)
    frame_index = poster_frame(rendered.clips[0])
    first = rendered.clips[0]
    assert first.fade_in <= frame_index < first.captions[0][1]  # on the first page, faded in
    frame = media.frame_number(plain.video, frame_index, FPS)
    difference = sum(abs(a - b) for a, b in zip(poster.pixels, frame.pixels, strict=True)) / len(
        frame.pixels
    )
    assert difference < 4, "the poster is not that frame"
    assert media.distance(poster.at(0.5, 0.35), PALETTE[0]) < 40, "not part 1's picture"
    band = poster.region(int(OPTIONS.height * 0.7), OPTIONS.height)
    assert max(media.luma(pixel) for pixel in band) > 200, "no caption text in the band"


# --- bad music ------------------------------------------------------------------------------------


def _music_error(tmp_path: Path, name: str, write) -> str:
    write(tmp_path / name)
    with pytest.raises(StoryError) as caught:
        fetch_and_check_music(name, OPTIONS, LocalStorage(tmp_path), tmp_path / "work")
    return str(caught.value)


def test_music_that_does_not_decode_is_named(tmp_path: Path) -> None:
    message = _music_error(tmp_path, "music.mp3", lambda p: p.write_text("not music at all"))
    assert "music music.mp3 does not decode as audio" in message


def test_music_without_an_audio_stream_is_named(tmp_path: Path) -> None:
    def picture_only(path: Path) -> None:
        ffmpeg.ffmpeg("-f", "lavfi", "-i", "testsrc=s=32x32:d=2", "-f", "mp4", str(path))

    message = _music_error(tmp_path, "music.m4a", picture_only)
    assert "music music.m4a has no audio stream" in message


def test_silent_music_is_named(tmp_path: Path) -> None:
    def silence(path: Path) -> None:
        ffmpeg.ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3", str(path))

    message = _music_error(tmp_path, "music.wav", silence)
    assert "music music.wav is silent" in message


def test_a_missing_music_file_is_named(tmp_path: Path) -> None:
    options = OPTIONS.model_copy(update={"music_file": str(tmp_path / "nowhere.ogg")})
    with pytest.raises(StoryError, match="nowhere.ogg does not exist"):
        fetch_and_check_music(None, options, LocalStorage(tmp_path), tmp_path)


def test_no_music_option_ignores_the_story_music(tmp_path: Path) -> None:
    options = OPTIONS.model_copy(update={"music": False})
    assert fetch_and_check_music("music.mp3", options, LocalStorage(tmp_path), tmp_path) is None


def test_only_what_the_video_needs_is_read_from_a_long_music_file(tmp_path: Path) -> None:
    """An hour of music (a WAV: its length is certain), for ten seconds of video."""
    long_music = tmp_path / "hour.wav"
    ffmpeg.ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "3600",
        "-c:a", "pcm_u8", str(long_music),
    )  # fmt: skip
    decoded = tmp_path / "decoded.wav"
    audio_graph.decode_music(long_music, 10.0, decoded)
    assert media.wav_seconds(decoded) == pytest.approx(10.0, abs=0.01)
    assert soundtrack.check_music(long_music) == pytest.approx(soundtrack.MUSIC_CHECK_SECONDS)


def test_music_at_the_top_of_the_story_is_its_music_not_an_ignored_entry() -> None:
    layout = survey_story(["1/image.png", "1/1.txt", "music.OGG", "notes.txt"])
    assert layout.music == "music.OGG" and not layout.problems
    assert [part.number for part in layout.parts] == [1]
    assert survey_story(["1/image.png", "1/1.txt", "1/music.mp3"]).music is None
    two = survey_story(["1/image.png", "1/1.txt", "music.mp3", "music.wav"])
    assert two.problems == ["more than one music file: music.mp3, music.wav (keep one)"]


def test_chapter_titles_are_the_start_of_the_caption_in_whole_words() -> None:
    assert timeline.chapter_title("  Short   and sweet. ") == "Short and sweet."
    long = "A boat came in with the evening tide, and the cat went home to sleep."
    title = timeline.chapter_title(long)
    assert title == "A boat came in with the evening tide, and the…"
    assert len(title) <= timeline.CHAPTER_TITLE_LIMIT
    assert timeline.chapter_title("x" * 100) == "x" * 47 + "…"


def test_chapter_metadata_escapes_special_characters() -> None:
    text = timeline.to_ffmetadata([timeline.Chapter(0, 24, "a=b; #c \\ d")], 24)
    assert text.splitlines() == [
        ";FFMETADATA1",
        "[CHAPTER]",
        "TIMEBASE=1/1000",
        "START=0",
        "END=1000",
        "title=a\\=b\\; \\#c \\\\ d",
    ]


# --- through the flow -----------------------------------------------------------------------------


def _voice_over_music(video: Path, scratch: Path) -> float:
    """dB of voice above music, over the first 0.8 s of speech of each part (one page a part:
    from the published SRT, speech starting after the opening or the part's fade-in and
    lead-in)."""
    heard = media.read_wav_mono(media.soundtrack(video, scratch / f"{video.stem}.wav"))
    cues = media.parse_srt(video.with_suffix(".srt").read_text(encoding="utf-8"))
    pace = timeline.pace_of(OPTIONS.pace)
    starts = [
        cue.start + (pace.opening if index == 0 else OPTIONS.fade_seconds + pace.lead_in)
        for index, cue in enumerate(cues)
    ]
    music, voice = zip(*(levels(heard, start + 0.2, start + 1.0) for start in starts), strict=True)
    return sum(voice) / len(voice) - sum(music) / len(music)


def test_music_changes_at_assembly_only_and_never_re_render_a_part(
    prefect_harness, make_story, tmp_path: Path
) -> None:
    from flows.video import generate_video
    from services.record import VideoRecord

    story = make_story({1: ["A heron stood in the reeds."], 2: ["The river ran on and on."]})
    write_tone(story / "music.flac", 3.0)
    options = OPTIONS.model_copy(update={"tts": None})

    first = generate_video(assets_dir=str(story), options=options)
    assert (first["parts_rendered"], first["music"]) == (2, "music.flac")
    record = VideoRecord.from_json((story / "video.json").read_text(encoding="utf-8"))
    assert (record.music, record.poster, record.chapters) == ("music.flac", "video.jpg", 2)
    assert record.loudness_lufs == pytest.approx(media.loudness(story / "video.mp4")[0], abs=0.1)
    poster = media.read_png(story / "video.jpg")
    assert (poster.width, poster.height) == (OPTIONS.width, OPTIONS.height)
    assert len(media.chapters(story / "video.mp4")) == 2
    loud = _voice_over_music(story / "video.mp4", tmp_path)
    opening = levels(
        media.read_wav_mono(media.soundtrack(story / "video.mp4", tmp_path / "o.wav")), 0.6, 1.2
    )[0]

    quieter = generate_video(
        assets_dir=str(story), options=options.model_copy(update={"music_volume": -10.0})
    )
    assert quieter["parts_reused"] == 2 and quieter["parts_rendered"] == 0
    assert _voice_over_music(story / "video.mp4", tmp_path) - loud == pytest.approx(10, abs=1.5)

    silent = generate_video(
        assets_dir=str(story), options=options.model_copy(update={"music": False})
    )
    assert silent["parts_reused"] == 2 and silent["music"] is None
    heard = media.read_wav_mono(media.soundtrack(story / "video.mp4", tmp_path / "s.wav"))
    assert levels(heard, 0.6, 1.2)[0] < opening - 30  # the tone is gone (the opening, no voice)
    assert -17 <= media.loudness(story / "video.mp4")[0] <= -15


def test_bad_music_stops_the_run_before_anything_renders_or_is_written(
    prefect_harness, make_story
) -> None:
    from flows.video import generate_video
    from services.settings import get_settings

    story = make_story({1: ["An owl woke at dusk."]})
    (story / "music.mp3").write_bytes(b"ID3 but nothing after it")
    before = sorted(story.rglob("*"))
    parts = get_settings().cache_dir / "parts"
    stored = sorted(parts.rglob("*")) if parts.exists() else []
    with pytest.raises(StoryError, match="music music.mp3 does not decode as audio"):
        generate_video(assets_dir=str(story), options=OPTIONS)
    assert sorted(story.rglob("*")) == before  # no video, captions, poster or record
    assert (sorted(parts.rglob("*")) if parts.exists() else []) == stored  # nothing rendered


@pytest.mark.integration
def test_music_in_the_bucket_is_the_creations_music(gcs_bucket, gcs_emulator, tmp_path) -> None:
    from services.storage.bucket import GcsStorage

    music = write_tone(tmp_path / "music.ogg", 2.0)
    gcs_emulator.write_bytes(gcs_bucket, "c/assets/music.ogg", music.read_bytes(), "audio/ogg")
    gcs_emulator.write_bytes(gcs_bucket, "c/assets/1/1.txt", b"A caption.", "text/plain")
    storage = GcsStorage(gcs_bucket, "c/assets")
    layout = survey_story(storage.list_names())
    assert layout.music == "music.ogg"
    track = fetch_and_check_music(layout.music, OPTIONS, storage, tmp_path / "work")
    assert track is not None and track.name == "music.ogg"
    assert track.seconds == pytest.approx(2.0, abs=0.05)
    assert track.path.read_bytes() == music.read_bytes()
