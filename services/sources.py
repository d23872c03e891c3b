"""Where a run reads its story and writes its outputs: a local folder or a creation in a bucket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from services.settings import Settings
from services.storage import LocalStorage, Storage

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class OutputNames(BaseModel):
    """The outputs share one stem: video.mp4, video.srt, video.vtt, video.jpg, video.json."""

    video: str = "video.mp4"

    @property
    def stem(self) -> str:
        return self.video.rsplit(".", 1)[0] if "." in self.video else self.video

    @property
    def srt(self) -> str:
        return f"{self.stem}.srt"

    @property
    def vtt(self) -> str:
        return f"{self.stem}.vtt"

    @property
    def poster(self) -> str:
        return f"{self.stem}.jpg"

    @property
    def record(self) -> str:
        return f"{self.stem}.json"


@dataclass(frozen=True)
class RenderTarget:
    assets: Storage
    outputs: Storage
    names: OutputNames
    record_from_start: bool  # production: callers poll the record from the moment a run starts


def check_creation_id(creation_id: str) -> str:
    if not _UUID.match(creation_id):
        raise ValueError(
            f"creation id {creation_id!r} is not a UUID (like 6d49a9c0-57ab-403d-af55-c02ad3dfcd70)"
        )
    return creation_id


def resolve_target(
    settings: Settings,
    *,
    creation_id: str | None,
    assets_dir: str | None,
    out: str | None,
) -> RenderTarget:
    if (creation_id is None) == (assets_dir is None):
        raise ValueError("give exactly one of creation_id (bucket) or assets_dir (local folder)")
    if creation_id is not None:
        check_creation_id(creation_id)
        if out is not None:
            raise ValueError("out applies to local folders only; a creation's video goes beside it")
        from services.gcs import GcsStorage  # imported only when a bucket is used

        storage = GcsStorage(settings.creations_bucket, f"{creation_id}/assets")
        return RenderTarget(storage, storage, OutputNames(), record_from_start=True)

    assert assets_dir is not None
    assets = LocalStorage(Path(assets_dir))
    if out is None:
        return RenderTarget(assets, assets, OutputNames(), record_from_start=False)
    out_path = Path(out)
    if out_path.suffix.lower() != ".mp4":
        raise ValueError(f"--out {out} must name an .mp4 file")
    return RenderTarget(
        assets,
        LocalStorage(out_path.parent),
        OutputNames(video=out_path.name),
        record_from_start=False,
    )
