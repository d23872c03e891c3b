"""Which failures are worth another try, for the tasks' retry declarations.

Storage and speech errors carry a `transient` flag; network-level errors from the Google client
libraries are transient by nature. Everything else (a bad story, a missing file) fails at once.
"""

from __future__ import annotations

from typing import Any

# Exponential backoff: 1, 2, 4, 8 seconds (tasks add jitter on top).
RETRY_DELAYS: list[float] = [1.0, 2.0, 4.0, 8.0]

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
    "TransportError",
    "ChunkedEncodingError",
    "ProtocolError",
}


def exception_is_transient(error: BaseException) -> bool:
    flag = getattr(error, "transient", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    return any(cls.__name__ in _TRANSIENT_TYPE_NAMES for cls in type(error).__mro__)


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry_condition_fn: retry only errors that may pass."""
    try:
        state.result()
    except BaseException as error:  # noqa: BLE001 - we classify, not handle
        return exception_is_transient(error)
    return False
