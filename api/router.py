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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response as StarletteResponse
from starlette.types import Receive, Scope, Send

from api.runs import RenderRuns
from api.schemas import CreationId, Problem, VideoStatus
from api.service import CreationNotFound, OptionsConflict, ServiceUnavailable, VideoService
from api.status import NOT_FOUND_MESSAGE
from services.settings import Settings, StoryOptions, get_settings
from services.storage.creation_files import CreationFiles

log = logging.getLogger(__name__)

MayAct = Callable[[Any, str], bool | Awaitable[bool]]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Not signed in (the host's authentication answers)."},
    503: {"model": Problem, "description": "Prefect or the bucket cannot answer now; try again."},
}


def not_found_detail(creation_id: str) -> str:
    return f"Creation {creation_id} was not found."


MAX_BODY_BYTES = 16 * 1024  # the options are a few hundred bytes
MAX_ERROR_TEXT = 200  # characters of a validation message: never a whole echo of the input


def _plain_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """A 422's problems without the input they were about (FastAPI's own answer echoes it, a
    1 MB body gave a 1 MB answer, and NaN in it could not be written as JSON at all)."""
    plain = []
    for error in errors:
        message = str(error.get("msg", ""))
        if len(message) > MAX_ERROR_TEXT:
            message = message[: MAX_ERROR_TEXT - 1] + "…"
        location = [part if isinstance(part, int) else str(part)[:80] for part in error["loc"]]
        plain.append({"loc": location, "msg": message, "type": str(error.get("type", ""))})
    return plain


class LimitedRoute(APIRoute):
    """Bodies over MAX_BODY_BYTES are refused with 413 before anything reads them whole, and a
    422 names the field and the problem, never the input."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, StarletteResponse]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> StarletteResponse:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return _too_large()
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    return _too_large()
            request._body = body  # what the handler reads, as Starlette caches it
            try:
                return await handler(request)
            except RequestValidationError as error:
                return JSONResponse({"detail": _plain_errors(error.errors())}, status_code=422)

        return limited


def _too_large() -> JSONResponse:
    return JSONResponse(
        {"detail": f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB."},
        status_code=413,
    )


class TriggerRoute(LimitedRoute):
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
        if not settings.creations_bucket:
            raise RuntimeError(
                "CREATIONS_BUCKET is not set: the video API reads each creation's record there"
            )
        return VideoService(
            RenderRuns(
                settings.video_deployment,
                heartbeat_grace=timedelta(seconds=settings.run_heartbeat_grace_seconds),
            ),
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
    routes = _Routes(current_user, _access_check(may_act), services)
    _add_trigger_routes(router, routes)
    router.add_api_route(
        "/me/creation/{creation_id}/generate_video_status",
        routes.status_endpoint(),
        methods=["GET"],
        operation_id="generate_video_status",
        summary="How a creation's video is coming along",
        response_model=VideoStatus,
        responses=ERRORS,
        route_class_override=LimitedRoute,
    )
    return router


def _access_check(may_act: MayAct) -> Callable[[Any, str], Awaitable[bool]]:
    """`may_act` as one awaitable, whether the host wrote it plain or async."""

    async def allowed(user: Any, creation_id: str) -> bool:
        if inspect.iscoroutinefunction(may_act):
            return bool(await may_act(user, creation_id))
        answer = await run_in_threadpool(may_act, user, creation_id)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

    return allowed


class _Routes:
    """The endpoints, built over the host's user dependency, its access check and the service."""

    def __init__(
        self,
        current_user: Callable[..., Any],
        allowed: Callable[[Any, str], Awaitable[bool]],
        services: _Services,
    ):
        self.current_user = current_user
        self.allowed = allowed
        self.services = services

    async def trigger(
        self, creation_id: str, options: StoryOptions, user: Any, service: VideoService
    ) -> VideoStatus:
        if not await self.allowed(user, creation_id):
            raise HTTPException(404, not_found_detail(creation_id))
        try:
            return await service.trigger(creation_id, options)
        except CreationNotFound:
            raise HTTPException(404, not_found_detail(creation_id)) from None
        except OptionsConflict as error:
            raise HTTPException(409, str(error)) from None
        except ServiceUnavailable as error:
            raise HTTPException(503, str(error)) from None

    def trigger_endpoints(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        User = Annotated[Any, Depends(self.current_user)]
        Service = Annotated[VideoService, Depends(self.services.get)]
        trigger = self.trigger

        async def generate_video(
            creation_id: CreationId, user: User, service: Service, response: Response
        ) -> VideoStatus:
            """Starts a render with the default options and answers at once with the status
            (normally `pending`).

            While a render of the creation is pending or running, answers that render's status
            instead of starting another, however many requests arrive at once (409 if that
            render has other options). After it ends, a new request starts a new render (the
            previous video stays until the new one replaces it); when nothing changed since the
            last completed render (same story files, same options), answers `completed` at once.
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
            script). An unknown field or a bad value (also NaN or an infinity) is a 422 that
            names it; a body over 16 KiB is a 413. While a render of the creation with the same
            options is pending or running, answers its status; with other options, 409 naming
            them: nobody silently gets a video in another language.
            """
            response.headers["Cache-Control"] = "no-store"
            return await trigger(creation_id, options or StoryOptions(), user, service)

        return generate_video, generate_video_with_options

    def status_endpoint(self) -> Callable[..., Any]:
        User = Annotated[Any, Depends(self.current_user)]
        Service = Annotated[VideoService, Depends(self.services.get)]
        allowed = self.allowed

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

        return generate_video_status


TRIGGER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": Problem, "description": "No such creation (or not yours)."},
    409: {
        "model": Problem,
        "description": "A render with other options is pending or running; its options "
        "are named. Ask again once it has ended.",
    },
}
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not JSON (or not UTF-8)."},
    413: {"model": Problem, "description": "The body is larger than 16 KiB."},
}


def _add_trigger_routes(router: APIRouter, routes: _Routes) -> None:
    generate_video, generate_video_with_options = routes.trigger_endpoints()
    for method, endpoint, summary, extra in [
        ("GET", generate_video, "Start rendering a creation's video", {}),
        (
            "POST",
            generate_video_with_options,
            "Start rendering a creation's video with options",
            BODY_RESPONSES,
        ),
    ]:
        router.add_api_route(
            "/me/creation/{creation_id}/generate_video",
            endpoint,
            methods=[method],
            operation_id=endpoint.__name__,
            summary=summary,
            response_model=VideoStatus,
            responses={**TRIGGER_RESPONSES, **extra},
            route_class_override=TriggerRoute,
        )
