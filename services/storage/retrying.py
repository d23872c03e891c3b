"""Which failures are worth another try, for the tasks' retry declarations.

Storage and speech errors carry a `transient` flag; network-level errors from the Google client
libraries are transient by nature. Everything else (a bad story, a missing file) fails at once.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# Exponential backoff: 1, 2, 4, 8 seconds (tasks add jitter on top).
RETRY_DELAYS: list[float] = [1.0, 2.0, 4.0, 8.0]

# HTTP answers worth another try (throttling, server trouble, request timeout).
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}

# Network trouble below HTTP and the Google client libraries' names for passing trouble, by class
# name, so this module imports no client library.
_TRANSIENT_TYPE_NAMES = {
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "ServiceUnavailable",
    "TooManyRequests",
    "InternalServerError",
    "BadGateway",
    "GatewayTimeout",
    "RetryError",
    "TransportError",  # google.auth: the metadata server did not answer
    "ChunkedEncodingError",
    "ProtocolError",
    "PoolError",
    "SSLError",
    "DataCorruption",  # checksum mismatch on download: the bytes got damaged on the way
    "IncompleteRead",
    "BadStatusLine",
    "ResponseNotReady",
}


def http_status_of(error: BaseException) -> int | None:
    """The HTTP status a client library's error carries (google-api-core `code`, or a
    requests/httpx `response.status_code`), if any."""
    code = getattr(error, "code", None)
    if isinstance(code, int) and not isinstance(error, SystemExit):
        return code
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def exception_is_transient(error: BaseException) -> bool:
    """The one rule, for every caller (tasks, the run record, storage): may trying again help?"""
    flag = getattr(error, "transient", None)
    if isinstance(flag, bool):
        return flag
    status = http_status_of(error)
    if status is not None:
        return status in TRANSIENT_STATUS
    if isinstance(error, ConnectionError | TimeoutError | http.client.HTTPException):
        return True
    return any(cls.__name__ in _TRANSIENT_TYPE_NAMES for cls in type(error).__mro__)


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry_condition_fn: retry only errors that may pass."""
    try:
        state.result()
    except BaseException as error:  # noqa: BLE001 - we classify, not handle
        return exception_is_transient(error)
    return False


def call_with_retries(
    action: Callable[[], T],
    *,
    what: str,
    delays: Sequence[float] = RETRY_DELAYS,
    jitter: float = 0.5,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> T:
    """Run `action`; after a transient failure wait (backoff plus up to `jitter` more) and try
    again, at most len(delays) more times. For calls outside a Prefect task (the run record)."""
    log = logger or logging.getLogger(__name__)
    for attempt, delay in enumerate([*delays, None], start=1):
        try:
            return action()
        except Exception as error:
            if delay is None or not exception_is_transient(error):
                raise
            wait = delay * random.uniform(1.0, 1.0 + jitter)
            log.warning(
                "could not %s (attempt %d of %d): %s; trying again in %.1f s",
                what,
                attempt,
                len(delays) + 1,
                error,
                wait,
            )
            time.sleep(wait)
    raise AssertionError("unreachable")


# Declared on every task that talks to storage or a speech service: a transient failure is tried
# again, 1-2-4-8 s apart with jitter; a permanent one fails at once.
TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": len(RETRY_DELAYS),
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": is_transient,
}
