"""The router the story app mounts: start a creation's video, and poll its status.

    from api import create_router
    app.include_router(create_router(current_user=get_current_user, may_act=owns_creation))

`current_user` is the host's own FastAPI dependency for the signed-in user (it answers 401
itself when nobody is signed in). `may_act(user, creation_id)` (plain or async) decides whether
that user may render and poll the creation. A user who may not gets exactly the answer given
for a creation that does not exist: nothing tells them it does.
"""

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from api.runs import RenderRuns
from api.schemas import CreationId, Problem, VideoStatus
from api.service import CreationNotFound, OptionsConflict, ServiceUnavailable, VideoService
from api.status import NOT_FOUND_MESSAGE
from api.videos import CreationFiles
from services.settings import Settings, StoryOptions, get_settings

log = logging.getLogger(__name__)

MayAct = Callable[[Any, str], bool | Awaitable[bool]]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Not signed in (the host's authentication answers)."},
    503: {"model": Problem, "description": "Prefect or the bucket cannot answer now; try again."},
}


def not_found_detail(creation_id: str) -> str:
    return f"Creation {creation_id} was not found."


class TriggerRoute(APIRoute):
    """The trigger path has a GET and a POST route: a 405 there names both methods (Starlette's
    own answer names only the methods of the first route it tried)."""

    TRIGGER_METHODS = ("GET", "POST")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.TRIGGER_METHODS:
            allow = ", ".join(self.TRIGGER_METHODS)
            raise StarletteHTTPException(status_code=405, headers={"Allow": allow})
        await super().handle(scope, receive, send)


class _Services:
    """The router's VideoService: opened by the app's lifespan, or on first use in a loop."""

    def __init__(self, settings: Settings | None):
        self._settings = settings
        self._service: VideoService | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def _build(self) -> VideoService:
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            # Without it Prefect would quietly start an empty server of its own in this process.
            raise RuntimeError(
                "PREFECT_API_URL is not set: the video API needs the Prefect server that runs "
                "the generate-video deployments"
            )
        settings = self._settings or get_settings()
        return VideoService(
            RenderRuns(settings.video_deployment),
            CreationFiles(
                settings.creations_bucket, timedelta(seconds=settings.video_link_seconds)
            ),
        )

    async def get(self) -> VideoService:
        loop = asyncio.get_running_loop()
        if self._service is not None and self._loop is loop:
            return self._service
        if self._lock is None or self._loop is not loop:
            # A new event loop (the first, or a test client's): clients of the old one are unusable.
            self._service, self._loop, self._lock = None, loop, asyncio.Lock()
        async with self._lock:
            if self._service is None:
                service = self._build()
                await service.runs.open()
                self._service = service
        return self._service

    async def close(self) -> None:
        if self._service is not None and self._loop is asyncio.get_running_loop():
            await self._service.runs.close()
        self._service = None


def create_router(
    *,
    current_user: Callable[..., Any],
    may_act: MayAct,
    settings: Settings | None = None,
) -> APIRouter:
    """The trigger and status routes, guarded by the host's user and access check."""
    services = _Services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.get()  # fail at startup, not at the first request, if Prefect is unset
        try:
            yield
        finally:
            await services.close()

    router = APIRouter(tags=["video"], lifespan=lifespan)
    User = Annotated[Any, Depends(current_user)]
    Service = Annotated[VideoService, Depends(services.get)]

    async def allowed(user: Any, creation_id: str) -> bool:
        if inspect.iscoroutinefunction(may_act):
            return bool(await may_act(user, creation_id))
        answer = await run_in_threadpool(may_act, user, creation_id)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

    async def trigger(
        creation_id: str, options: StoryOptions, user: Any, service: VideoService
    ) -> VideoStatus:
        if not await allowed(user, creation_id):
            raise HTTPException(404, not_found_detail(creation_id))
        try:
            return await service.trigger(creation_id, options)
        except CreationNotFound:
            raise HTTPException(404, not_found_detail(creation_id)) from None
        except OptionsConflict as error:
            raise HTTPException(409, str(error)) from None
        except ServiceUnavailable as error:
            raise HTTPException(503, str(error)) from None

    trigger_responses: dict[int | str, dict[str, Any]] = {
        **ERRORS,
        404: {"model": Problem, "description": "No such creation (or not yours)."},
        409: {
            "model": Problem,
            "description": "A render with other options is pending or running; its options "
            "are named. Ask again once it has ended.",
        },
    }

    async def generate_video(
        creation_id: CreationId, user: User, service: Service, response: Response
    ) -> VideoStatus:
        """Starts a render with the default options and answers at once with the status
        (normally `pending`).

        While a render of the creation is pending or running, answers that render's status
        instead of starting another, however many requests arrive at once (409 if that render
        has other options). After it ends, a new request starts a new render (the previous
        video stays until the new one replaces it).
        """
        response.headers["Cache-Control"] = "no-store"
        return await trigger(creation_id, StoryOptions(), user, service)

    async def generate_video_with_options(
        creation_id: CreationId,
        user: User,
        service: Service,
        response: Response,
        options: Annotated[StoryOptions | None, Body()] = None,
    ) -> VideoStatus:
        """Like the GET, with the options in a JSON body, e.g. `{"language": "de"}`.

        Fields left out take the deployment's defaults (`language`: auto, from the captions'
        script). An unknown field or a bad value is a 422 that names it. While a render of the
        creation with the same options is pending or running, answers its status; with other
        options, 409 naming them: nobody silently gets a video in another language.
        """
        response.headers["Cache-Control"] = "no-store"
        return await trigger(creation_id, options or StoryOptions(), user, service)

    unreadable_body: dict[int | str, dict[str, Any]] = {
        400: {"model": Problem, "description": "The body is not JSON (or not UTF-8)."}
    }
    for method, endpoint, summary, extra in [
        ("GET", generate_video, "Start rendering a creation's video", {}),
        (
            "POST",
            generate_video_with_options,
            "Start rendering a creation's video with options",
            unreadable_body,
        ),
    ]:
        router.add_api_route(
            "/me/creation/{creation_id}/generate_video",
            endpoint,
            methods=[method],
            operation_id=endpoint.__name__,
            summary=summary,
            response_model=VideoStatus,
            responses={**trigger_responses, **extra},
            route_class_override=TriggerRoute,
        )

    @router.get(
        "/me/creation/{creation_id}/generate_video_status",
        operation_id="generate_video_status",
        summary="How a creation's video is coming along",
        response_model=VideoStatus,
        responses=ERRORS,
    )
    async def generate_video_status(
        creation_id: CreationId, user: User, service: Service, response: Response
    ) -> VideoStatus:
        """The status of the creation's latest render, its progress, and a link to the video.

        `failed` carries a message a person can act on (e.g. which part's file is broken).
        A failed re-render answers `failed` with the link to the previous video, which stays.
        """
        response.headers["Cache-Control"] = "no-store"
        if not await allowed(user, creation_id):
            return VideoStatus(
                status="not_found", message=NOT_FOUND_MESSAGE, progress=0.0, video_url=None
            )
        try:
            return await service.status(creation_id)
        except ServiceUnavailable as error:
            raise HTTPException(503, str(error)) from None

    return router
