"""Whether Prefect or the bucket is still there: the API's bound on waiting for them.

A service is taken for gone when it has answered none of this process's calls for
`silence_seconds` while one waits: a stopped or frozen Prefect server, or a bucket that accepts
connections and answers nothing, is a 503 within 5 s. A service that is slow because it is busy
(a burst of triggers on a small machine) keeps answering other calls, so a call to it may take
longer, up to the service's safety net (api/service.py, ANSWER_SECONDS). A single fixed timeout per
call could not tell the two apart: 4 s turned a burst of 20 triggers into 503s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Liveness:
    """The time of a service's latest answer to any call, and calls bounded by its silence."""

    def __init__(self, name: str, silence_seconds: float = 4.0):
        self.name = name
        self.silence_seconds = silence_seconds
        self._last_answer = 0.0  # loop time of the latest answer (an error is an answer too)

    async def call(self, call: Awaitable[T]) -> T:
        """The answer of `call`, or TimeoutError once the service has answered nothing at all
        for `silence_seconds` (the call is then cancelled; a thread is abandoned and ends by
        its own request timeout)."""
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(call)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.silence_seconds)
                if done:
                    self._last_answer = loop.time()
                    return task.result()
                if loop.time() - self._last_answer >= self.silence_seconds:
                    raise TimeoutError(f"{self.name} answered nothing in time")
        finally:
            if not task.done():
                task.cancel()
