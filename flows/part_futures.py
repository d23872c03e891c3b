"""Plumbing between the flow and Prefect's futures: the error of the stage that failed, and
settling the stages still running before the work area goes."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prefect.futures import wait

from services.stages import PartClip

Futures = TypeVar("Futures", bound=list[Any])


def part_result(upstream: list[Any], last: Any) -> PartClip:
    """The last stage's result; when a part failed, the error of the stage that failed (its
    later stages never ran and only say they were not ready)."""
    try:
        clip: PartClip = last.result()
        return clip
    except Exception:
        for stage in upstream:
            stage.result()  # raises the original error of the first stage that failed
        raise


@contextmanager
def settled_on_failure() -> Iterator[Callable[[Futures], Futures]]:
    """Yields `track`, which notes the futures a stage was mapped to (and returns them). When
    the block fails, every tracked stage is settled before the error goes on, so whatever
    encloses the block (the work area) outlives every task that could still write into it."""
    launched: list[Any] = []

    def track(futures: Futures) -> Futures:
        launched.extend(futures)
        return futures

    try:
        yield track
    except Exception:
        settle(launched)
        raise


def settle(futures: list[Any]) -> None:
    """After a failure: drop the stages not started yet, and let the running ones end before
    the work area is removed under them (a part that finishes is kept in the store, so the
    next run does not render it again)."""
    wrapped = [getattr(future, "wrapped_future", None) for future in futures]
    for inner in wrapped:
        if isinstance(inner, concurrent.futures.Future):
            inner.cancel()  # only succeeds for work that has not started
    wait([future for future, inner in zip(futures, wrapped, strict=True) if not _cancelled(inner)])


def _cancelled(inner: Any) -> bool:
    return isinstance(inner, concurrent.futures.Future) and inner.cancelled()
