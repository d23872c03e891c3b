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
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.deployments import run_deployment
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventResourceFilter,
)
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed
from pydantic import ValidationError

from api.liveness import Liveness
from services.settings import StoryOptions

log = logging.getLogger(__name__)

T = TypeVar("T")

FLOW_NAME = "generate-video"
HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"
STALE_MESSAGE = "No heartbeat from the run for too long: its machine is gone."


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
    """Reads and starts `generate-video` runs through one Prefect client (open it before use).

    `heartbeat_grace`: a run that has been RUNNING this long without a heartbeat (the flow
    engine emits `prefect.flow-run.heartbeat` every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds,
    30 in our deployments) lost its machine: `is_stale` says so, `crash` ends it."""

    def __init__(
        self,
        deployment: str,
        client: PrefectClient | None = None,
        *,
        heartbeat_grace: timedelta = timedelta(seconds=90),
    ):
        self.deployment = deployment
        self.heartbeat_grace = heartbeat_grace
        # Prefect's client alone would retry a refused connection for a minute.
        self.liveness = Liveness("Prefect", self._health_url)
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

    def _health_url(self) -> str | None:
        """The health endpoint of the Prefect server this client talks to (the liveness probe)."""
        if self._client is None:
            return None
        return f"{str(self._client.api_url).rstrip('/')}/health"

    async def _bounded(self, call: Awaitable[T]) -> T:
        """The answer of one Prefect call, while Prefect is there (api/liveness.py)."""
        return await self.liveness.call(call)

    @property
    def client(self) -> PrefectClient:
        if self._client is None:
            raise RuntimeError("RenderRuns used before open()")
        return self._client

    async def latest(self, creation_id: str) -> FlowRun | None:
        """The creation's most recent run started by the API (any state), or None."""
        runs = await self._bounded(
            self.client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[creation_tag(creation_id)])
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=1,
            )
        )
        return runs[0] if runs else None

    async def read(self, flow_run_id: str) -> FlowRun | None:
        """A run by id (e.g. the one a record names), or None when Prefect does not know it."""
        try:
            return await self._bounded(self.client.read_flow_run(UUID(flow_run_id)))
        except (ObjectNotFound, ValueError):
            return None

    async def is_stale(self, run: FlowRun) -> bool:
        """Whether `run` says RUNNING (or CANCELLING) but nothing has beaten for it for longer
        than the grace: its process is gone (a machine died with its worker), and Prefect would
        say so for ever without the crash automation (the pool targets create it)."""
        # Cancelling too: a cancel of a run whose machine is gone never completes.
        if run.state is None or run.state.type not in (StateType.RUNNING, StateType.CANCELLING):
            return False
        since = datetime.now(UTC) - self.heartbeat_grace
        if run.state.timestamp is not None and run.state.timestamp > since:
            return False  # started (or resumed) within the grace: give it its first beats
        page = await self._bounded(
            self.client.read_events(
                EventFilter(
                    occurred=EventOccurredFilter(since=since, until=datetime.now(UTC)),
                    event=EventNameFilter(name=[HEARTBEAT_EVENT]),
                    resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
                ),
                limit=1,
            )
        )
        return not page.events

    async def crash(self, run: FlowRun) -> None:
        """Move a stale run to Crashed, so Prefect's UI, its slot and the next trigger agree."""
        log.warning(
            "flow run %s: no heartbeat for %s; marking it Crashed", run.id, self.heartbeat_grace
        )
        crashed: State[Any] = Crashed(message=STALE_MESSAGE)
        await self._bounded(self.client.set_flow_run_state(run.id, crashed, force=True))

    async def deployment_options(self) -> dict[str, Any]:
        """The `options` parameter the deployment renders with when a run gives none."""
        try:
            deployment = await self._bounded(self.client.read_deployment_by_name(self.deployment))
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
            flow_run = await self._bounded(
                run_deployment(  # type: ignore[arg-type]
                    self.deployment,
                    client=self.client,
                    parameters=parameters,
                    timeout=0,
                    tags=tags,
                    idempotency_key=idempotency_key(creation_id, latest),
                    as_subflow=False,
                ),
            )
        except ObjectNotFound as error:
            raise self._not_deployed() from error
        log.info("creation %s: flow run %s (%s)", creation_id, flow_run.id, flow_run.state_name)
        return flow_run
