"""The render of one story inside the flow, step by step: check the story, settle its language,
re-use what an earlier run made, render the rest part by part, join the clips. The flow
(flows/video.py) publishes the result. Each step logs a line and moves the run's progress.

Every stage's futures go through `track`, so a failure settles them all before the work area
goes (flows/part_futures.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import unmapped
from prefect.futures import as_completed

from flows.part_futures import part_result
from flows.run_record import RunRecord
from flows.run_report import RunProgress
from services.media import fonts
from services.media.framing import enlargement_note
from services.media.speech import Narrator, UnsupportedLanguage, make_engine
from services.settings import RenderOptions, get_settings
from services.stages import TITLE_PART, AssembledVideo, MusicTrack, PartClip
from services.storage.part_store import PartStore, part_key, story_key, title_key
from services.storage.sources import RenderTarget
from services.story import language_id
from services.story.language_id import resolve_language
from services.story.languages import AUTO
from services.story.model import Part, Story, StoryError, sha256_file
from tasks.assembly import assemble_video
from tasks.captions import draw_captions
from tasks.clips import render_clip
from tasks.fetch_assets import fetch_music, fetch_part, fetch_title, list_story
from tasks.narration import narrate_part
from tasks.reuse import keep_part, keep_story, reuse_part, reuse_story
from tasks.soundtrack import make_soundtrack
from tasks.title import render_title

Track = Callable[[list[Any]], list[Any]]


@dataclass
class RenderOutcome:
    assembled: AssembledVideo
    parts: int
    reused: int
    keys: set[str]
    options: RenderOptions  # with the language resolved
    voice: str
    music: str | None  # the music's name, when there was music

    @property
    def language(self) -> str:
        return self.options.language


@dataclass
class StoryRender:
    """One story's render: what every step needs, and what the steps found so far."""

    target: RenderTarget
    options: RenderOptions
    store: PartStore
    work_dir: Path
    run: RunRecord
    track: Track
    progress: RunProgress
    on_language: Callable[[str], None] = lambda language: None
    clips: dict[int, PartClip] = field(default_factory=dict)
    title_clip: PartClip | None = None  # the title card's, when the story has a title.txt

    @property
    def logger(self) -> Any:
        return self.run.logger

    def render(self) -> RenderOutcome:
        """Check the story, re-use or render each part, join them (the caller publishes)."""
        narrator = Narrator(
            make_engine(self.options.tts or "espeak", self.options.speech_rate),
            get_settings().cache_dir,
        )
        if self.options.language != AUTO:
            narrator.engine.voice_id(self.options.language)  # one it cannot speak: stop now
        story, music = self.check_story()
        total = len(story.parts)
        self.progress.checked(total)
        self.options, voice, why = self.settle_language(story, narrator)
        language_id.release()  # its model is not needed again in this run: 80 MB back
        self.run.update(
            parts=total,
            language=self.options.language,
            language_reason=why,
            pace=self.options.pace,
            speech_rate=self.options.speech_rate,
            voice=voice,
            title=story.title,
            read_along=self.options.read_along,
        )
        font = fonts.caption_font()
        first, last = story.parts[0].number, story.parts[-1].number
        titled = story.title is not None
        # The story's opening and ending are in its first and last parts' clips (the opening in
        # the title card's, when there is one).
        keys = {
            part.number: part_key(
                part,
                self.options,
                voice,
                narrator.sample_rate,
                font,
                role=(part.number == first, part.number == last),
                after_title=titled and part.number == first,
            )
            for part in story.parts
        }
        if story.title is not None:
            keys[TITLE_PART] = title_key(
                story.title, story.parts[0], self.options, voice, narrator.sample_rate, font
            )
        whole = story_key(
            [keys[number] for number in sorted(keys)],
            self.options,
            music=sha256_file(music.path) if music is not None else None,
        )

        def outcome(assembled: AssembledVideo, reused: int) -> RenderOutcome:
            return RenderOutcome(
                assembled=assembled,
                parts=total,
                reused=reused,
                keys={*keys.values(), whole},
                options=self.options,
                voice=voice,
                music=music.name if music is not None else None,
            )

        earlier = reuse_story(whole, store=self.store, work_dir=self.work_dir)
        if earlier is not None:
            # Every part and the music unchanged: the outputs an earlier run assembled.
            self.logger.info(
                "story unchanged (key %s): publishing the outputs kept from an earlier run",
                whole[:12],
            )
            for part in story.parts:
                self.progress.part_step(part.number, "reused")
            self.run.update(parts_done=total, progress=1.0, parts_reused=total)
            self.progress.assembled()
            return outcome(earlier, total)

        reused = self.reuse_parts(story, keys)
        title = self.title_card(story, keys, narrator)
        misses = longest_first([part for part in story.parts if part.number not in self.clips])
        sound = self.render_parts(story, misses, keys, narrator, music, title)
        if title is not None:
            self.title_clip = title.result()
            self.logger.info("title card rendered (key %s)", keys[TITLE_PART][:12])
        self.logger.info(
            "parts: %d re-used, %d rendered; narration synthesized for %d page(s)",
            reused,
            total - reused,
            narrator.synthesized,
        )
        return outcome(self.assemble(story, sound, whole), reused)

    def check_story(self) -> tuple[Story, MusicTrack | None]:
        """List the story and check every part and the music; every problem in one StoryError."""
        layout = list_story(self.target.assets)
        self.logger.info(
            "story at %s: %d parts; checking them", self.target.assets.describe(), len(layout.parts)
        )
        fetches = self.track(
            fetch_part.map(
                layout.parts, storage=unmapped(self.target.assets), work_dir=unmapped(self.work_dir)
            )
        )
        music_check = self.track(
            [fetch_music.submit(layout.music, self.options, self.target.assets, self.work_dir)]
        )[0]
        title_check = self.track(
            [fetch_title.submit(layout.title, self.options, self.target.assets, self.work_dir)]
        )[0]
        story, music = gather_story(layout.problems, fetches, music_check, title_check)
        if story.title is not None:
            self.logger.info("title: %s (from %s)", story.title, layout.title)
        if music is not None:
            self.logger.info("music: %s (%.1f s or more)", music.name, music.seconds)
        return story, music

    def settle_language(self, story: Story, narrator: Narrator) -> tuple[RenderOptions, str, str]:
        """The options with the story's language, the voice that speaks it, and why."""
        options, why = with_story_language(self.options, story, narrator, self.logger)
        self.on_language(options.language)
        return options, narrator.engine.voice_id(options.language), why

    def title_card(self, story: Story, keys: dict[int, str], narrator: Narrator) -> Any:
        """The title card's clip: re-used (None here, the clip in `title_clip`), or the future of
        its render, kept in the store once made; None without a title."""
        if story.title is None:
            return None
        key = keys[TITLE_PART]
        found = self.track(
            [reuse_part.submit(TITLE_PART, key, store=self.store, work_dir=self.work_dir)]
        )[0].result()
        if found is not None:
            self.title_clip = found
            self.logger.info("title card re-used (key %s)", key[:12])
            return None
        self.logger.info("rendering the title card")
        made = self.track(
            [
                render_title.submit(
                    story.title, story.parts[0], narrator, self.options, self.work_dir
                )
            ]
        )[0]
        return self.track([keep_part.submit(made, key, store=self.store)])[0]

    def reuse_parts(self, story: Story, keys: dict[int, str]) -> int:
        """Look every part up in the store; the ones found go into `clips`."""
        lookups = self.track(
            reuse_part.map(
                [part.number for part in story.parts],
                [keys[part.number] for part in story.parts],
                store=unmapped(self.store),
                work_dir=unmapped(self.work_dir),
            )
        )
        for part, lookup in zip(story.parts, lookups, strict=True):
            found = lookup.result()
            if found is not None:
                self.clips[part.number] = found
                self.progress.part_step(part.number, "reused")
                self.logger.info("part %d re-used (key %s)", part.number, keys[part.number][:12])
        reused = len(self.clips)
        if reused:
            total = len(story.parts)
            self.run.update(
                parts_done=reused, progress=round(reused / total, 4), parts_reused=reused
            )
        return reused

    def render_parts(
        self,
        story: Story,
        misses: list[Part],
        keys: dict[int, str],
        narrator: Narrator,
        music: MusicTrack | None,
        title: Any = None,
    ) -> Any:
        """Draw, narrate, encode and keep every part not re-used; the soundtrack's future.
        `title`: the future of the title card's clip, when it is being rendered."""
        if not misses:
            return self.submit_soundtrack(story, {}, music, title)
        self.logger.info("rendering %d part(s): drawing captions, narrating, encoding", len(misses))
        options, work_dir = self.options, self.work_dir
        pages = self.track(
            draw_captions.map(misses, options=unmapped(options), work_dir=unmapped(work_dir))
        )
        narrations = self.track(
            narrate_part.map(
                pages,
                narrator=unmapped(narrator),
                language=unmapped(options.language),
                words=unmapped(options.read_along),
            )
        )
        # Submitted before the clips, so it is made while they encode (Prefect's pool takes
        # tasks in order of submission).
        narrated = dict(zip([part.number for part in misses], narrations, strict=True))
        sound = self.submit_soundtrack(story, narrated, music, title)
        rendered = self.track(
            render_clip.map(
                pages,
                narrations,
                options=unmapped(options),
                work_dir=unmapped(work_dir),
                first=[part.number == story.parts[0].number for part in misses],
                last=[part.number == story.parts[-1].number for part in misses],
                after_title=[
                    story.title is not None and part.number == story.parts[0].number
                    for part in misses
                ],
            )
        )
        kept = self.track(
            keep_part.map(
                rendered, [keys[part.number] for part in misses], store=unmapped(self.store)
            )
        )
        self.follow_parts(misses, [pages, narrations, rendered, kept], keys, len(story.parts))
        return sound

    def follow_parts(
        self, misses: list[Part], stages: list[list[Any]], keys: dict[int, str], total: int
    ) -> None:
        """Report each stage of each part as it ends; a failed part fails the run (with the
        error of the stage that failed)."""
        step_of: dict[int, tuple[int, str, list[Any]]] = {}
        for part, *chain in zip(misses, *stages, strict=True):
            for step, future in zip(("drawn", "narrated", "encoded", "kept"), chain, strict=True):
                step_of[id(future)] = (part.number, step, chain)
        for future in as_completed([future for stage in stages for future in stage]):
            number, step, chain = step_of[id(future)]
            if step != "kept":
                if future.state.is_completed():
                    self.progress.part_step(number, step)
                continue
            clip = part_result(chain[:-1], future)  # a failed part fails the run
            self.clips[clip.part_number] = clip
            self.progress.part_step(number, step)
            self.logger.info(
                "part %d rendered (key %s) (%d/%d)",
                clip.part_number,
                keys[clip.part_number][:12],
                len(self.clips),
                total,
            )
            done = len(self.clips)
            self.run.update(parts_done=done, progress=round(done / total, 4))

    def submit_soundtrack(
        self, story: Story, narrations: dict[int, Any], music: MusicTrack | None, title: Any = None
    ) -> Any:
        """The story's soundtrack, from each part's re-used clip or (a future of) its narration,
        after the title card's clip (or its future) when the story has a title."""
        parts = [self.clips.get(part.number) or narrations[part.number] for part in story.parts]
        if story.title is not None:
            parts.insert(0, self.title_clip or title)
        music_path = music.path if music is not None else None
        return self.track([make_soundtrack.submit(parts, self.options, self.work_dir, music_path)])[
            0
        ]

    def note_enlarged_pictures(self, clips: list[PartClip]) -> None:
        """Say in the log and the record which pictures were enlarged a lot (they look soft)."""
        notes = []
        for clip in clips:
            picture = clip.picture
            if picture is not None:
                note = enlargement_note(
                    clip.part_number, picture.width, picture.height, picture.enlargement
                )
                if note is not None:
                    self.logger.warning(note)
                    notes.append(note)
        if notes:
            self.run.update(notes=notes)

    def assemble(self, story: Story, sound: Any, whole: str) -> AssembledVideo:
        """Join the clips under the soundtrack; keep the result for an unchanged re-run."""
        self.logger.info("assembling %d part(s) into the video", len(story.parts))
        self.note_enlarged_pictures([self.clips[part.number] for part in story.parts])
        title = [self.title_clip] if self.title_clip is not None else []
        assembled = assemble_video(
            [*title, *(self.clips[part.number] for part in story.parts)],
            self.options,
            self.work_dir,
            sound=sound.result(),
        )
        self.progress.assembled()
        try:
            keep_story(assembled, whole, store=self.store)
        except Exception as error:  # noqa: BLE001 - a missed copy only costs the next run time
            self.logger.warning(
                "could not keep the outputs in %s: %s", self.store.describe(), error
            )
        return assembled


def with_story_language(
    options: RenderOptions, story: Story, narrator: Narrator, logger: Any
) -> tuple[RenderOptions, str]:
    """Options with `auto` replaced by the story's language, and why that one; fails (before
    anything renders) when the engine cannot speak it. Told from all the captions at once: a
    caption in another language is spoken with the story's voice."""
    texts = [caption.text for part in story.parts for caption in part.captions]
    if story.title is not None:
        texts.insert(0, story.title)
    language, why = resolve_language(
        options.language,
        texts,
        get_settings().tts_language,
        can_speak=lambda tag: speaks(narrator, tag),
    )
    voice = narrator.engine.voice_id(language)
    logger.info("language: %s (%s); voice %s", language, why, voice)
    return options.model_copy(update={"language": language}), why


def speaks(narrator: Narrator, language: str) -> bool:
    try:
        narrator.engine.voice_id(language)
    except UnsupportedLanguage:
        return False
    return True


def longest_first(parts: list[Part]) -> list[Part]:
    """Longest captions first: encoding is most of a render, and a long part whose encode
    started last would run alone at the end while the other cores idle."""
    return sorted(parts, key=lambda part: sum(len(c.text) for c in part.captions), reverse=True)


def gather_story(
    listing_problems: list[str], fetches: list[Any], music: Any, title: Any = None
) -> tuple[Story, MusicTrack | None]:
    """Wait for every usable part's check, the music's and the title's; report every problem of
    the story in one StoryError."""
    parts, problems = [], list(listing_problems)
    for future in fetches:
        try:
            parts.append(future.result())
        except StoryError as error:
            problems.extend(error.problems)
    track = text = None
    try:
        track = music.result()
    except StoryError as error:
        problems.extend(error.problems)
    try:
        text = title.result() if title is not None else None
    except StoryError as error:
        problems.extend(error.problems)
    if problems:
        raise StoryError(problems)
    return Story(parts=parts, title=text), track
