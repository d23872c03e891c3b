"""One language tag for the whole product: validation, each engine's code for it, and `auto`.

espeak-ng runs for real: a language is proven spoken in the right voice by comparing our
engine's samples with espeak-ng's own, run directly with the voice expected. gTTS cannot reach
Google here: its mapping is checked against gTTS's own (offline) language list and the request
it would send.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from gtts.lang import tts_langs
from pydantic import ValidationError

from services import timeline
from services.media.speech import (
    ESPEAK_VOICES,
    GTTS_LANGUAGES,
    EspeakEngine,
    GttsEngine,
    UnsupportedLanguage,
    espeak_voice,
    gtts_language,
)
from services.settings import RenderOptions, Settings, StoryOptions
from services.story.language_id import resolve_language
from services.story.languages import (
    LANGUAGES,
    LanguageError,
    check_language,
    detect_language,
    normalize_tag,
)
from tests import media
from tests.media import read_wav_mono

# --- the tag -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("en", "en"),
        ("EN", "en"),
        (" de ", "de"),
        ("en-gb", "en-GB"),
        ("en_GB", "en-GB"),
        ("zh-tw", "zh-TW"),
        ("ZH-HANT", "zh-Hant"),
        ("sr-latn-rs", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("iw", "he"),
        ("yue", "yue"),
        ("auto", "auto"),
        ("Auto", "auto"),
    ],
)
def test_tags_are_case_insensitive_and_normalized(given: str, normalized: str) -> None:
    assert check_language(given) == normalized
    assert StoryOptions(language=given).language == normalized


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("xx", "no narration engine speaks 'xx'"),
        ("tlh", "no narration engine speaks 'tlh'"),
        ("english", "'english' is not a language tag"),
        ("en us", "'en us' is not a language tag"),
        ("zh-TW-x", "'zh-TW-x' is not a language tag"),
        ("", "'' is not a language tag"),
        ("de;rm -rf", "is not a language tag"),
    ],
)
def test_unknown_or_malformed_tags_are_refused_with_the_reason(given: str, message: str) -> None:
    with pytest.raises(LanguageError, match=message):
        check_language(given)
    with pytest.raises(ValidationError) as raised:
        RenderOptions(language=given)
    (problem,) = raised.value.errors()
    assert problem["loc"] == ("language",) and message in problem["msg"]


def test_tts_language_must_be_a_real_language_not_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_LANGUAGE", "EN-gb")
    assert Settings().tts_language == "en-GB"
    for bad in ("auto", "xx"):
        monkeypatch.setenv("TTS_LANGUAGE", bad)
        with pytest.raises(ValidationError, match="tts_language"):
            Settings()


def test_auto_is_the_default_and_unknown_options_are_refused() -> None:
    assert StoryOptions().language == "auto" and RenderOptions().language == "auto"
    assert RenderOptions(language=None).language == "auto"  # runs saved before auto existed
    assert set(StoryOptions.model_fields) <= set(RenderOptions.model_fields)
    with pytest.raises(ValidationError, match="langauge"):
        StoryOptions.model_validate({"langauge": "de"})
    with pytest.raises(ValidationError, match="width"):
        StoryOptions.model_validate({"width": 480})  # an operator's option, not a story's


# --- each engine's code --------------------------------------------------------------------------

EXPECTED = {
    # tag: (espeak-ng voice, (gTTS lang, tld or None for the engine's own))
    "en": ("en", ("en", None)),
    "en-GB": ("en-gb", ("en", "co.uk")),
    "en-US": ("en-us", ("en", "com")),
    "en-AU": ("en", ("en", "com.au")),
    "de": ("de", ("de", None)),
    "de-AT": ("de", ("de", None)),
    "fr": ("fr-fr", ("fr", None)),
    "fr-CA": ("fr-fr", ("fr-CA", None)),
    "pt": ("pt-br", ("pt", None)),
    "pt-PT": ("pt", ("pt-PT", None)),
    "es-MX": ("es-419", ("es", "com.mx")),
    "zh": ("cmn", ("zh-CN", None)),
    "zh-CN": ("cmn", ("zh-CN", None)),
    "zh-TW": ("cmn", ("zh-TW", None)),
    "zh-Hant": ("cmn", ("zh-TW", None)),
    "zh-Hant-TW": ("cmn", ("zh-TW", None)),
    "yue": ("yue", ("yue", None)),
    "ja": ("ja", ("ja", None)),
    "ko": ("ko", ("ko", None)),
    "ar": ("ar", ("ar", None)),
    "he": ("he", ("iw", None)),
    "hi": ("hi", ("hi", None)),
    "th": ("th", ("th", None)),
    "el": ("el", ("el", None)),
    "ru": ("ru", ("ru", None)),
    "uk": ("uk", ("uk", None)),
    "nb": ("nb", ("no", None)),
    "no": ("nb", ("no", None)),
    "jv": (None, ("jw", None)),
    "fil": (None, ("tl", None)),
    "km": (None, ("km", None)),
    "fa": ("fa", None),
    "ka": ("ka", None),
}


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_each_tag_maps_to_each_engines_own_code(tag: str) -> None:
    voice, google = EXPECTED[tag]
    assert espeak_voice(tag) == voice
    assert gtts_language(tag) == google


def espeak_voice_names() -> set[str]:
    """Every name `espeak-ng -v` accepts, as `espeak-ng --voices` lists them (names, aliases)."""
    listing = subprocess.run(
        ["espeak-ng", "--voices"], capture_output=True, text=True, check=True
    ).stdout
    names = set()
    for line in listing.splitlines()[1:]:
        columns = line.split()
        names.add(columns[1])
        names.update(alias.strip("(").split()[0] for alias in line.split(")") if "(" in alias)
    return names


def test_the_engine_tables_name_real_voices_and_cover_every_language() -> None:
    assert shutil.which("espeak-ng")
    assert set(ESPEAK_VOICES.values()) <= espeak_voice_names()
    google = tts_langs()
    assert {code for code, _ in GTTS_LANGUAGES.values()} <= set(google)
    # Every language the product accepts, one engine at least speaks; and nothing more.
    spoken = {tag.split("-")[0] for tag in [*ESPEAK_VOICES, *GTTS_LANGUAGES]}
    assert spoken == set(LANGUAGES)
    # Every language gTTS knows is accepted under its BCP 47 tag.
    for code in google:
        assert gtts_language(normalize_tag(code)) is not None, code


def test_a_language_an_engine_cannot_speak_is_refused_naming_both() -> None:
    with pytest.raises(UnsupportedLanguage) as raised:
        EspeakEngine().voice_id("jv")
    assert str(raised.value).startswith("espeak-ng cannot speak Javanese ('jv')")
    assert "gtts" in str(raised.value) and raised.value.transient is False
    with pytest.raises(UnsupportedLanguage, match=r"^gTTS cannot speak Persian \('fa'\)"):
        GttsEngine().voice_id("fa")


def test_voice_ids_name_the_engines_code_so_equal_voices_share_the_cache() -> None:
    espeak = EspeakEngine()
    assert espeak.voice_id("zh") == espeak.voice_id("zh-TW") == "espeak-ng:cmn:110wpm"
    assert GttsEngine().voice_id("zh") != GttsEngine().voice_id("zh-TW")
    assert GttsEngine().voice_id("en-GB") == "gtts:en:co.uk:x0.9000"
    assert GttsEngine(tld="de").voice_id("de") == "gtts:de:de:x0.9000"


def _sent(request) -> tuple[str, str, str]:
    """The host, text and language of one request gTTS would send."""
    (freq,) = parse_qs(request.body)["f.req"]
    text, language = json.loads(json.loads(freq)[0][0][1])[:2]
    return urlsplit(request.url).hostname, text, language


@pytest.mark.parametrize(
    ("tag", "host", "code"),
    [
        ("he", "translate.google.com", "iw"),
        ("zh-TW", "translate.google.com", "zh-TW"),
        ("zh", "translate.google.com", "zh-CN"),
        ("en-GB", "translate.google.co.uk", "en"),
        ("pt-BR", "translate.google.com.br", "pt"),
    ],
)
def test_gtts_would_send_googles_code_to_the_regions_domain(tag: str, host: str, code: str) -> None:
    (request,) = GttsEngine().request("שלום 你好 hello", tag)._prepare_requests()
    assert _sent(request) == (host, "שלום 你好 hello", code)


# --- espeak-ng speaks the language asked for -----------------------------------------------------


def espeak_direct(text: str, voice: str, target: Path) -> Path:
    """espeak-ng run by hand with `voice`, at our engine's speed."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(EspeakEngine().words_per_minute), "-w", str(target)]
        + ["--", text],
        check=True,
        capture_output=True,
    )
    return target


@pytest.mark.parametrize(
    ("tag", "voice", "text"),
    [
        ("de", "de", "Der Bär schläft unter dem großen Baum."),
        ("ru", "ru", "Медведь спит под большим деревом."),
        ("ar", "ar", "الدب ينام تحت الشجرة الكبيرة."),
        ("hi", "hi", "भालू बड़े पेड़ के नीचे सोता है।"),
        ("zh-TW", "cmn", "熊在大樹下睡覺。"),
    ],
)
def test_espeak_speaks_each_language_in_its_own_voice(
    tmp_path: Path, tag: str, voice: str, text: str
) -> None:
    ours = read_wav_mono(EspeakEngine().synthesize(text, tag, tmp_path))[0]
    expected = read_wav_mono(espeak_direct(text, voice, tmp_path / "direct.wav"))[0]
    english = read_wav_mono(espeak_direct(text, "en", tmp_path / "english.wav"))[0]
    assert ours == expected, "not the voice expected"
    assert ours != english, "the English voice would have sounded the same"


# --- auto: the language of the captions' script (their words: tests/unit/test_language_id.py) ---


@pytest.mark.parametrize(
    ("texts", "language"),
    [
        (["小熊在大树下睡觉。"], "zh"),
        (["小熊在大樹下睡覺。"], "zh"),  # traditional characters too: Mandarin
        (["くまは大きな木の下で眠ります。"], "ja"),
        (["カタカナだけ"], "ja"),
        (["곰이 큰 나무 아래에서 잠을 잡니다."], "ko"),
        (["الدب ينام تحت الشجرة الكبيرة."], "ar"),
        (["הדוב ישן מתחת לעץ הגדול."], "he"),
        (["भालू बड़े पेड़ के नीचे सोता है।"], "hi"),
        (["หมีนอนใต้ต้นไม้ใหญ่"], "th"),
        (["Η αρκούδα κοιμάται κάτω από το μεγάλο δέντρο."], "el"),
        (["Медведь спит под большим деревом."], "ru"),
        (["Ведмідь спить під великим деревом, і їжак теж."], "uk"),  # ї: Ukrainian only
        (["Медвед спава испод великог дрвета, ћутљив."], "sr"),
        (["خرس زیر درخت بزرگ می‌خوابد و گربه هم."], "fa"),  # گ: Persian, not Arabic
        (["ریچھ بڑے درخت کے نیچے سوتا ہے۔"], "ur"),
        (["ভালুক বড় গাছের নিচে ঘুমায়।"], "bn"),
        (["Der Bär schläft.", "The bear sleeps."], None),  # Latin: could be any of many
        (["123 … !!", "🐻"], None),  # no letters at all
        (["Медведь спит.", "The bear sleeps."], None),  # half and half: no majority
        (["The bear met Ανδρέας."], None),  # mostly Latin
        (["Мишка и Teddy спят в лесу."], "ru"),  # mostly Cyrillic
        (["小熊 Teddy 在大树下睡觉了很久很久。"], "zh"),
        (["\u200f\u05d3\u05d5\u05d1\u200e 2024"], "he"),  # direction marks are not letters
    ],
)
def test_auto_detects_the_language_of_the_script(texts: list[str], language: str | None) -> None:
    assert detect_language(texts) == language


def test_auto_falls_back_to_the_configured_language_and_says_why() -> None:
    assert resolve_language("auto", ["Медведь спит."], "en") == (
        "ru",
        "auto: the captions are in Cyrillic script; too few words to tell their language (2)",
    )
    language, why = resolve_language("auto", ["Der Bär schläft."], "fr")
    assert language == "fr" and "Latin script" in why and "TTS_LANGUAGE" in why
    assert resolve_language("auto", ["123 …", "🐻"], "de") == (
        "de",
        "auto: the captions are in no one script, so TTS_LANGUAGE",
    )
    assert resolve_language("he", ["The bear."], "en") == ("he", "chosen")


# --- a render with auto --------------------------------------------------------------------------

TINY = RenderOptions(width=160, height=240, fps=10, preset="ultrafast", tts="espeak")
RUSSIAN = "Медведь спит под большим деревом."


def test_auto_narrates_a_russian_story_in_russian_and_records_it(
    prefect_harness: None, make_story, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.video import generate_video

    monkeypatch.setenv("TTS_LANGUAGE", "en")
    story = make_story({1: [RUSSIAN]})
    result = generate_video(assets_dir=str(story), options=TINY)  # language: auto, the default

    assert result["language"] == "ru"
    record = json.loads((story / "video.json").read_text(encoding="utf-8"))
    assert (record["status"], record["language"]) == ("completed", "ru")
    # The caption lasts as long as espeak-ng's Russian voice speaks it, with the story's opening
    # and ending (within the voice's trailing silence, which the timeline does not count), which
    # the English voice would take more than twice as long to.
    (cue,) = media.parse_srt((story / "video.srt").read_text(encoding="utf-8"))
    assert cue.text == RUSSIAN
    russian, english = media.espeak_seconds(RUSSIAN, "ru"), media.espeak_seconds(RUSSIAN, "en")
    pace = timeline.pace_of(TINY.pace)
    spoken = cue.end - cue.start - pace.opening - pace.ending_hold - pace.caption_fade
    assert russian - 0.8 <= spoken <= russian + 2 / TINY.fps
    assert english > 2 * russian


GERMAN = ["Die Maus träumt von einem großen Kuchen.", "Sie träumt von einem Stück Kuchen."]


def test_auto_narrates_a_german_story_in_german_and_records_why(
    prefect_harness: None, make_story, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.video import generate_video

    monkeypatch.setenv("TTS_LANGUAGE", "en")
    story = make_story({1: [GERMAN[0]], 2: [GERMAN[1]]})
    result = generate_video(assets_dir=str(story), options=TINY)  # language: auto, the default

    assert result["language"] == "de"
    record = json.loads((story / "video.json").read_text(encoding="utf-8"))
    assert (record["status"], record["language"]) == ("completed", "de")
    assert record["language_reason"].startswith("auto: the words are German, ")
    assert record["voice"].startswith("espeak-ng:de:")
    # Each caption is on screen while espeak-ng's German voice speaks it (the pace's pauses
    # around it), which the English voice would not fit.
    pace = timeline.pace_of(TINY.pace)
    cues = media.parse_srt((story / "video.srt").read_text(encoding="utf-8"))
    assert [cue.text for cue in cues] == GERMAN
    for cue, text in zip(cues, GERMAN, strict=True):
        german, english = media.espeak_seconds(text, "de"), media.espeak_seconds(text, "en")
        shown = cue.end - cue.start
        assert german - 0.8 <= shown <= german + pace.opening + pace.ending_hold + 1.0
        assert abs(english - german) > 2 / TINY.fps


def test_auto_stops_before_rendering_when_the_engine_cannot_speak_the_storys_language(
    prefect_harness: None, make_story
) -> None:
    from flows.video import generate_video

    story = make_story({1: ["ខ្លាឃ្មុំដេកនៅក្រោមដើមឈើ។"]})  # Khmer: gTTS speaks it, espeak-ng not
    with pytest.raises(UnsupportedLanguage, match=r"^espeak-ng cannot speak Khmer \('km'\)"):
        generate_video(assets_dir=str(story), options=TINY)
    assert sorted(path.name for path in story.iterdir()) == ["1"]


def test_every_documented_tag_is_accepted_as_it_is_written() -> None:
    schema = StoryOptions.model_json_schema()["properties"]["language"]
    assert schema["enum"][0] == "auto" and {"en", "zh-TW", "he", "pt-BR"} <= set(schema["enum"])
    for tag in schema["enum"]:
        assert check_language(tag) == tag
        assert tag == "auto" or espeak_voice(tag) or gtts_language(tag)


def test_the_prefect_form_and_the_cli_offer_the_same_language_option() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.cli import build_parser
    from flows.video import generate_video

    schema = parameter_schema(generate_video).model_dump()
    form = schema["definitions"]["FormOptions"]["properties"]["language"]
    assert form["default"] == "auto" and "zh-TW" in form["enum"]
    assert schema["definitions"]["FormOptions"]["additionalProperties"] is False
    assert build_parser().parse_args(["--assets-dir", "x"]).language == "auto"
