"""One answer from two sources: the latest Prefect flow run of a creation and its `video.json`.

Prefect knows whether a run is queued, running, or ended and how (including crashes and
cancellations that the flow itself never got to record); the record knows the details the flow
wrote: parts done, the human-readable reason for a failure, the video's length. Every Prefect
state type maps to exactly one of the contract's status values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prefect.client.schemas.objects import FlowRun, StateType

from services.record import Status, VideoRecord

PENDING_STATES = {StateType.SCHEDULED, StateType.PENDING, StateType.PAUSED}
RUNNING_STATES = {StateType.RUNNING, StateType.CANCELLING}
ACTIVE_STATES = PENDING_STATES | RUNNING_STATES

MESSAGE_LIMIT = 500

NOT_FOUND_MESSAGE = "No video has been requested for this creation yet."
CANCELLED_MESSAGE = "The render was cancelled. Start it again to make the video."
CRASHED_MESSAGE = (
    "The render stopped unexpectedly (its machine crashed, ran out of memory or time). "
    "Start it again; if that fails too, tell an operator."
)
FAILED_MESSAGE = "The render failed. Start it again; if that fails too, tell an operator."


@dataclass(frozen=True)
class Summary:
    """The contract's status with its message and progress; `active` blocks a second render."""

    status: Status
    message: str
    progress: float
    active: bool = False


def summarize(run: FlowRun | None, record: VideoRecord | None) -> Summary:
    """The status of a creation whose latest known run is `run` and whose record is `record`."""
    if run is None:
        return _from_record_alone(record)
    own_record = record if record and record.flow_run_id == str(run.id) else None
    state_type = run.state.type if run.state else StateType.PENDING
    state_name = (run.state.name if run.state else None) or ""

    if state_type in ACTIVE_STATES and own_record and own_record.status in ("completed", "failed"):
        # The flow wrote its final record; Prefect's final state follows a moment later.
        return _from_record_alone(own_record)
    if state_type in PENDING_STATES:
        return Summary("pending", _pending_message(state_type, state_name), 0.0, active=True)
    if state_type in RUNNING_STATES:
        progress = own_record.progress if own_record else 0.0
        message = (
            "The render is being cancelled."
            if state_type == StateType.CANCELLING
            else _running_message(own_record)
        )
        return Summary("running", message, progress, active=True)
    if state_type == StateType.COMPLETED:
        return Summary("completed", _completed_message(own_record), 1.0)
    progress = own_record.progress if own_record else 0.0
    if state_type == StateType.CANCELLED:
        return Summary("failed", CANCELLED_MESSAGE, progress)
    if state_type == StateType.CRASHED:
        return Summary("failed", CRASHED_MESSAGE, progress)
    # FAILED: the flow's own words (they name the part and file) beat Prefect's summary of them.
    reason = (own_record.error if own_record else None) or _prefect_reason(run)
    return Summary("failed", _failed_message(reason), progress)


def _from_record_alone(record: VideoRecord | None) -> Summary:
    """No Prefect run to consult (e.g. a run started outside the API): the record is all we know."""
    if record is None or record.status == "not_found":
        return Summary("not_found", NOT_FOUND_MESSAGE, 0.0)
    if record.status == "completed":
        return Summary("completed", _completed_message(record), 1.0)
    if record.status == "failed":
        return Summary("failed", _failed_message(record.error), record.progress)
    if record.status == "pending":
        return Summary("pending", "The render is queued and will start shortly.", 0.0)
    return Summary("running", _running_message(record), record.progress)


def _pending_message(state_type: StateType, state_name: str) -> str:
    if state_type == StateType.PAUSED:
        return "The render is paused; it goes on when an operator resumes it."
    if state_name == "AwaitingRetry":
        return "The render hit a problem and will try again shortly."
    if state_name in ("Late", "AwaitingConcurrencySlot"):
        return "The render is queued and waiting for a free machine."
    return "The render is queued and will start shortly."


def _running_message(record: VideoRecord | None) -> str:
    if record is None or not record.parts:
        return "Rendering: reading the story."
    return f"Rendering: {record.parts_done} of {record.parts} parts done."


def _completed_message(record: VideoRecord | None) -> str:
    if record and record.duration_seconds:
        return f"The video is ready ({record.duration_seconds:.0f} s)."
    return "The video is ready."


def _failed_message(reason: str | None) -> str:
    reason = plain_message(reason)
    if not reason:
        return FAILED_MESSAGE
    return f"The render failed: {reason}"


_PREFECT_PREFIX = re.compile(r"^Flow run encountered an exception[.:]?\s*", re.IGNORECASE)
_EXCEPTION_NAME = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Signal)\b:?\s*")


def _prefect_reason(run: FlowRun) -> str | None:
    message = run.state.message if run.state else None
    if not message:
        return None
    return _PREFECT_PREFIX.sub("", message.strip())


def plain_message(text: str | None) -> str:
    """One line for a person: no traceback, no exception class name, bounded length."""
    if not text:
        return ""
    text = text.split("Traceback (most recent call last)", 1)[0]
    text = " ".join(text.split())
    text = _EXCEPTION_NAME.sub("", text)
    if len(text) > MESSAGE_LIMIT:
        text = text[: MESSAGE_LIMIT - 1].rstrip() + "…"
    return text
