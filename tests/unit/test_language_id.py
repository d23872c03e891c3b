"""`language: auto` from the captions' words (py3langid), for stories in Latin and other shared
scripts; short or mixed stories fall back to TTS_LANGUAGE and say why.

The sentences here are written for these tests: none is in bench/language_samples.py (where the
library and thresholds were chosen) nor, as far as anyone can know, in the library's training
text. espeak-ng runs for real: the voice a resolved story gets is proven by its samples.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from flows.video import _with_story_language
from services.media.speech import EspeakEngine, Narrator, espeak_voice
from services.settings import RenderOptions
from services.story.language_id import (
    MIN_CONFIDENCE,
    identify,
    resolve_language,
    story_language,
)
from services.story.languages import SHARED_SCRIPTS
from services.story.model import Caption, Part, Story
from tests.media import read_wav_mono


def espeak_can_speak(tag: str) -> bool:
    return espeak_voice(tag) is not None


LATIN = [tag for tag in SHARED_SCRIPTS["Latin"] if espeak_can_speak(tag)]
CYRILLIC = [tag for tag in SHARED_SCRIPTS["Cyrillic"] if espeak_can_speak(tag)]

# --- the library's answers on held-out sentences ------------------------------------------------


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "The little boy found a shiny shell on the beach."),
        ("de", "Der kleine Fuchs versteckte sich hinter dem alten Baum."),
        ("fr", "Le petit lapin a mangé toutes les carottes du jardin."),
        ("es", "La niña subió a la montaña con su perro."),
        ("it", "Il gatto dorme tutto il giorno sul divano."),
        ("pt", "O menino brincou com o cachorro no quintal."),
        ("nl", "De kleine eend zwom de hele dag in de vijver."),
        ("tr", "Küçük kız annesiyle birlikte parka gitti."),
        ("pl", "Mały kotek bawił się kłębkiem wełny."),
        ("sv", "Den lilla flickan plockade blåbär i skogen."),
        ("da", "Den lille pige legede med sin hund i haven."),
        ("no", "Den lille gutten fant en stor stein i skogen."),
        ("fi", "Pieni poika leikki hiekkalaatikossa koko päivän."),
        ("cs", "Malá holčička si hrála se svým psem na zahradě."),
        ("ro", "Băiatul a găsit o broască mică lângă lac."),
        ("hu", "A kis macska egész nap a napon aludt."),
        ("vi", "Cô bé đi học cùng với người bạn thân."),
        ("id", "Anak kecil itu bermain layang-layang di lapangan."),
    ],
)
def test_one_latin_sentence_is_identified_with_confidence(language: str, sentence: str) -> None:
    guess = identify(sentence, LATIN)
    assert guess.language == language
    assert guess.confidence >= MIN_CONFIDENCE


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("ru", "Маленький котёнок играл с клубком ниток весь день."),
        ("uk", "Маленький хлопчик грався з цуценям у саду."),  # no letter only Ukrainian has
        ("bg", "Малкото момче играеше с кучето си в градината."),
    ],
)
def test_cyrillic_languages_are_told_apart_by_their_words(language: str, sentence: str) -> None:
    assert resolve_language("auto", [sentence], "en", espeak_can_speak)[0] == language


def test_only_the_candidates_are_answered() -> None:
    # Galician is not among espeak-ng's languages: its words are read as the closest one it has.
    galician = "O neno xogaba coa súa can no xardín da avoa."
    assert identify(galician, ["gl", "pt", "es"]).language == "gl"
    assert identify(galician, ["pt", "es", "en"]).language in {"pt", "es"}
    assert identify("Der Hund schläft.", ["fr"]).language == "fr"
    assert identify("Der Hund schläft.", []).language is None


# --- stories with auto get their own language and espeak-ng voice -------------------------------

STORIES = {
    "de": (
        "de",
        [
            "Es war einmal eine kleine Maus, die im Keller eines alten Hauses wohnte.",
            "Jeden Abend suchte sie nach Käse und Brotkrumen.",
            "Eines Tages fand sie ein ganzes Stück Kuchen unter dem Tisch.",
        ],
    ),
    "fr": (
        "fr-fr",
        [
            "Il était une fois un petit ours qui ne voulait jamais dormir.",
            "Chaque nuit, il comptait les étoiles depuis sa fenêtre.",
            "Un soir, une étoile filante est tombée dans son jardin.",
        ],
    ),
    "es": (
        "es",
        [
            "Había una vez un pequeño pez que vivía en un río muy largo.",
            "Cada mañana nadaba hasta las piedras grandes para jugar.",
            "Un día conoció a una rana verde que sabía cantar.",
        ],
    ),
    "it": (
        "it",
        [
            "C'era una volta una piccola lepre che correva più veloce del vento.",
            "Ogni mattina sfidava gli altri animali del bosco.",
            "Un giorno una lumaca le chiese di fare una gara.",
        ],
    ),
    "pt": (
        "pt-br",
        [
            "Era uma vez uma menina que morava perto do mar.",
            "Todos os dias ela procurava conchas bonitas na areia.",
            "Numa tarde, ela encontrou uma garrafa com uma carta dentro.",
        ],
    ),
    "nl": (
        "nl",
        [
            "Er was eens een kleine beer die niet wilde slapen.",
            "Elke avond keek hij naar de maan boven het bos.",
            "Op een nacht kwam de maan hem gedag zeggen.",
        ],
    ),
    "tr": (
        "tr",
        [
            "Bir zamanlar denizin kenarında küçük bir balıkçı yaşarmış.",
            "Her sabah teknesiyle açık denize çıkarmış.",
            "Bir gün ağına altın renkli bir balık takılmış.",
        ],
    ),
}


def espeak_direct(text: str, voice: str, target: Path) -> Path:
    """espeak-ng run by hand with `voice`, at our engine's speed."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(EspeakEngine().words_per_minute), "-w", str(target)]
        + ["--", text],
        check=True,
        capture_output=True,
    )
    return target


def story_of(captions: list[str]) -> Story:
    """A checked story with one caption a part (the pictures are not looked at here)."""
    return Story(
        parts=[
            Part(
                number=number,
                image_file=f"{number}/image.png",
                image_path=Path(f"/nowhere/{number}/image.png"),
                image_sha256="0" * 64,
                captions=[Caption(number=1, file=f"{number}/1.txt", text=text)],
            )
            for number, text in enumerate(captions, start=1)
        ]
    )


@pytest.mark.parametrize("language", sorted(STORIES))
def test_a_story_with_auto_is_read_in_its_own_language_and_voice(
    language: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    voice, captions = STORIES[language]
    narrator = Narrator(EspeakEngine(), tmp_path / "cache")
    logger = logging.getLogger("test.language")
    with caplog.at_level(logging.INFO, logger="test.language"):
        options, why = _with_story_language(
            RenderOptions(language="auto"), story_of(captions), narrator, logger
        )

    assert options.language == language
    assert why.startswith("auto: the words are ")
    assert f"language: {language} (auto: the words are" in caplog.text
    assert narrator.engine.voice_id(options.language).startswith(f"espeak-ng:{voice}:")
    # The story's voice is the one espeak-ng has for the language, and not the English one.
    spoken = read_wav_mono(narrator.narrate(captions[0], options.language))[0]
    expected = read_wav_mono(espeak_direct(captions[0], voice, tmp_path / "direct.wav"))[0]
    english = read_wav_mono(espeak_direct(captions[0], "en", tmp_path / "english.wav"))[0]
    assert spoken == expected, "not the voice expected"
    assert spoken != english


# --- what falls back, and what does not -------------------------------------------------------


def test_a_mixed_story_falls_back_to_tts_language_and_says_why() -> None:
    mixed = [*STORIES["de"][1], *STORIES["fr"][1]]
    language, why = resolve_language("auto", mixed, "en", espeak_can_speak)
    assert language == "en"
    assert why.startswith("auto: the captions are in Latin script; the captions are in more ")
    assert "German" in why and "French" in why and why.endswith(", so TTS_LANGUAGE")


def test_a_very_short_story_falls_back_to_tts_language_and_says_why() -> None:
    for captions in (["Boom!"], ["Der Bär.", "Schlaf gut."], ["Le chat dort bien."]):
        language, why = resolve_language("auto", captions, "en", espeak_can_speak)
        assert language == "en"
        assert "too few words to tell their language" in why and why.endswith("TTS_LANGUAGE")


def test_an_unclear_language_falls_back_with_the_likeliest_named() -> None:
    # Names and sounds in no language: long enough, but no language is sure.
    found = story_language(["Lulu, Momo und Kiki tata toto lala."], LATIN)
    assert found.language is None
    assert found.why.startswith("their language is unclear (likeliest ")


def test_one_caption_in_another_language_is_read_with_the_storys_voice() -> None:
    # A French sentence in a German story: the story is German, and so is that caption's voice
    # (one voice a story; a caption's own language is not identified for its narration).
    german, french = STORIES["de"][1], STORIES["fr"][1]
    story = [*german, "Danach schlief die Maus zufrieden in ihrem warmen Nest ein.", french[0]]
    assert resolve_language("auto", story, "en", espeak_can_speak)[0] == "de"


def test_the_voices_languages_are_the_only_answers() -> None:
    # Galician: gTTS speaks it, espeak-ng does not. With an engine that speaks it, Galician; with
    # espeak-ng never, but Portuguese or Spanish if one stands out, else TTS_LANGUAGE.
    galician = [
        "Había unha vez unha nena que vivía preto do mar.",
        "Todas as mañás buscaba cunchas bonitas na area.",
    ]
    assert resolve_language("auto", galician, "en", lambda tag: True)[0] == "gl"
    assert resolve_language("auto", galician, "en", espeak_can_speak)[0] in {"pt", "es", "en"}


def test_script_rules_still_decide_where_one_language_owns_the_script() -> None:
    assert resolve_language("auto", ["หมีนอนใต้ต้นไม้ใหญ่"], "en", espeak_can_speak) == (
        "th",
        "auto: the captions are in Thai script",
    )
    assert resolve_language("auto", ["הדוב ישן."], "en", espeak_can_speak)[0] == "he"
    # Short Cyrillic text: too few words for the library, so the script's usual language.
    language, why = resolve_language("auto", ["Медведь спит."], "en", espeak_can_speak)
    assert language == "ru" and why.startswith("auto: the captions are in Cyrillic script; too")


def test_the_resolved_language_is_in_the_render_cache_key(tmp_path: Path) -> None:
    from services.media.fonts import caption_font
    from services.storage.part_store import part_key

    story = story_of(STORIES["nl"][1])
    narrator = Narrator(EspeakEngine(), tmp_path / "cache")
    options, _ = _with_story_language(
        RenderOptions(language="auto"), story, narrator, logging.getLogger("test.language")
    )
    voice, part, font = narrator.engine.voice_id("nl"), story.parts[0], caption_font()
    key = part_key(part, options, voice, 22_050, font)
    assert key == part_key(part, RenderOptions(language="nl"), voice, 22_050, font)
    assert key != part_key(part, RenderOptions(language="en"), voice, 22_050, font)
    with pytest.raises(ValueError, match="resolved, not auto"):
        part_key(part, RenderOptions(language="auto"), voice, 22_050, font)
