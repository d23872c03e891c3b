"""Status and trigger for one creation: Prefect's runs and the bucket's record, put together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
import httpx
from prefect.client.schemas.objects import FlowRun
from pydantic import ValidationError

from api.liveness import Liveness, ServiceSilent
from api.runs import RenderRuns, RenderServiceUnavailable, story_options, story_options_of
from api.schemas import VideoStatus
from api.status import CRASHED_MESSAGE, Summary, summarize
from api.videos import VIDEO_NAME, CreationFiles, LinkError
from services.record import VideoRecord
from services.settings import StoryOptions
from services.storage import bucket as gcs_bucket
from services.storage.base import StorageError, holds_story

log = logging.getLogger(__name__)

T = TypeVar("T")

PREVIOUS_VIDEO_NOTE = " The previous video is still available."


class ServiceUnavailable(RuntimeError):
    """Prefect or the bucket cannot answer now; the message is for the caller (503)."""


class CreationNotFound(LookupError):
    """Nothing was uploaded for the creation, so there is nothing to render (404)."""


class OptionsConflict(RuntimeError):
    """A render of the creation with other story options is pending or running (409); the
    message names its options."""


@dataclass(frozen=True)
class Snapshot:
    latest: FlowRun | None  # the creation's latest API-started run: the base of the next key
    run: FlowRun | None  # the run the answer is about (latest, or a newer one the record names)
    record: VideoRecord | None
    stale: bool = False  # `run` says RUNNING, but its heartbeats stopped: its machine is gone

    def summary(self) -> Summary:
        own = self.record and self.run and self.record.flow_run_id == str(self.run.id)
        finished = own and self.record and self.record.status in ("completed", "failed")
        if self.stale and not finished:  # a run that wrote its end has ended, heartbeat or not
            progress = self.record.progress if self.record else 0.0
            return Summary("failed", CRASHED_MESSAGE, progress)
        return summarize(self.run, self.record)


# A safety net over api/liveness.py (which makes an outage a 503 within 5 s): a request that is
# still not answered after this, however busy Prefect and the bucket are, is a 503 too.
ANSWER_SECONDS = 60.0


class VideoService:
    """What the routes do, independent of HTTP and of who is asking."""

    def __init__(self, runs: RenderRuns, files: CreationFiles, *, answer_seconds: float = 0.0):
        self.runs = runs
        self.files = files
        self.answer_seconds = answer_seconds or ANSWER_SECONDS

    async def status(self, creation_id: str) -> VideoStatus:
        async with _translated_failures(self.answer_seconds):
            snapshot = await self._snapshot(creation_id)
            return await self._answer(creation_id, snapshot, snapshot.summary())

    async def trigger(self, creation_id: str, requested: StoryOptions | None = None) -> VideoStatus:
        """Start a render unless one is pending or running; answer the status either way.

        `requested` holds the options the caller chose (unset fields: the deployment's own, then
        the defaults). A pending or running render with other story options is not returned as
        if it were this one: OptionsConflict names its options. When the last render completed
        with the same options and the story's files are unchanged (their hashes in the bucket's
        listing equal those the record kept), the answer is that render: no new run."""
        given = (requested or StoryOptions()).model_dump(mode="json", exclude_unset=True)
        async with _translated_failures(self.answer_seconds):
            snapshot, inputs, defaults = await asyncio.gather(
                self._snapshot(creation_id),
                _in_thread(self.files.input_hashes, creation_id),
                self.runs.deployment_options(),
            )
            run_options = {**defaults, **given} if given else None
            wanted = _wanted_options(run_options if run_options is not None else defaults)
            summary = snapshot.summary()
            if summary.active:
                _same_options_or_conflict(snapshot.run, wanted)
                return await self._answer(creation_id, snapshot, summary)
            if not holds_story(inputs):
                raise CreationNotFound(creation_id)
            if _up_to_date(snapshot, inputs, run_options or defaults, defaults):
                return await self._answer(creation_id, snapshot, summary)
            if snapshot.stale and snapshot.run is not None:
                await self.runs.crash(snapshot.run)
            run = await self.runs.start(creation_id, snapshot.latest, run_options, wanted)
            # A concurrent trigger may have started this run, with its own options.
            _same_options_or_conflict(run, wanted)
            started = Snapshot(latest=run, run=run, record=snapshot.record)
            return await self._answer(creation_id, started, summarize(run, snapshot.record))

    async def _snapshot(self, creation_id: str) -> Snapshot:
        latest, record = await asyncio.gather(
            self.runs.latest(creation_id), _in_thread(self.files.read_record, creation_id)
        )
        run = latest
        other_run = record.flow_run_id if record else None
        if record and other_run and (latest is None or str(latest.id) != other_run):
            if latest is None or _newer_than(record, latest):
                # The record is about a run the API did not start (the CLI, a plain Cloud Run
                # job); Prefect may still know how that run is doing, e.g. that it crashed.
                run = await self.runs.read(other_run)
        stale = run is not None and await self.runs.is_stale(run)
        return Snapshot(latest=latest, run=run, record=record, stale=stale)

    async def _answer(self, creation_id: str, snapshot: Snapshot, summary: Summary) -> VideoStatus:
        record = snapshot.record
        name = (record.video if record and record.video else None) or VIDEO_NAME
        poster = record.poster if record else None
        if summary.status == "completed":
            url = await _in_thread(self.files.video_link, creation_id, name, check=False)
            poster_url = None
            if poster:
                poster_url = await _in_thread(
                    self.files.video_link, creation_id, poster, check=False
                )
            return _status(summary, url, poster_url)
        # Not (yet) a new video: link the one already there, if any. A failed re-render leaves
        # the earlier video in place, and a video made by the predecessor system has no record.
        url = await _in_thread(self.files.video_link, creation_id, name, check=True)
        if url is None:
            return _status(summary, None)
        poster_url = None
        if poster:  # the earlier video may predate posters
            poster_url = await _in_thread(self.files.video_link, creation_id, poster, check=True)
        if summary.status == "not_found":
            return VideoStatus(
                status="completed",
                message="The video is ready.",
                progress=1.0,
                video_url=url,
                poster_url=poster_url,
            )
        message = summary.message
        if summary.status == "failed":
            message += PREVIOUS_VIDEO_NOTE
        return VideoStatus(
            status=summary.status,
            message=message,
            progress=summary.progress,
            video_url=url,
            poster_url=poster_url,
        )


def _wanted_options(run_options: dict[str, object]) -> StoryOptions:
    try:
        return story_options(run_options)
    except ValidationError as error:
        # The caller's own fields were checked already: the deployment's defaults are wrong.
        log.error("the deployment's options are not valid story options: %s", error)
        raise RenderServiceUnavailable(
            "Video rendering is not set up correctly on this server; tell an operator."
        ) from error


ALWAYS_DESCRIBED = ("language", "zoom")


def describe_options(options: StoryOptions) -> str:
    """`language de, zoom off`: a render's story options in words (the look and music options
    only where they differ from the defaults, so the sentence stays short)."""
    defaults = StoryOptions().model_dump(mode="json")
    words = []
    for name, value in options.model_dump(mode="json").items():
        if name not in ALWAYS_DESCRIBED and value == defaults[name]:
            continue
        shown = ("on" if value else "off") if isinstance(value, bool) else value
        words.append(f"{name} {shown}")
    return ", ".join(words)


def _same_options_or_conflict(run: FlowRun | None, wanted: StoryOptions) -> None:
    """Nothing when `run` renders with `wanted` (or says nothing of its options)."""
    running = story_options_of(run) if run is not None else None
    if running is not None and running != wanted:
        raise OptionsConflict(
            f"A render of this creation with other options ({describe_options(running)}) is "
            f"already under way; ask again with {describe_options(wanted)} once it has ended."
        )


def _status(summary: Summary, url: str | None, poster_url: str | None = None) -> VideoStatus:
    return VideoStatus(
        status=summary.status,
        message=summary.message,
        progress=summary.progress,
        video_url=url,
        poster_url=poster_url,
    )


def _up_to_date(
    snapshot: Snapshot,
    inputs: dict[str, str],
    options: dict[str, object],
    defaults: dict[str, object],
) -> bool:
    """Whether the creation's video is the render of exactly these files with these options:
    its run wrote the record `completed`, with the same input hashes and options."""
    run, record = snapshot.run, snapshot.record
    if run is None or record is None or record.status != "completed" or not record.inputs:
        return False
    # The record is written `completed` once the outputs are published; the run may still be
    # reporting (its result artifacts), so its own state is not waited for.
    if str(run.id) != record.flow_run_id:
        return False
    ran_with = (run.parameters or {}).get("options") or defaults
    try:  # compared as the story options they mean: a run's parameters may spell out defaults
        same = story_options(ran_with) == story_options(options)
    except ValidationError:
        return False
    return same and record.inputs == inputs


def _newer_than(record: VideoRecord, run: FlowRun) -> bool:
    return bool(record.started_at and run.created and record.started_at > run.created)


# One per process: all its calls tell whether the bucket answers.
BUCKET = Liveness("the bucket", gcs_bucket.endpoint)


async def _in_thread(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Blocking storage calls run in worker threads, so one slow bucket call stalls no one else.
    While the bucket answers nothing (api/liveness.py) the caller gives up within 4 s and does not
    wait for the thread: the call ends by its own request timeout (API_BUCKET_TIMEOUT)."""
    return await BUCKET.call(
        anyio.to_thread.run_sync(lambda: function(*args, **kwargs), abandon_on_cancel=True)
    )


@asynccontextmanager
async def _translated_failures(seconds: float) -> AsyncIterator[None]:
    """Prefect and bucket outages become ServiceUnavailable with a sentence; details to the log.
    Everything inside must be done within `seconds`, or the answer is that it was not."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except ServiceSilent as error:
        log.warning("%s", error)
        raise ServiceUnavailable(
            "The render service or the video store did not answer in time; try again in a minute."
        ) from error
    except TimeoutError as error:
        log.warning("Prefect and the bucket answered, but not all within %.0f s", seconds)
        raise ServiceUnavailable(
            "The render service or the video store did not answer in time; try again in a minute."
        ) from error
    except RenderServiceUnavailable as error:
        raise ServiceUnavailable(str(error)) from error
    except httpx.HTTPError as error:
        log.warning("Prefect API failed: %s", error)
        raise ServiceUnavailable(
            "The render service cannot be reached right now; try again in a minute."
        ) from error
    except StorageError as error:
        log.warning("bucket failed: %s", error)
        raise ServiceUnavailable(
            "The video store cannot be reached right now; try again in a minute."
        ) from error
    except LinkError as error:
        log.error("%s", error)
        raise ServiceUnavailable(
            "The video exists but no link to it can be made; tell an operator."
        ) from error
