"""What the API answers, as pydantic models: the OpenAPI schema the story app codes against."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

from services.record import Status
from services.storage.sources import CREATION_ID_PATTERN, check_creation_id

# The render's own rule (services.storage.sources): a UUID in its usual hyphenated form, either
# case, the whole string. The id is used as given, because it names a folder in the bucket. The
# pattern documents it in the schema; the validator applies the very same check the flow does.
CreationId = Annotated[
    str,
    Path(
        pattern=f"^{CREATION_ID_PATTERN}$",
        description="The creation (story) id: a UUID, as it appears in the bucket.",
        examples=["6d49a9c0-57ab-403d-af55-c02ad3dfcd70"],
    ),
    AfterValidator(check_creation_id),
]


class VideoStatus(BaseModel):
    """Where a creation's video stands, from its latest render and its `video.json` record."""

    status: Status = Field(
        description=(
            "not_found: never requested (or not yours); pending: requested, not started; "
            "running: rendering; completed: the video is ready; failed: see message."
        )
    )
    message: str = Field(description="One sentence for a person: what is happening, what to do.")
    progress: float = Field(
        ge=0, le=1, description="Share of story parts rendered by the latest render, 0 to 1."
    )
    video_url: str | None = Field(
        description=(
            "A time-limited link to the video, whenever one exists: with status completed it is "
            "the new video; with failed, pending or running it is the previous video, if any."
        )
    )
    poster_url: str | None = Field(
        None,
        description=(
            "A time-limited link to the video's poster (a JPEG frame of its first part, with "
            "its caption), whenever video_url is given and that video has one."
        ),
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "status": "running",
                    "message": "Rendering: 2 of 5 parts done.",
                    "progress": 0.4,
                    "video_url": None,
                    "poster_url": None,
                }
            ]
        }
    }


class Problem(BaseModel):
    """An error answer: one sentence a person can act on."""

    detail: str = Field(examples=["Creation 6d49a9c0-57ab-403d-af55-c02ad3dfcd70 was not found."])
