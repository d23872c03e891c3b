"""The API's side of Prefect: find a creation's latest render, start a new one without duplicates.

Flow runs cannot be filtered by parameter values, so every run the API starts carries the tag
`creation:<id>`, and "the latest render of a creation" is the latest run with that tag.

No duplicate renders, also across API processes: a trigger first looks for an active run of the
creation and returns it. Triggers that arrive together all find none, so each asks Prefect to
start a run with the idempotency key `<creation id>:<id of the creation's latest run, or first>`.
They compute the same key, and Prefect's database lets exactly one run have it; the others get
that run back. Once it ends, the next trigger computes a new key (the ended run's id) and starts
a new run. A bare creation id would be the wrong key: Prefect keeps a key forever, so the
creation could never be rendered again.
"""

from __future__ import annotations

import logging
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import FlowRunSort
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

log = logging.getLogger(__name__)

FLOW_NAME = "generate-video"


class RenderServiceUnavailable(RuntimeError):
    """Prefect cannot take or answer requests now; the caller should try again later."""


def creation_tag(creation_id: str) -> str:
    return f"creation:{creation_id}"


def idempotency_key(creation_id: str, latest: FlowRun | None) -> str:
    """The same for every trigger between two renders of a creation; new after each render."""
    return f"{creation_id}:{latest.id if latest else 'first'}"


class RenderRuns:
    """Reads and starts `generate-video` runs through one Prefect client (open it before use)."""

    def __init__(self, deployment: str, client: PrefectClient | None = None):
        self.deployment = deployment
        self._client = client
        self._owns_client = client is None

    async def open(self) -> None:
        if self._client is None:
            self._client = get_client()
        if self._owns_client:
            await self._client.__aenter__()

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.__aexit__(None, None, None)
            self._client = None

    @property
    def client(self) -> PrefectClient:
        if self._client is None:
            raise RuntimeError("RenderRuns used before open()")
        return self._client

    async def latest(self, creation_id: str) -> FlowRun | None:
        """The creation's most recent run started by the API (any state), or None."""
        runs = await self.client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[creation_tag(creation_id)])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
        return runs[0] if runs else None

    async def read(self, flow_run_id: str) -> FlowRun | None:
        """A run by id (e.g. the one a record names), or None when Prefect does not know it."""
        try:
            return await self.client.read_flow_run(UUID(flow_run_id))
        except (ObjectNotFound, ValueError):
            return None

    async def start(self, creation_id: str, latest: FlowRun | None) -> FlowRun:
        """Start a render of the creation, or get the one a concurrent trigger just started."""
        try:
            flow_run = await run_deployment(  # type: ignore[misc]
                self.deployment,
                client=self.client,
                parameters={"creation_id": creation_id},
                timeout=0,
                tags=[creation_tag(creation_id)],
                idempotency_key=idempotency_key(creation_id, latest),
                as_subflow=False,
            )
        except ObjectNotFound as error:
            log.error(
                "deployment %s does not exist on the Prefect server (set VIDEO_DEPLOYMENT, or "
                "deploy it: prefect deploy)",
                self.deployment,
            )
            raise RenderServiceUnavailable(
                "Video rendering is not set up on this server; tell an operator."
            ) from error
        log.info("creation %s: flow run %s (%s)", creation_id, flow_run.id, flow_run.state_name)
        return flow_run
