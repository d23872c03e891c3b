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

from api.runs import RenderRuns, RenderServiceUnavailable
from api.schemas import VideoStatus
from api.status import Summary, summarize
from api.videos import VIDEO_NAME, CreationFiles, LinkError
from services.record import VideoRecord
from services.storage import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

PREVIOUS_VIDEO_NOTE = " The previous video is still available."


class ServiceUnavailable(RuntimeError):
    """Prefect or the bucket cannot answer now; the message is for the caller (503)."""


class CreationNotFound(LookupError):
    """Nothing was uploaded for the creation, so there is nothing to render (404)."""


@dataclass(frozen=True)
class Snapshot:
    latest: FlowRun | None  # the creation's latest API-started run: the base of the next key
    run: FlowRun | None  # the run the answer is about (latest, or a newer one the record names)
    record: VideoRecord | None


class VideoService:
    """What the routes do, independent of HTTP and of who is asking."""

    def __init__(self, runs: RenderRuns, files: CreationFiles):
        self.runs = runs
        self.files = files

    async def status(self, creation_id: str) -> VideoStatus:
        async with _translated_failures():
            snapshot = await self._snapshot(creation_id)
            summary = summarize(snapshot.run, snapshot.record)
            return await self._answer(creation_id, snapshot, summary)

    async def trigger(self, creation_id: str) -> VideoStatus:
        """Start a render unless one is pending or running; answer the status either way."""
        async with _translated_failures():
            snapshot, has_story = await asyncio.gather(
                self._snapshot(creation_id), _in_thread(self.files.has_story, creation_id)
            )
            summary = summarize(snapshot.run, snapshot.record)
            if summary.active:
                return await self._answer(creation_id, snapshot, summary)
            if not has_story:
                raise CreationNotFound(creation_id)
            run = await self.runs.start(creation_id, snapshot.latest)
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
        return Snapshot(latest=latest, run=run, record=record)

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


def _status(summary: Summary, url: str | None, poster_url: str | None = None) -> VideoStatus:
    return VideoStatus(
        status=summary.status,
        message=summary.message,
        progress=summary.progress,
        video_url=url,
        poster_url=poster_url,
    )


def _newer_than(record: VideoRecord, run: FlowRun) -> bool:
    return bool(record.started_at and run.created and record.started_at > run.created)


async def _in_thread(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Blocking storage calls run in worker threads, so one slow bucket call stalls no one else."""
    return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))


@asynccontextmanager
async def _translated_failures() -> AsyncIterator[None]:
    """Prefect and bucket outages become ServiceUnavailable with a sentence; details to the log."""
    try:
        yield
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
