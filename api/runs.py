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

Options (the story's language, zoom: `StoryOptions`) are not part of the key on purpose: with
them in it, two triggers with different options arriving together would start two renders of
one creation that overwrite each other's video. With the key as it is, exactly one of them
starts a run, and every trigger compares the options of the run it gets (the active one, or the
one a concurrent trigger just started) with its own: the caller decides what to do when they
differ (services.VideoService answers 409). Each run also carries the tag
`options:<digest of its story options>`, to find runs by their options in Prefect's UI.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
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
from pydantic import ValidationError

from services.settings import StoryOptions

log = logging.getLogger(__name__)

FLOW_NAME = "generate-video"


class RenderServiceUnavailable(RuntimeError):
    """Prefect cannot take or answer requests now; the caller should try again later."""


def creation_tag(creation_id: str) -> str:
    return f"creation:{creation_id}"


def options_digest(options: StoryOptions) -> str:
    """A short digest of a render's story options: equal options, equal digest."""
    return hashlib.sha256(options.model_dump_json().encode()).hexdigest()[:12]


def options_tag(options: StoryOptions) -> str:
    return f"options:{options_digest(options)}"


def story_options(run_options: dict[str, Any] | None) -> StoryOptions:
    """The story options inside a run's (or a deployment's) `options` parameter, defaults filled
    in; the operator-only fields (size, encoder) are left out."""
    given = run_options or {}
    return StoryOptions.model_validate(
        {name: given[name] for name in StoryOptions.model_fields if name in given}
    )


def story_options_of(run: FlowRun) -> StoryOptions | None:
    """The story options a run renders with, or None when its parameters do not say (a run
    of an older deployment with options this version does not know)."""
    try:
        return story_options((run.parameters or {}).get("options"))
    except (ValidationError, AttributeError):
        return None


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

    async def deployment_options(self) -> dict[str, Any]:
        """The `options` parameter the deployment renders with when a run gives none."""
        try:
            deployment = await self.client.read_deployment_by_name(self.deployment)
        except ObjectNotFound as error:
            raise self._not_deployed() from error
        return dict((deployment.parameters or {}).get("options") or {})

    def _not_deployed(self) -> RenderServiceUnavailable:
        log.error(
            "deployment %s does not exist on the Prefect server (set VIDEO_DEPLOYMENT, or "
            "deploy it: prefect deploy)",
            self.deployment,
        )
        return RenderServiceUnavailable(
            "Video rendering is not set up on this server; tell an operator."
        )

    async def start(
        self,
        creation_id: str,
        latest: FlowRun | None,
        options: dict[str, Any] | None = None,
        story: StoryOptions | None = None,
    ) -> FlowRun:
        """Start a render of the creation, or get the one a concurrent trigger just started.

        `options` is the run's whole `options` parameter (None: the deployment's own), `story`
        the story options it amounts to (for the tag)."""
        parameters: dict[str, Any] = {"creation_id": creation_id}
        if options is not None:
            parameters["options"] = options
        tags = [creation_tag(creation_id), options_tag(story or StoryOptions())]
        try:
            flow_run: FlowRun = await run_deployment(  # type: ignore[misc]
                self.deployment,
                client=self.client,
                parameters=parameters,
                timeout=0,
                tags=tags,
                idempotency_key=idempotency_key(creation_id, latest),
                as_subflow=False,
            )
        except ObjectNotFound as error:
            raise self._not_deployed() from error
        log.info("creation %s: flow run %s (%s)", creation_id, flow_run.id, flow_run.state_name)
        return flow_run
