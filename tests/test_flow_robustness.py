"""The flow when something fails part-way, and shared state under concurrent parts.

- A part that fails while other parts are still being fetched or looked up: every task still at
  work ends before the run's work area is removed, and the run fails with that part's error.
- A progress write that fails with a plain OSError (a full disk) is logged; the run completes.
- The Narrator's count of synthesized pages is exact with many threads narrating at once (the
  count is now kept under a lock; CPython's GIL happens to make the bare `+=` atomic enough that
  this test passed without it too, so it guards the count, not that lock).
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.settings import RenderOptions
from services.speech import Narrator, NothingToSay
from tests import media
from tests.stories import PALETTE

TINY = RenderOptions(width=160, height=240, fps=10, preset="ultrafast")
SLOW_SECONDS = 1.5


class StageWatch:
    """Wraps a stage function: part 1 fails at once, the other parts work slowly. Notes which
    calls are still at work, and whether the work area was there when each one finished."""

    def __init__(self, real: Any):
        self.real = real
        self.lock = threading.Lock()
        self.at_work = 0
        self.finished_with_work_area: list[bool] = []
        self.work_dirs: set[Path] = set()

    def __call__(self, number: int, work_dir: Path, *args: Any) -> Any:
        self.work_dirs.add(work_dir)
        if number == 1:
            raise RuntimeError("part 1 broke on purpose")
        with self.lock:
            self.at_work += 1
        try:
            time.sleep(SLOW_SECONDS)
            return self.real(*args)
        finally:
            with self.lock:
                self.at_work -= 1
                self.finished_with_work_area.append(work_dir.is_dir())


def _assert_settled_before_the_work_area_went(watch: StageWatch) -> None:
    assert watch.at_work == 0, "the run ended while tasks were still writing into its work area"
    assert watch.finished_with_work_area == [True, True]
    [work_dir] = watch.work_dirs
    assert not work_dir.exists()


def test_a_failing_fetch_waits_for_the_slow_fetches_before_the_work_area_goes(
    prefect_harness, make_story, monkeypatch
) -> None:
    import tasks.fetch_assets
    from flows.video import generate_video

    real = tasks.fetch_assets.fetch_and_check_part
    watch = StageWatch(real)
    monkeypatch.setattr(
        tasks.fetch_assets,
        "fetch_and_check_part",
        lambda files, storage, work_dir: watch(files.number, work_dir, files, storage, work_dir),
    )
    story = make_story({1: ["One."], 2: ["Two."], 3: ["Three."]})
    with pytest.raises(RuntimeError, match="part 1 broke on purpose"):
        generate_video(assets_dir=str(story), options=TINY)
    _assert_settled_before_the_work_area_went(watch)
    assert not (story / "video.mp4").exists()


def test_a_failing_lookup_waits_for_the_slow_lookups_before_the_work_area_goes(
    prefect_harness, make_story, monkeypatch
) -> None:
    import tasks.reuse
    from flows.video import generate_video

    watch = StageWatch(tasks.reuse.load_part_clip)
    monkeypatch.setattr(
        tasks.reuse,
        "load_part_clip",
        lambda number, key, store, work_dir: watch(number, work_dir, number, key, store, work_dir),
    )
    story = make_story({1: ["Uno."], 2: ["Dos."], 3: ["Tres."]})
    with pytest.raises(RuntimeError, match="part 1 broke on purpose"):
        generate_video(assets_dir=str(story), options=TINY)
    _assert_settled_before_the_work_area_went(watch)


@pytest.fixture
def full_disk_for_progress(monkeypatch) -> Iterator[list[str]]:
    """video.json writes fail with ENOSPC until assembly starts (progress only; the end of the
    run is written normally). Yields the names whose write failed."""
    import flows.video
    from services.storage import LocalStorage

    failed: list[str] = []
    disk_full = threading.Event()
    disk_full.set()
    real_write, real_assemble = LocalStorage.write_text, flows.video.assemble_video

    def write_text(self, name, text, content_type=None):
        if disk_full.is_set() and name.endswith(".json") and self.root.name == "out":
            failed.append(name)
            raise OSError(errno.ENOSPC, "No space left on device", str(self.root / name))
        return real_write(self, name, text, content_type)

    def assemble(*args, **kwargs):
        disk_full.clear()
        return real_assemble(*args, **kwargs)

    monkeypatch.setattr(LocalStorage, "write_text", write_text)
    monkeypatch.setattr(flows.video, "assemble_video", assemble)
    yield failed


def test_a_progress_write_that_fails_with_an_os_error_does_not_fail_the_run(
    prefect_harness, make_story, tmp_path, full_disk_for_progress, caplog
) -> None:
    from flows.video import generate_video
    from services.record import VideoRecord

    story = make_story({1: ["First picture."], 2: ["Second picture."]})
    out = tmp_path / "out" / "story.mp4"
    out.parent.mkdir()
    result = generate_video(assets_dir=str(story), out=str(out), options=TINY)

    assert full_disk_for_progress, "no progress write was attempted while the disk was full"
    assert "progress not recorded" in caplog.text
    record = VideoRecord.model_validate_json((out.parent / "story.json").read_text())
    assert record.status == "completed" and record.progress == 1.0
    assert result["parts_rendered"] == 2
    cues = media.parse_srt((out.parent / "story.srt").read_text(encoding="utf-8"))
    assert [cue.text for cue in cues] == ["First picture.", "Second picture."]
    for cue, colour in zip(cues, PALETTE, strict=False):
        shown = media.frame_at(out, (cue.start + cue.end) / 2).centre()
        assert media.closest(shown, PALETTE) == colour


class CountingEngine:
    """A speech engine with nothing to say: the Narrator writes silence, so the test measures
    the Narrator's own bookkeeping, not espeak-ng."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def voice_id(self, language: str) -> str:
        return f"counting:{language}"

    def synthesize(self, text: str, language: str, target_dir: Path) -> Path:
        with self.lock:
            self.calls += 1
        raise NothingToSay(text)


def test_the_count_of_synthesized_pages_is_exact_with_many_threads_narrating(
    tmp_path: Path,
) -> None:
    engine = CountingEngine()
    narrator = Narrator(engine, tmp_path / "speech")  # type: ignore[arg-type]
    threads, texts_each = 16, 60
    # Every thread says its own texts and some that all threads share.
    texts = [
        [f"thread {t} page {k}" if k % 3 else f"shared page {k}" for k in range(texts_each)]
        for t in range(threads)
    ]
    start = threading.Barrier(threads)

    def narrate(own: list[str]) -> None:
        start.wait()
        for text in own:
            narrator.narrate(text, "en")

    workers = [threading.Thread(target=narrate, args=(own,)) for own in texts]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    distinct = {text for own in texts for text in own}
    assert engine.calls == len(distinct)  # shared pages were synthesized once
    assert narrator.synthesized == len(distinct)
