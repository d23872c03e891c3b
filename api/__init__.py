"""Trigger and status API for the story app: a FastAPI router, and a standalone operators' app.

The API talks to Prefect (to start and read `generate-video` runs) and reads each creation's
`video.json` record in the bucket; it never imports render code.
"""

from api.router import create_router

__all__ = ["create_router"]
