"""The part store: what a part's key depends on, and how damaged or unfinished entries behave."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.part_store import PartStore, StoredPart, part_key
from services.settings import RenderOptions
from services.storage import LocalStorage
from services.story import Caption, Part

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
        pytest.param(lambda: part_key(part(), OPTIONS, "v", 44_100, str(FONT)), id="sample rate"),
        pytest.param(
            lambda: part_key(part(), OPTIONS, "v", 48_000, str(Path(__file__).parent / "media.py")),
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


def stored(key: str) -> StoredPart:
    return StoredPart(key=key, frames=3, page_frames=[3], page_texts=["Hi."], rendered_as_part=1)


def test_an_entry_counts_only_once_its_part_json_is_there(tmp_path: Path) -> None:
    store = PartStore(LocalStorage(tmp_path / "store"))
    (tmp_path / "clip.mp4").write_bytes(b"clip")
    (tmp_path / "narration.wav").write_bytes(b"wav")
    k = "k" * 64
    assert store.load(k, tmp_path / "work") is None

    # Media there, part.json not yet (a run killed while saving): a miss.
    store.storage.publish(tmp_path / "clip.mp4", f"{k}/clip.mp4")
    store.storage.publish(tmp_path / "narration.wav", f"{k}/narration.wav")
    assert store.load(k, tmp_path / "work") is None

    store.save(k, tmp_path / "clip.mp4", tmp_path / "narration.wav", stored(k))
    found = store.load(k, tmp_path / "work")
    assert found is not None
    assert found.video.read_bytes() == b"clip" and found.meta.frames == 3
    assert store.keys() == {k}


def test_damaged_or_incomplete_entries_are_misses_not_errors(tmp_path: Path) -> None:
    store = PartStore(LocalStorage(tmp_path / "store"))
    (tmp_path / "clip.mp4").write_bytes(b"clip")
    (tmp_path / "narration.wav").write_bytes(b"wav")
    damaged, incomplete, mismatched = "d" * 64, "i" * 64, "m" * 64
    store.save(damaged, tmp_path / "clip.mp4", tmp_path / "narration.wav", stored(damaged))
    (tmp_path / "store" / damaged / "part.json").write_text("{not json", encoding="utf-8")
    store.save(incomplete, tmp_path / "clip.mp4", tmp_path / "narration.wav", stored(incomplete))
    (tmp_path / "store" / incomplete / "clip.mp4").unlink()
    store.save(mismatched, tmp_path / "clip.mp4", tmp_path / "narration.wav", stored("x" * 64))
    for k in (damaged, incomplete, mismatched):
        assert store.load(k, tmp_path / "work") is None
