"""The part store: what a part's key depends on, and how damaged or unfinished entries behave."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import RenderOptions
from services.stages import PartClip
from services.storage.folder import LocalStorage
from services.storage.part_store import PartStore, part_key
from services.story.model import Caption, Part
from tasks.reuse import load_part_clip

OPTIONS = RenderOptions(width=240, height=360, fps=12, preset="ultrafast").model_copy(
    update={"tts": "espeak", "language": "en"}
)
FONT = Path(__file__)  # any file: the key hashes the font file's bytes


def part(number: int = 1, image: str = "a" * 64, captions: tuple[str, ...] = ("Hello.",)) -> Part:
    return Part(
        number=number,
        image_file=f"{number}/image.png",
        image_path=Path("/nowhere/image.png"),
        image_sha256=image,
        captions=[
            Caption(number=k, file=f"{number}/{k}.txt", text=text)
            for k, text in enumerate(captions, start=1)
        ],
    )


def key(the_part: Part | None = None, options: RenderOptions = OPTIONS, voice: str = "v") -> str:
    return part_key(the_part or part(), options, voice, 48_000, str(FONT))


def test_the_key_is_stable_and_ignores_where_the_part_sits() -> None:
    assert key() == key()
    assert key(part(number=1)) == key(part(number=7))


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(lambda: key(part(image="b" * 64)), id="image bytes"),
        pytest.param(lambda: key(part(captions=("Hello!",))), id="caption text"),
        pytest.param(lambda: key(part(captions=("Hello.", "More."))), id="another caption"),
        pytest.param(lambda: key(voice="espeak-ng:de:165wpm"), id="voice or language"),
        pytest.param(lambda: key(options=OPTIONS.model_copy(update={"width": 480})), id="width"),
        pytest.param(lambda: key(options=OPTIONS.model_copy(update={"fps": 24})), id="fps"),
        pytest.param(lambda: key(options=OPTIONS.model_copy(update={"crf": 30})), id="crf"),
        pytest.param(lambda: key(options=OPTIONS.model_copy(update={"zoom": True})), id="zoom"),
        pytest.param(
            lambda: key(options=OPTIONS.model_copy(update={"preset": "fast"})), id="preset"
        ),
        pytest.param(
            lambda: key(options=OPTIONS.model_copy(update={"fade_seconds": 0.2})), id="fades"
        ),
        pytest.param(lambda: key(options=OPTIONS.model_copy(update={"pace": "normal"})), id="pace"),
        pytest.param(
            lambda: key(options=OPTIONS.model_copy(update={"speech_rate": 0.9})), id="rate"
        ),
        pytest.param(
            lambda: key(options=OPTIONS.model_copy(update={"read_along": False})), id="read-along"
        ),
        pytest.param(
            lambda: part_key(part(), OPTIONS, "v", 48_000, str(FONT), role=(True, False)),
            id="opens the story",
        ),
        pytest.param(
            lambda: part_key(part(), OPTIONS, "v", 48_000, str(FONT), role=(False, True)),
            id="ends the story",
        ),
        pytest.param(lambda: part_key(part(), OPTIONS, "v", 44_100, str(FONT)), id="sample rate"),
        pytest.param(
            lambda: part_key(
                part(), OPTIONS, "v", 48_000, str(Path(__file__).parents[1] / "media.py")
            ),
            id="font",
        ),
    ],
)
def test_anything_that_changes_the_clip_changes_the_key(changed) -> None:
    assert changed() != key()


def test_the_engine_counts_through_its_voice_not_the_option_field() -> None:
    # tts reaches the key as the voice id (which names engine, language and speed).
    other = OPTIONS.model_copy(update={"tts": "gtts"})
    assert key(options=other) == key()


def test_the_resolved_language_is_in_the_key_and_auto_is_refused() -> None:
    # zh and zh-TW share an espeak-ng voice, but captions may be drawn differently.
    chinese = OPTIONS.model_copy(update={"language": "zh"})
    taiwan = OPTIONS.model_copy(update={"language": "zh-TW"})
    assert key(options=chinese, voice="espeak-ng:cmn:165wpm") != key(
        options=taiwan, voice="espeak-ng:cmn:165wpm"
    )
    with pytest.raises(ValueError, match="resolved"):
        key(options=OPTIONS.model_copy(update={"language": "auto"}))


def clip(tmp_path: Path, part_number: int = 1) -> PartClip:
    (tmp_path / "clip.mp4").write_bytes(b"clip")
    (tmp_path / "narration.wav").write_bytes(b"wav")
    return PartClip(
        part_number=part_number,
        video=tmp_path / "clip.mp4",
        audio=tmp_path / "narration.wav",
        frames=5,
        page_texts=["Hi.", "Bye."],
        speech_starts=[0, 3],
        speech_ends=[2, 5],
        captions=[(0, 3), (3, 5)],
        fade_in=0,
    )


def test_an_entry_counts_only_once_its_part_json_is_there(tmp_path: Path) -> None:
    store = PartStore(LocalStorage(tmp_path / "store"))
    rendered = clip(tmp_path)
    k = "k" * 64
    assert store.load(k, tmp_path / "work", PartClip) is None

    # Media there, part.json not yet (a run killed while saving): a miss.
    store.storage.publish(rendered.video, f"{k}/clip.mp4")
    store.storage.publish(rendered.audio, f"{k}/narration.wav")
    assert store.load(k, tmp_path / "work", PartClip) is None

    store.save(k, rendered)
    found = store.load(k, tmp_path / "work", PartClip)
    assert found is not None
    assert found.video.read_bytes() == b"clip" and found.audio.read_bytes() == b"wav"
    assert store.keys() == {k}


def test_the_store_returns_the_clip_stage_s_own_result_for_the_part_that_asks(
    tmp_path: Path,
) -> None:
    store = PartStore(LocalStorage(tmp_path / "store"))
    rendered = clip(tmp_path, part_number=2)
    k = "r" * 64
    store.save(k, rendered)
    found = load_part_clip(7, k, store, tmp_path / "work")
    assert isinstance(found, PartClip)
    # Every field of the stage's result comes back, with the number of the part that re-uses
    # it, and its media from the store (a local store hands its own files out, uncopied).
    assert found.model_dump(exclude={"video", "audio"}) == {
        **rendered.model_dump(exclude={"video", "audio"}),
        "part_number": 7,
    }
    assert found.video == tmp_path / "store" / k / "clip.mp4"
    assert found.audio.read_bytes() == b"wav"


def test_damaged_or_incomplete_entries_are_misses_not_errors(tmp_path: Path) -> None:
    store = PartStore(LocalStorage(tmp_path / "store"))
    rendered = clip(tmp_path)
    damaged, incomplete, mismatched, unfit = "d" * 64, "i" * 64, "m" * 64, "u" * 64
    store.save(damaged, rendered)
    (tmp_path / "store" / damaged / "part.json").write_text("{not json", encoding="utf-8")
    store.save(incomplete, rendered)
    (tmp_path / "store" / incomplete / "clip.mp4").unlink()
    store.save(mismatched, rendered)
    meta = tmp_path / "store" / mismatched / "part.json"
    meta.write_text(meta.read_text().replace(mismatched, "x" * 64), encoding="utf-8")
    store.save(unfit, rendered)  # an entry whose fields no longer fit the clip's type
    meta = tmp_path / "store" / unfit / "part.json"
    meta.write_text(meta.read_text().replace('"frames"', '"frame_count"'), encoding="utf-8")
    for k in (damaged, incomplete, mismatched, unfit):
        assert store.load(k, tmp_path / "work", PartClip) is None
