"""The flow when something fails part-way, and shared state under concurrent parts.

- A part that fails while other parts are still being fetched or looked up: every task still at
  work ends before the run's work area is removed, and the run fails with that part's error.
- A progress write that meets a disk's OSError is logged, and the next one catches up.
- The Narrator's count of synthesized pages is exact with many threads narrating at once (the
  count is now kept under a lock; CPython's GIL happens to make the bare `+=` atomic enough that
  this test passed without it too, so it guards the count, not that lock).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from services.media.speech import Narrator, NothingToSay
from services.settings import RenderOptions

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


def test_a_progress_write_that_fails_with_an_os_error_is_logged_and_the_next_catches_up(
    tmp_path: Path, caplog
) -> None:
    """Progress is written only where callers poll it (a creation's record, from the start).
    A storage on this machine's disk meets plain OSErrors (full disk, a file where a folder
    should be; LocalStorage reports them as StorageError); that must not fail the run: the
    update is logged, and the next one writes the whole record."""
    import logging

    from flows.run_record import RunRecord
    from services.record import VideoRecord
    from services.storage.folder import LocalStorage
    from services.storage.sources import OutputNames, RenderTarget

    outputs = tmp_path / "outputs"
    outputs.write_text("a file where the output folder should be")
    target = RenderTarget(
        assets=LocalStorage(tmp_path / "story"),
        outputs=LocalStorage(outputs / "sub"),
        names=OutputNames(),
        record_from_start=True,
    )
    logger = logging.getLogger("test.progress")
    run = RunRecord(target, VideoRecord(status="running"), logger)
    with caplog.at_level(logging.WARNING, logger="test.progress"):
        run.update(parts=3, parts_done=1, progress=0.3333)  # must not raise
    assert "progress not recorded" in caplog.text
    assert not run.written

    outputs.unlink()  # the disk is usable again
    run.update(parts_done=2, progress=0.6667)
    record = VideoRecord.model_validate_json((outputs / "sub" / "video.json").read_text())
    assert (record.parts, record.parts_done, record.progress) == (3, 2, 0.6667)


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
