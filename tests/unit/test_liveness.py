"""The API's bound on waiting (api/liveness.py): a busy service that still answers its probe is
waited for; a service that answers nothing, not even the probe, is given up within 5 s."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.liveness import Liveness, ServiceSilent


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(503)  # an error status is an answer too
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


@pytest.fixture
def frozen_url() -> Iterator[str]:
    """A port that accepts connections and never answers (like a SIGSTOPped server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/health"
    listener.close()


async def _slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "answered"


def test_a_busy_service_that_answers_its_probe_is_waited_for(answering_url: str) -> None:
    liveness = Liveness("busy", lambda: answering_url, silence_seconds=0.5, probe_seconds=0.5)
    assert asyncio.run(liveness.call(_slow(2.0))) == "answered"


def test_a_frozen_service_is_given_up_within_the_silence_and_the_probe(frozen_url: str) -> None:
    liveness = Liveness("frozen", lambda: frozen_url, silence_seconds=0.5, probe_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(ServiceSilent, match="frozen answered nothing"):
        asyncio.run(liveness.call(_slow(30.0)))
    assert time.monotonic() - started < 3.0  # a bound against hanging, not a timing goal


def test_without_a_probe_silence_alone_decides() -> None:
    liveness = Liveness("no probe", None, silence_seconds=0.3)
    with pytest.raises(ServiceSilent):
        asyncio.run(liveness.call(_slow(30.0)))


def test_the_defaults_keep_the_promise_of_a_503_within_5_s() -> None:
    liveness = Liveness("defaults")
    assert liveness.silence_seconds + liveness.probe_seconds <= 4.5
