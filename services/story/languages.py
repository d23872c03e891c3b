"""Language tags: one BCP 47 tag names a story's language everywhere (options, CLI, API, record).

Pure data and functions, no engine: `services/speech.py` maps a tag to each narration engine's own
code. `auto` asks for the language to be read off the captions' script (`detect_language`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

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


# --- the language of a story, from the script of its captions ----------------------------------

# A script -> the language a story written in it most likely is. Scripts shared by many languages
# (Latin above all) are missing on purpose: for those the configured language decides.
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

# Unicode character names start with their script's name (HEBREW LETTER ALEF, THAI CHARACTER
# KO KAI...), which is all unicodedata tells about scripts. Two scripts go by other names.
_NAME_PREFIXES = [
    ("CJK UNIFIED IDEOGRAPH", "Han"),
    ("CJK COMPATIBILITY IDEOGRAPH", "Han"),
    ("HIRAGANA", "Kana"),
    ("KATAKANA", "Kana"),
    ("HALFWIDTH KATAKANA", "Kana"),
    ("HANGUL", "Hangul"),
    ("HALFWIDTH HANGUL", "Hangul"),
    ("LATIN", "Latin"),
    ("FULLWIDTH LATIN", "Latin"),
    ("ORIYA", "Oriya"),
    ("ETHIOPIC", "Ethiopic"),
]

# Japanese mixes kanji (Han) with kana; a story is Japanese once this share of its Han and kana
# letters are kana (Chinese has none; Japanese prose has well over half).
_KANA_SHARE_FOR_JAPANESE = 0.05


def script_of(character: str) -> str | None:
    """The script of one letter ("Latin", "Han", "Kana", "Cyrillic"...), None for non-letters."""
    if not unicodedata.category(character).startswith("L"):
        return None
    name = unicodedata.name(character, "")
    for prefix, script in _NAME_PREFIXES:
        if name.startswith(prefix):
            return script
    first_word = name.split(" ", 1)[0].title()
    return first_word or None


def script_counts(texts: Iterable[str]) -> Counter[str]:
    return Counter(script for text in texts for script in map(script_of, text) if script)


def deciding_script(texts: Iterable[str]) -> str | None:
    """The script of most of the captions' letters (Han with some kana counts as Kana: Japanese),
    or None when no script has a majority."""
    counts = script_counts(texts)
    kana, han = counts.pop("Kana", 0), counts.pop("Han", 0)
    if kana and kana >= _KANA_SHARE_FOR_JAPANESE * (kana + han):
        counts["Kana"] = kana + han
    elif han or kana:
        counts["Han"] = han + kana
    total = sum(counts.values())
    if not total:
        return None
    script, letters = counts.most_common(1)[0]
    return script if letters * 2 > total else None


def detect_language(texts: Iterable[str]) -> str | None:
    """The language the captions' script tells, or None when it does not (Latin, mixed, none)."""
    texts = list(texts)
    script = deciding_script(texts)
    return _language_of_script(script, texts) if script else None


def _language_of_script(script: str, texts: list[str]) -> str | None:
    letters = set("".join(texts).lower())
    for language, telling in TELLING_LETTERS.get(script, []):
        if letters & set(telling):
            return language
    return SCRIPT_LANGUAGES.get(script)


def resolve_language(chosen: str, texts: Iterable[str], fallback: str) -> tuple[str, str]:
    """The language to narrate in, and why: the chosen tag, or for `auto` the language of the
    captions' script, else `fallback` (TTS_LANGUAGE)."""
    if chosen != AUTO:
        return chosen, "chosen"
    texts = list(texts)
    script = deciding_script(texts)
    language = _language_of_script(script, texts) if script else None
    if language is not None:
        return language, f"auto: the captions are in {script} script"
    why = f"{script} script" if script else "no one script"
    return fallback, f"auto: the captions are in {why}, so TTS_LANGUAGE"
