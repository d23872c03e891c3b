"""Narration: espeak-ng for real, gTTS up to the network boundary, and the Narrator's cache.

Google cannot be reached from here, so the gTTS tests check what would be sent (the requests gTTS
builds) and how failures surface; they never pretend that Google answered.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import wave
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from services.media.speech import EspeakEngine, GttsEngine, Narrator, SpeechError, make_engine
from services.media.wav import wav_sample_count
from services.stages import Page, PartPages
from tasks.narration import narrate_pages
from tests.media import read_wav_mono, rms, wav_seconds


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- espeak-ng ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "The lighthouse keeper waved at the boats."),
        ("de", "Über den Bäumen flog die Möwe, und die Straße glänzte im Regen."),
    ],
)
def test_espeak_speaks_english_and_german(tmp_path: Path, language: str, text: str) -> None:
    spoken = EspeakEngine().synthesize(text, language, tmp_path)
    samples, rate = read_wav_mono(spoken)
    seconds = len(samples) / rate
    assert 1.0 < seconds < 10.0, seconds
    assert rms(samples) > 500, "the audio is (nearly) silent"


def test_espeak_language_changes_the_voice(tmp_path: Path) -> None:
    text = "Gute Nacht, kleiner Bär."
    english = EspeakEngine().synthesize(text, "en", _dir(tmp_path / "en"))
    german = EspeakEngine().synthesize(text, "de", _dir(tmp_path / "de"))
    assert english.read_bytes() != german.read_bytes()
    assert EspeakEngine().voice_id("en") != EspeakEngine().voice_id("de")


def test_espeak_unknown_language_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SpeechError) as raised:
        EspeakEngine().synthesize("Hello.", "xx-nowhere", tmp_path)
    assert raised.value.transient is False
    message = str(raised.value)
    assert "espeak-ng" in message and "'xx-nowhere'" in message


def test_narration_failure_names_the_part_and_caption(tmp_path: Path) -> None:
    pages = PartPages(
        part_number=4,
        pages=[
            Page(caption_number=1, text="Fine.", lines=["Fine."], image=tmp_path / "a.png"),
            Page(
                caption_number=3, text="Also fine.", lines=["Also fine."], image=tmp_path / "b.png"
            ),
        ],
    )
    narrator = Narrator(EspeakEngine(), tmp_path / "cache")
    with pytest.raises(SpeechError) as raised:
        narrate_pages(pages, narrator, "xx-nowhere")
    assert raised.value.transient is False
    assert str(raised.value).startswith("part 4: narrating caption 1.txt failed: espeak-ng")


def test_make_engine_knows_both_engines_and_rejects_others() -> None:
    assert isinstance(make_engine("espeak"), EspeakEngine)
    assert isinstance(make_engine("gtts"), GttsEngine)
    with pytest.raises(ValueError, match="unknown narration engine 'polly'"):
        make_engine("polly")


def test_speech_rate_sets_espeaks_speed_and_gtts_tempo() -> None:
    espeak, slower = make_engine("espeak"), make_engine("espeak", 0.8)
    assert isinstance(espeak, EspeakEngine) and isinstance(slower, EspeakEngine)
    assert slower.words_per_minute == round(0.8 * espeak.words_per_minute)
    gtts = make_engine("gtts", 1.1)
    assert isinstance(gtts, GttsEngine) and gtts.tempo == pytest.approx(0.99)
    # The tempo is part of the voice, so a cached page is never re-used at another speed.
    assert gtts.voice_id("en") != GttsEngine().voice_id("en")


class Mp3AnsweringGtts(GttsEngine):
    """gTTS as far as its request: Google's answer (an MP3) is stood in for by espeak-ng's
    speech encoded to MP3, since Google cannot be reached here."""

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        self.request(text, language)  # the real request is prepared, not sent
        spoken = EspeakEngine(165).synthesize(text, "en", target_dir)
        answer = target_dir / "gtts.mp3"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(spoken), "-c:a", "libmp3lame", str(answer)],
            check=True,
        )
        return answer


def test_gtts_speech_is_slowed_by_its_tempo_keeping_its_pitch(tmp_path: Path) -> None:
    text = "The little fox looked up at the moon."
    normal = Narrator(Mp3AnsweringGtts(tempo=1.0), tmp_path / "normal").narrate(text, "en")
    slowed = Narrator(Mp3AnsweringGtts(), tmp_path / "slowed").narrate(text, "en")
    assert wav_seconds(slowed) / wav_seconds(normal) == pytest.approx(1 / 0.9, rel=0.02)
    assert read_wav_mono(slowed)[1] == 48_000


# --- the Narrator's cache -----------------------------------------------------------------------


class CountingEngine:
    """The real espeak engine, with a count of the texts actually sent to it."""

    def __init__(self) -> None:
        self.inner = EspeakEngine()
        self.name = self.inner.name
        self.wav_sample_rate = self.inner.wav_sample_rate
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def voice_id(self, language: str) -> str:
        return self.inner.voice_id(language)

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        with self._lock:
            self.calls.append((text, language))
        return self.inner.synthesize(text, language, target_dir)


def test_narrator_writes_mono_16_bit_wav_at_the_render_rate(tmp_path: Path) -> None:
    narrator = Narrator(CountingEngine(), tmp_path, sample_rate=48_000)
    wav = narrator.narrate("One small step.", "en")
    with wave.open(str(wav), "rb") as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 48_000)
    assert wav_sample_count(wav) == round(wav_seconds(wav) * 48_000)
    # Same length as espeak-ng's own output, resampled.
    direct = EspeakEngine().synthesize("One small step.", "en", _dir(tmp_path / "direct"))
    assert abs(wav_seconds(wav) - wav_seconds(direct)) < 0.001


def test_espeak_wav_is_kept_as_espeak_wrote_it(tmp_path: Path) -> None:
    """No conversion of each page: the story's sound is resampled once, at the soundtrack."""
    narrator = Narrator(EspeakEngine(), tmp_path / "cache")
    assert narrator.sample_rate == 22_050
    wav = narrator.narrate("One small step.", "en")
    direct = EspeakEngine().synthesize("One small step.", "en", _dir(tmp_path / "direct"))
    assert read_wav_mono(wav) == read_wav_mono(direct)
    assert read_wav_mono(wav)[1] == 22_050


def test_identical_text_is_synthesized_once_and_then_comes_from_the_cache(tmp_path: Path) -> None:
    engine = CountingEngine()
    narrator = Narrator(engine, tmp_path)
    first = narrator.narrate("The same caption.", "en")
    second = narrator.narrate("The same caption.", "en")
    assert first == second
    assert engine.calls == [("The same caption.", "en")]

    # A different language or text is a different recording.
    narrator.narrate("The same caption.", "de")
    narrator.narrate("Another caption.", "en")
    assert len(engine.calls) == 3

    # A second run (a new Narrator on the same cache) synthesizes nothing.
    again = CountingEngine()
    rerun = Narrator(again, tmp_path)
    assert rerun.narrate("The same caption.", "en") == first
    rerun.narrate("Another caption.", "en")
    assert again.calls == []
    assert rerun.synthesized == 0


def test_the_cache_key_covers_engine_voice_language_and_text(tmp_path: Path) -> None:
    espeak = Narrator(EspeakEngine(), tmp_path)
    slower = Narrator(EspeakEngine(words_per_minute=120), tmp_path)
    gtts = Narrator(GttsEngine(), tmp_path)
    keys = {
        espeak.cache_key("Hello.", "en"),
        espeak.cache_key("Hello.", "de"),
        espeak.cache_key("Hello!", "en"),
        slower.cache_key("Hello.", "en"),
        gtts.cache_key("Hello.", "en"),
    }
    assert len(keys) == 5
    assert espeak.cache_key("Hello.", "en") == Narrator(EspeakEngine(), tmp_path).cache_key(
        "Hello.", "en"
    )


def test_parts_narrating_the_same_text_at_once_synthesize_it_once(tmp_path: Path) -> None:
    engine = CountingEngine()
    narrator = Narrator(engine, tmp_path)
    results: list[Path] = []

    def speak() -> None:
        results.append(narrator.narrate("Four parts, one caption.", "en"))

    threads = [threading.Thread(target=speak) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert len(engine.calls) == 1


def test_a_parts_pages_converted_in_one_run_sound_as_each_page_alone(tmp_path: Path) -> None:
    texts = ["The boat left.", "…", "It came back at night.", "The boat left."]
    engine = CountingEngine()
    # At 48 kHz espeak-ng's WAV is converted (as gTTS's MP3 always is), a part's pages at once.
    together = Narrator(engine, tmp_path / "together", 48_000).narrate_many(texts, "en")
    alone = Narrator(EspeakEngine(), tmp_path / "alone", 48_000)
    for wav, text in zip(together, texts, strict=True):
        assert read_wav_mono(wav) == read_wav_mono(alone.narrate(text, "en"))
    assert together[0] == together[3]
    assert len(engine.calls) == 3  # the repeated page once


class RefusingEngine(CountingEngine):
    """espeak-ng, except for one text, which it refuses as an engine would."""

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        if text == "Refused.":
            raise SpeechError("the engine refused", transient=True)
        return super().synthesize(text, language, target_dir)


def test_a_later_page_failing_names_its_own_caption_and_keeps_the_others(tmp_path: Path) -> None:
    texts = ["First page.", "Second page.", "Refused."]
    pages = PartPages(
        part_number=2,
        pages=[
            Page(caption_number=n, text=t, lines=[t], image=tmp_path / f"{n}.png")
            for n, t in enumerate(texts, start=1)
        ],
    )
    narrator = Narrator(RefusingEngine(), tmp_path / "cache")
    with pytest.raises(SpeechError) as raised:
        narrate_pages(pages, narrator, "en")
    assert str(raised.value) == "part 2: narrating caption 3.txt failed: the engine refused"
    assert raised.value.transient is True
    assert narrator.synthesized == 2  # the pages before it are kept for the retry
    assert len(list((tmp_path / "cache").rglob("*.wav"))) == 2


def test_a_failed_synthesis_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    narrator = Narrator(EspeakEngine(), tmp_path)
    with pytest.raises(SpeechError):
        narrator.narrate("Hello.", "xx-nowhere")
    assert not list(tmp_path.rglob("*.wav"))
    assert narrator.synthesized == 0


# --- gTTS, up to the network --------------------------------------------------------------------


def _spoken_payload(request) -> tuple[str, str]:
    """The text and language inside one gTTS batchexecute request body."""
    form = parse_qs(request.body)
    (freq,) = form["f.req"]
    rpc = json.loads(freq)[0][0]
    assert rpc[0] == "jQ1olc"
    text, language = json.loads(rpc[1])[:2]
    return text, language


def test_gtts_would_post_the_text_and_language_to_google_translate() -> None:
    requests = GttsEngine().request("The boats came home at last", "en")._prepare_requests()
    assert len(requests) == 1
    (request,) = requests
    url = urlsplit(request.url)
    assert request.method == "POST"
    assert url.scheme == "https" and url.hostname == "translate.google.com"
    assert url.path.endswith("/batchexecute")
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert _spoken_payload(request) == ("The boats came home at last", "en")


def test_gtts_uses_the_configured_domain_and_splits_long_text() -> None:
    text = "Über den Bäumen flog die Möwe, und die Straße glänzte im Regen. " * 6
    requests = GttsEngine(tld="de").request(text, "de")._prepare_requests()
    assert len(requests) > 1
    assert {urlsplit(r.url).hostname for r in requests} == {"translate.google.de"}
    pieces = [_spoken_payload(r) for r in requests]
    assert {language for _, language in pieces} == {"de"}
    # Every word is sent, in order (gTTS drops some punctuation when it splits).
    sent = " ".join(piece for piece, _ in pieces).replace(",", "").replace(".", "").split()
    assert sent == text.replace(",", "").replace(".", "").split()


def test_gtts_rejects_an_unsupported_language_as_permanent() -> None:
    with pytest.raises(SpeechError) as raised:
        GttsEngine().request("Hello.", "xx")
    assert raised.value.transient is False
    assert "gTTS" in str(raised.value) and "xx" in str(raised.value)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gtts_request_that_gets_no_answer_is_a_transient_gtts_error(
    tmp_path: Path, monkeypatch
) -> None:
    """Sent through a proxy on a closed loopback port: the request really fails, here and now."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(SpeechError) as raised:
        GttsEngine(timeout=5).synthesize("The boats came home.", "en", tmp_path)
    assert raised.value.transient is True
    assert str(raised.value).startswith("gTTS request failed")


def test_narrator_with_gtts_caches_nothing_when_the_request_fails(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{_closed_port()}")
    narrator = Narrator(GttsEngine(timeout=5), tmp_path)
    with pytest.raises(SpeechError) as raised:
        narrator.narrate("The boats came home.", "en")
    assert raised.value.transient is True
    assert not list(tmp_path.rglob("*.wav"))


def test_gtts_punctuation_only_page_becomes_silence_without_a_request(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{_closed_port()}")
    narrator = Narrator(GttsEngine(timeout=5), tmp_path)
    wav = narrator.narrate("…", "en")
    samples, rate = read_wav_mono(wav)
    assert len(samples) / rate >= 1.0
    assert rms(samples) == 0
