"""Language tags: one BCP 47 tag names a story's language everywhere (options, CLI, API, record).

Pure data and functions, no engine: `services/speech.py` maps a tag to each narration engine's own
code. `auto` asks for the language to be read off the captions: their script where one language
owns it (`detect_language`, here), else their words (services/story/language_id.py, which
resolves `auto`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.story.scripts import deciding_script

AUTO = "auto"

# Every language at least one narration engine speaks (services/speech.py maps each one; a test
# checks that the two tables agree). Regional tags (en-GB, pt-BR, zh-TW) are accepted for any
# language here; the engines use the region where they have a voice for it.
LANGUAGES: dict[str, str] = {
    "af": "Afrikaans",
    "am": "Amharic",
    "ar": "Arabic",
    "as": "Assamese",
    "az": "Azerbaijani",
    "be": "Belarusian",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "bs": "Bosnian",
    "ca": "Catalan",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "eo": "Esperanto",
    "es": "Spanish",
    "et": "Estonian",
    "eu": "Basque",
    "fa": "Persian",
    "fi": "Finnish",
    "fil": "Filipino",
    "fr": "French",
    "ga": "Irish",
    "gd": "Scottish Gaelic",
    "gl": "Galician",
    "gu": "Gujarati",
    "ha": "Hausa",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "ht": "Haitian Creole",
    "hu": "Hungarian",
    "hy": "Armenian",
    "id": "Indonesian",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "jv": "Javanese",
    "ka": "Georgian",
    "kk": "Kazakh",
    "km": "Khmer",
    "kn": "Kannada",
    "ko": "Korean",
    "ku": "Kurdish",
    "ky": "Kyrgyz",
    "la": "Latin",
    "lb": "Luxembourgish",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mi": "Maori",
    "mk": "Macedonian",
    "ml": "Malayalam",
    "mr": "Marathi",
    "ms": "Malay",
    "mt": "Maltese",
    "my": "Burmese",
    "nb": "Norwegian Bokmål",
    "ne": "Nepali",
    "nl": "Dutch",
    "no": "Norwegian",
    "or": "Odia",
    "pa": "Punjabi",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sd": "Sindhi",
    "si": "Sinhala",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sq": "Albanian",
    "sr": "Serbian",
    "su": "Sundanese",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tk": "Turkmen",
    "tl": "Tagalog",
    "tr": "Turkish",
    "tt": "Tatar",
    "ug": "Uyghur",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "vi": "Vietnamese",
    "yue": "Cantonese",
    "zh": "Chinese",
}

# Regional tags an engine treats differently from the plain language (services/speech.py: an
# accent, a Google domain, a script). Any other region is accepted too and spoken as the language.
REGIONAL_TAGS = [
    "en-GB",
    "en-US",
    "en-AU",
    "en-CA",
    "en-IE",
    "en-IN",
    "en-ZA",
    "en-029",
    "fr-FR",
    "fr-BE",
    "fr-CH",
    "fr-CA",
    "pt-BR",
    "pt-PT",
    "es-ES",
    "es-MX",
    "es-419",
    "zh-CN",
    "zh-SG",
    "zh-TW",
    "zh-HK",
    "zh-Hans",
    "zh-Hant",
]

# Deprecated codes some people (and Google) still use, and what BCP 47 calls them now.
_REPLACED = {"iw": "he", "in": "id", "jw": "jv"}

_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3})(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|[0-9]{3}))?$"
)


class LanguageError(ValueError):
    """Not a language tag, or one no narration engine speaks; the message says which."""


def normalize_tag(text: str) -> str:
    """`ZH_tw` -> `zh-TW`, `sr-latn-rs` -> `sr-Latn-RS`, `iw` -> `he`; any other form is refused."""
    cleaned = text.strip().replace("_", "-").lower()
    match = _TAG.match(cleaned)
    if match is None:
        raise LanguageError(
            f"{text!r} is not a language tag: use a code such as en, de, zh-TW or pt-BR, or auto"
        )
    parts = [_REPLACED.get(match["language"], match["language"])]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    return "-".join(parts)


def documented_tags() -> list[str]:
    """The tags a schema lists (the API's, the Prefect UI form's): auto, every language, the
    regional tags that sound different. Validation also takes other regions and any case."""
    return [AUTO, *sorted(LANGUAGES), *REGIONAL_TAGS]


def base_language(tag: str) -> str:
    return tag.split("-", 1)[0]


def language_name(tag: str) -> str:
    """`de` -> `German ('de')`, `xx` -> `'xx'`: for messages."""
    name = LANGUAGES.get(base_language(tag))
    return f"{name} ({tag!r})" if name else repr(tag)


def check_language(text: str, *, allow_auto: bool = True) -> str:
    """The normalized tag of a language some engine speaks (or `auto`); LanguageError otherwise."""
    if allow_auto and text.strip().lower() == AUTO:
        return AUTO
    tag = normalize_tag(text)
    if base_language(tag) not in LANGUAGES:
        raise LanguageError(
            f"no narration engine speaks {tag!r}: choose one of "
            f"{', '.join(sorted(LANGUAGES))} (a region may follow, e.g. en-GB, zh-TW)"
            + (", or auto" if allow_auto else "")
        )
    return tag


# --- the language of a story: the script of its captions, else their words ---------------------

# A script -> the language a story written in it most likely is. Latin is missing on purpose:
# many languages share it, and only the words (or the configured language) can decide.
SCRIPT_LANGUAGES = {
    "Han": "zh",
    "Kana": "ja",
    "Hangul": "ko",
    "Arabic": "ar",
    "Hebrew": "he",
    "Devanagari": "hi",
    "Thai": "th",
    "Greek": "el",
    "Cyrillic": "ru",
    "Bengali": "bn",
    "Gurmukhi": "pa",
    "Gujarati": "gu",
    "Oriya": "or",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Sinhala": "si",
    "Myanmar": "my",
    "Khmer": "km",
    "Georgian": "ka",
    "Armenian": "hy",
    "Ethiopic": "am",
}

# Letters that only one language of a shared script uses: a story that has any of them is in
# that language rather than the script's default (checked in this order).
TELLING_LETTERS = {
    "Cyrillic": [("uk", "ґєї"), ("be", "ў"), ("sr", "ђћ"), ("mk", "ѓќѕ")],
    "Arabic": [("ur", "ٹڈڑںے"), ("fa", "پچژگ")],
}

# Scripts several languages share -> those languages (of LANGUAGES): for these the words decide
# among the ones the voice speaks. Every language not written in another script is in Latin's
# (Serbian in both).
_OTHER_SHARED = {
    "Cyrillic": frozenset("be bg kk ky mk ru sr tt uk".split()),
    "Arabic": frozenset("ar fa sd ug ur".split()),
    "Devanagari": frozenset("hi mr ne".split()),
}
_NOT_LATIN = set(SCRIPT_LANGUAGES.values()).union({"as", "yue"}, *_OTHER_SHARED.values())
SHARED_SCRIPTS: dict[str, frozenset[str]] = {
    "Latin": frozenset(set(LANGUAGES) - _NOT_LATIN | {"sr"}),
    **_OTHER_SHARED,
}


def detect_language(texts: Iterable[str]) -> str | None:
    """The language the captions' script alone tells, or None when it does not (Latin, mixed,
    none): letters only one language uses, else the script's usual language."""
    texts = list(texts)
    script = deciding_script(texts)
    if script is None:
        return None
    return telling_language(script, texts) or SCRIPT_LANGUAGES.get(script)


def telling_language(script: str, texts: list[str]) -> str | None:
    """The language whose own letters (TELLING_LETTERS) the texts in `script` have, if any."""
    letters = set("".join(texts).lower())
    for language, telling in TELLING_LETTERS.get(script, []):
        if letters & set(telling):
            return language
    return None
