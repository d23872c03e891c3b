"""Stage 3: speak every caption page, in order (cached: identical text is synthesized once)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from services.media.speech import Narrator, PageNotSpoken, SpeechError
from services.media.wav import audible_samples, wav_sample_count
from services.stages import PageAudio, PartNarration, PartPages
from services.storage.retrying import TRANSIENT_RETRIES


def narrate_pages(
    pages: PartPages, narrator: Narrator, language: str, words: bool = False
) -> PartNarration:
    """Each page spoken; with `words` (read-along), each page's word times too."""
    texts = [page.text for page in pages.pages]
    try:
        wavs = narrator.narrate_many(texts, language, words=words)
    except PageNotSpoken as error:
        page = pages.pages[error.index]
        raise SpeechError(
            f"part {pages.part_number}: narrating caption {page.caption_number}.txt "
            f"failed: {error}",
            transient=error.transient,
        ) from error.error
    spoken = [
        PageAudio(
            wav=wav,
            samples=wav_sample_count(wav),
            audible=audible_samples(wav),
            words=narrator.words_of(text, language) if words else None,
        )
        for text, wav in zip(texts, wavs, strict=True)
    ]
    return PartNarration(
        part_number=pages.part_number, sample_rate=narrator.sample_rate, pages=spoken
    )


@task(
    cache_policy=NO_CACHE,
    name="narrate-part",
    task_run_name="narrate-part-{pages.part_number}",
    **TRANSIENT_RETRIES,
)
def narrate_part(
    pages: PartPages, narrator: Narrator, language: str, words: bool = False
) -> PartNarration:
    return narrate_pages(pages, narrator, language, words)
