"""The standalone operators' API: the same routes, guarded by one bearer token.

    API_TOKEN=... PREFECT_API_URL=... uvicorn api.app:app --port 8080 [--workers 2]

Operators may act on every creation. Without API_TOKEN (or with one shorter than 16
characters) the app refuses to start, rather than answer every request with an error.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.router import create_router
from services.settings import get_settings

MIN_TOKEN_LENGTH = 16

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="OperatorToken",
    description="The API_TOKEN the operators' app was started with.",
)


class StartupRefused(RuntimeError):
    """The app's configuration is unsafe or incomplete; it does not start."""


def required_token(token: str | None) -> str:
    """The configured bearer token, or a clear refusal to start without a usable one."""
    token = (token or "").strip()
    if not token:
        raise StartupRefused(
            "API_TOKEN is not set: the operators' API does not start without a bearer token "
            "(set API_TOKEN in the environment or .env, e.g. to `openssl rand -hex 32`)"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise StartupRefused(
            f"API_TOKEN is {len(token)} characters long; use at least {MIN_TOKEN_LENGTH} "
            "(e.g. `openssl rand -hex 32`)"
        )
    return token


async def operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The caller, if they sent the operators' token; 401 otherwise."""
    expected: str | None = getattr(request.app.state, "api_token", None)
    given = credentials.credentials if credentials else ""
    # Fail closed if the lifespan did not run; compare in constant time.
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            401, "A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"}
        )
    return "operator"


async def operators_may_act(_user: str, _creation_id: str) -> bool:
    return True


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.api_token = required_token(get_settings().api_token)
        yield

    app = FastAPI(
        title="Story video API (operators)",
        version="1.0.0",
        description=(
            "Start the rendering of a creation's narrated video and follow it. "
            "Every request needs the operators' bearer token."
        ),
        lifespan=lifespan,
    )
    app.include_router(create_router(current_user=operator, may_act=operators_may_act))
    return app


app = create_app()
