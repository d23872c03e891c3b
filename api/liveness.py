"""Whether Prefect or the bucket is still there: the API's bound on waiting for them.

A call waits while its service shows signs of life. When the service has answered none of this
process's calls for `silence_seconds`, a probe asks it directly (one plain HTTP request, where any
HTTP answer, even an error status, means it is there): a stopped or frozen Prefect server, or a
bucket that accepts connections and answers nothing, leaves the probe unanswered too and is a 503
within 5 s. A service that is slow because it is busy (a burst of triggers on a small machine, a
Prefect server writing a finished run's events) answers the probe, so the call may take longer, up
to the service's safety net (api/service.py, ANSWER_SECONDS). A single fixed timeout per call could
not tell the two apart: 4 s turned a burst of 20 triggers, and a busy test server, into 503s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")
log = logging.getLogger(__name__)

SILENCE_SECONDS = 2.0  # no answer to any call for this long: probe
PROBE_SECONDS = 2.5  # the probe's own bound: 2 + 2.5 s stays inside the 5 s promise


class ServiceSilent(TimeoutError):
    """The service answered nothing, not even the probe."""


class Liveness:
    """The time of a service's latest answer to any call, and calls bounded by its silence.

    `probe_url` gives the address to probe (None: no probe, silence alone decides)."""

    def __init__(
        self,
        name: str,
        probe_url: Callable[[], str | None] | None = None,
        *,
        silence_seconds: float = SILENCE_SECONDS,
        probe_seconds: float = PROBE_SECONDS,
    ):
        self.name = name
        self.probe_url = probe_url
        self.silence_seconds = silence_seconds
        self.probe_seconds = probe_seconds
        self._last_answer = 0.0  # loop time of the latest sign of life (an error is one too)
        self._probing: asyncio.Task[bool] | None = None

    async def call(self, call: Awaitable[T]) -> T:
        """The answer of `call`, or ServiceSilent once the service has shown no sign of life for
        `silence_seconds` and then none while a probe waited (the call is then cancelled; a
        thread is abandoned and ends by its own request timeout)."""
        loop = asyncio.get_running_loop()
        if not self._last_answer:  # the first call: its silence counts from now
            self._last_answer = loop.time()
        task = asyncio.ensure_future(call)
        try:
            while True:
                wait = max(0.05, self._last_answer + self.silence_seconds - loop.time())
                await asyncio.wait({task}, timeout=wait)
                if task.done():
                    self._last_answer = loop.time()
                    return task.result()
                if loop.time() - self._last_answer < self.silence_seconds:
                    continue  # another call was answered meanwhile
                probe = self._probe_task(loop)
                await asyncio.wait({task, probe}, return_when=asyncio.FIRST_COMPLETED)
                if task.done():
                    continue  # answered while the probe waited
                if probe.result() or loop.time() - self._last_answer < self.silence_seconds:
                    continue  # there, only slow
                raise ServiceSilent(f"{self.name} answered nothing in time")
        finally:
            if not task.done():
                task.cancel()

    def _probe_task(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[bool]:
        """The probe in flight, shared by every call waiting in this loop (a swamped service is
        not sent one probe per waiting call), or a new one."""
        probe = self._probing
        if probe is None or probe.done() or probe.get_loop() is not loop:
            probe = self._probing = loop.create_task(self._probe())
        return probe

    async def _probe(self) -> bool:
        """Whether the service answers one plain request within `probe_seconds` (and if it does,
        that is its latest sign of life)."""
        url = self.probe_url() if self.probe_url else None
        if not url:
            await asyncio.sleep(self.probe_seconds)  # silence alone decides, after the same wait
            return False
        try:
            async with httpx.AsyncClient(timeout=self.probe_seconds) as client:
                await asyncio.wait_for(client.get(url), self.probe_seconds)
        except (httpx.HTTPError, TimeoutError, OSError) as error:
            log.info("%s: no answer to a probe of %s (%s)", self.name, url, type(error).__name__)
            return False
        self._last_answer = asyncio.get_running_loop().time()
        log.info("%s: slow to answer, but there (a probe of %s was answered)", self.name, url)
        return True
