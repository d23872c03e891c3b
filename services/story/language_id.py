"""`language: auto` resolved: the language of a story's captions, from their script where one
language owns it, else from their words (for scripts many languages share, Latin above all).

py3langid (a maintained fork of langid.py, BSD-3; its model ships inside the wheel, nothing is
downloaded) scores the text against every language it knows; only the candidates the caller
names (the languages the narration engine speaks, written in the story's script) are kept, and
their probabilities normalized among themselves. Chosen by measurement: bench/language_id.py,
figures in bench/README.md.

A story gets a language only when the words say so clearly: enough words, a confident answer,
and most of the captions agreeing (`StoryLanguage.language` is None otherwise, with the reason).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from services.story.languages import (
    AUTO,
    LANGUAGES,
    SCRIPT_LANGUAGES,
    SHARED_SCRIPTS,
    telling_language,
)
from services.story.scripts import deciding_script

# Thresholds, chosen on bench/language_samples.py (see bench/README.md).
MIN_WORDS = 5  # fewer words than this in the whole story: too few to tell
MIN_CONFIDENCE = 0.8  # the answer's probability among the candidates (its close group's, summed)
CAPTION_MIN_WORDS = 3  # a caption this long or longer has a language of its own worth counting
MIN_SHARE = 0.75  # of the letters of captions with a clear language, the story's must hold this

# Languages so close in writing that short text cannot always tell them apart, and each reads
# the other's words well: their probabilities add up when judging confidence.
CLOSE_LANGUAGES = [{"hr", "sr", "bs"}, {"id", "ms"}, {"da", "no", "nb"}, {"cs", "sk"}]

# py3langid's labels that are our tags under another name.
_LABEL_TAGS = {"nn": "no", "ary": "ar", "arz": "ar", "wuu": "zh"}

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's identifier, loaded on first use (about 2 s; 80 MB held until `release`)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def release() -> None:
    """Let the model go (a render needs it once, before anything is drawn): its memory returns
    to the system, and the next use loads it again."""
    _identifier.cache_clear()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def letter_count(text: str) -> int:
    return sum(character.isalpha() for character in text)


@dataclass(frozen=True)
class Guess:
    """The likeliest candidate for a text and how sure: the probability of it and of the
    languages close to it, among the candidates only (0 when none fits at all)."""

    language: str | None
    confidence: float


def _group(tag: str) -> frozenset[str]:
    return next((frozenset(group) for group in CLOSE_LANGUAGES if tag in group), frozenset({tag}))


def identify(text: str, candidates: Collection[str]) -> Guess:
    """The language of `text` among `candidates` (tags), with its confidence."""
    scores: Counter[str] = Counter()
    for label, probability in _identifier().rank(text):
        tag = _LABEL_TAGS.get(label, label)
        if tag in candidates:
            scores[tag] += probability
    total = sum(scores.values())
    if total <= 0:
        return Guess(None, 0.0)
    best = max(scores, key=lambda tag: scores[tag])
    group = sum(scores[tag] for tag in _group(best))
    return Guess(best, group / total)


@dataclass(frozen=True)
class StoryLanguage:
    """What the words of a story tell: its language, or None and why not."""

    language: str | None
    why: str


def story_language(
    texts: Iterable[str], candidates: Collection[str], names: dict[str, str] | None = None
) -> StoryLanguage:
    """The language of the captions `texts` among `candidates`, when clear: at least MIN_WORDS
    words, the whole text's answer at least MIN_CONFIDENCE sure, and the captions with a clear
    language of their own (CAPTION_MIN_WORDS words or more) holding at least MIN_SHARE of their
    letters in it (or a close language; letters, not words, so that languages of long words
    weigh the same as others). `names` gives languages' names for the reason."""
    texts = [text for text in texts if text.strip()]
    named = names or {}

    def name(tag: str) -> str:
        return named.get(tag, tag)

    words = sum(word_count(text) for text in texts)
    if words < MIN_WORDS:
        return StoryLanguage(None, f"too few words to tell their language ({words})")
    whole = identify(" ".join(texts), candidates)
    if whole.language is None:
        return StoryLanguage(None, "the words are in no language the voice speaks")
    if whole.confidence < MIN_CONFIDENCE:
        return StoryLanguage(
            None,
            f"their language is unclear (likeliest {name(whole.language)} at "
            f"{whole.confidence:.2f}, {MIN_CONFIDENCE:.2f} needed)",
        )
    shares: Counter[str] = Counter()
    for text in texts:
        if word_count(text) < CAPTION_MIN_WORDS:
            continue
        guess = identify(text, candidates)
        if guess.language is not None and guess.confidence >= MIN_CONFIDENCE:
            own = guess.language in _group(whole.language)
            shares[whole.language if own else guess.language] += letter_count(text)
    counted = sum(shares.values())
    if counted and shares[whole.language] < MIN_SHARE * counted:
        parts = ", ".join(
            f"{name(tag)} {100 * share / counted:.0f} %" for tag, share in shares.most_common(3)
        )
        return StoryLanguage(None, f"the captions are in more than one language ({parts})")
    return StoryLanguage(
        whole.language,
        f"the words are {name(whole.language)}, {whole.confidence:.2f} sure over {words} words",
    )


def resolve_language(
    chosen: str,
    texts: Iterable[str],
    fallback: str,
    can_speak: Callable[[str], bool] | None = None,
) -> tuple[str, str]:
    """The language to narrate in, and why: the chosen tag, or for `auto` the language the
    captions tell (letters only one language uses, a script one language owns, else their words
    among the languages written in that script that `can_speak` accepts), or else `fallback`
    (TTS_LANGUAGE), or the script's usual language where it has one."""
    if chosen != AUTO:
        return chosen, "chosen"
    texts = list(texts)
    script = deciding_script(texts)
    if script is None:
        return fallback, "auto: the captions are in no one script, so TTS_LANGUAGE"
    telling = telling_language(script, texts)
    if telling is not None:
        return telling, f"auto: the captions are in {script} script, with letters only " + (
            f"{LANGUAGES[telling]} uses"
        )
    if script in SHARED_SCRIPTS:
        candidates = [tag for tag in SHARED_SCRIPTS[script] if can_speak is None or can_speak(tag)]
        found = story_language(texts, candidates, LANGUAGES)
        if found.language is not None:
            return found.language, f"auto: {found.why}"
        usual = SCRIPT_LANGUAGES.get(script)
        if usual is not None:
            return usual, f"auto: the captions are in {script} script; {found.why}"
        return fallback, f"auto: the captions are in {script} script; {found.why}, so TTS_LANGUAGE"
    language = SCRIPT_LANGUAGES.get(script)
    if language is not None:
        return language, f"auto: the captions are in {script} script"
    return fallback, f"auto: the captions are in {script} script, so TTS_LANGUAGE"
