"""The run's record, `video.json`, as the flow keeps it: written at the start (creations), after
each finished part, and at the end (published with the outputs), with retries where a caller
cannot do without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.exceptions import TerminationSignal

from services.record import VideoRecord, now
from services.storage.base import StorageError
from services.storage.retrying import call_with_retries, exception_is_transient
from services.storage.sources import RenderTarget


class RunRecord:
    """This run's `video.json`: what callers poll. Written at the start (creations), after each
    finished part, and at the end together with the outputs, with retries where it matters."""

    # Recording a failure is the one write a caller cannot do without: try for about a minute.
    FINAL_DELAYS = [1.0, 2.0, 4.0, 8.0, 15.0, 30.0]

    def __init__(self, target: RenderTarget, record: VideoRecord, logger: Any):
        self.target = target
        self.record = record
        self.logger = logger
        self.written = False

    @property
    def where(self) -> str:
        return self.target.outputs.describe(self.target.names.record)

    def _write(self) -> None:
        self.target.outputs.write_text(
            self.target.names.record, self.record.to_json(), "application/json"
        )
        self.written = True

    def start(self) -> None:
        """The first write of a creation's record: `running`, with the story's input hashes and
        the facts of the last completed render (its video stays until this one replaces it)."""
        earlier = call_with_retries(
            lambda: self.target.outputs.read_text(self.target.names.record),
            what=f"read {self.where}",
            logger=self.logger,
        )
        self.record = self.record.changed(
            last_completed=_last_good(earlier, self.logger),
            inputs=_input_hashes(self.target, self.logger),
        )
        call_with_retries(self._write, what=f"write {self.where}", logger=self.logger)

    def update(self, **changes: Any) -> None:
        """Progress: one attempt; a missed update is logged, and the next one catches up.

        Only where callers poll (creations): a local record is written once, with the outputs
        it describes, so a failed run leaves the previous video, captions and record together.
        A failed write (a StorageError: a bucket's, or a local disk's OSError as LocalStorage
        reports it) is logged and does not fail the run."""
        self.record = self.record.changed(**changes)  # a wrong field or value: ValueError
        if not self.target.record_from_start:
            return
        try:
            self._write()
        except StorageError as error:
            self.logger.warning("progress not recorded in %s: %s", self.where, error)

    def complete(self, publish: Callable[[str], None], **changes: Any) -> None:
        """The final record goes out with the outputs, in the same set (`publish` gets its
        text), so the record always describes the video beside it."""
        record = self.record.changed(
            status="completed", finished_at=now(), progress=1.0, last_completed=None, **changes
        )
        publish(record.to_json())
        self.record, self.written = record, True

    def fail(self, error: BaseException) -> None:
        """Record the failure; if even that cannot be written, say so in the log and go on
        (the original error is what the caller must see)."""
        self.record = self.record.changed(
            status="failed", finished_at=now(), error=failure_message(error)
        )
        try:
            call_with_retries(
                self._write,
                what=f"record the failure in {self.where}",
                delays=self.FINAL_DELAYS,
                logger=self.logger,
            )
        except Exception as problem:  # noqa: BLE001 - logged; the run's own error is raised
            self.logger.error("the failure could not be recorded in %s: %s", self.where, problem)


def _last_good(text: str | None, logger: Any) -> VideoRecord | None:
    """The last completed render's record, from the record an earlier run left (if readable)."""
    if text is None:
        return None
    try:
        return VideoRecord.from_json(text).last_good()
    except ValueError as error:
        logger.warning("the earlier video.json is unreadable, its facts are not kept: %s", error)
        return None


def _input_hashes(target: RenderTarget, logger: Any) -> dict[str, str] | None:
    """The story's files and their MD5s, from one bucket listing (None for a local folder)."""
    from services.storage.bucket import GcsStorage

    if not isinstance(target.assets, GcsStorage):
        return None
    assets = target.assets
    return call_with_retries(assets.input_hashes, what=f"list {assets.describe()}", logger=logger)


def failure_message(error: BaseException) -> str:
    """One line a person can act on."""
    if isinstance(error, KeyboardInterrupt | TerminationSignal):
        # Prefect turns SIGTERM (Cloud Run's timeout or cancel) into TerminationSignal.
        return "the run was interrupted (stopped, cancelled or timed out) before it finished"
    text = " ".join(str(error).split()) or type(error).__name__
    if exception_is_transient(error):
        text += " (still failing after several tries; run it again later)"
    return text
