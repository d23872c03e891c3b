"""Where a run reads its story and writes its outputs: a local folder or a creation in a bucket."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from services.settings import Settings
from services.storage.base import Storage, StorageError
from services.storage.folder import LocalStorage

# A creation id: a UUID in its usual hyphenated form, either case, and nothing else (no
# whitespace, no trailing newline). The one rule of the flow, the command line and the API.
CREATION_ID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CREATION_ID = re.compile(CREATION_ID_PATTERN)


class CreationNotFound(StorageError):
    """A valid creation id with no story uploaded under it."""

    def __init__(self, creation_id: str, where: str):
        super().__init__(
            f"creation {creation_id} not found: no story parts at {where} "
            f"(no creation with this id, or its parts are not uploaded yet)",
            transient=False,
        )


@dataclass(frozen=True)
class Output:
    """One output of a render, published beside the others with the same stem."""

    key: str  # the matching field of tasks.assembly.AssembledVideo's files()
    extension: str
    content_type: str


# Every output, in the order a publish replaces them: captions and poster first, then the video,
# the record last. Adding an output is one line here (and its file in AssembledVideo.files()).
OUTPUTS: tuple[Output, ...] = (
    Output("srt", ".srt", "application/x-subrip"),
    Output("vtt", ".vtt", "text/vtt"),
    Output("poster", ".jpg", "image/jpeg"),
    Output("video", ".mp4", "video/mp4"),
    Output("record", ".json", "application/json"),
)


class OutputNames(BaseModel):
    """The outputs share one stem: video.mp4, video.srt, video.vtt, video.jpg, video.json."""

    video: str = "video.mp4"

    @property
    def stem(self) -> str:
        return self.video.rsplit(".", 1)[0] if "." in self.video else self.video

    def name_of(self, output: Output) -> str:
        return self.video if output.key == "video" else f"{self.stem}{output.extension}"

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

    @property
    def every(self) -> list[str]:
        return [self.name_of(output) for output in OUTPUTS]


def is_story_input(name: str, names: OutputNames | None = None) -> bool:
    """Whether a file of a creation's assets folder is something the user uploaded (a part's
    file, music, title), not an output of ours (video.*, staging files, the journal)."""
    path = PurePosixPath(name)
    if any(part.startswith(".") for part in path.parts):
        return False
    return not (len(path.parts) == 1 and name in (names or OutputNames()).every)


@dataclass(frozen=True)
class RenderTarget:
    assets: Storage
    outputs: Storage
    names: OutputNames
    record_from_start: bool  # production: callers poll the record from the moment a run starts


def is_creation_id(text: str) -> bool:
    return _CREATION_ID.fullmatch(text) is not None


def check_creation_id(creation_id: str) -> str:
    if not is_creation_id(creation_id):
        raise ValueError(
            f"creation id {creation_id!r} is not a UUID (like 6d49a9c0-57ab-403d-af55-c02ad3dfcd70)"
        )
    return creation_id


def check_local_destination(folder: Path, names: OutputNames, given: str) -> None:
    """Before anything renders: the outputs can be written in `folder` (it exists and is
    writable, or can be made), and none of their names is taken by a folder. `given` is how the
    user named the destination, for messages."""
    for name in names.every:
        if (folder / name).is_dir():
            raise ValueError(f"{folder / name} is a folder; move it away or choose another {given}")
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"cannot write the video into {folder}: {existing} is a file, not a folder"
        )
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        raise ValueError(
            f"cannot write the video into {folder}: {existing} is on a read-only disk; "
            f"choose a folder you can write to"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"cannot write the video into {folder}: no permission to write in {existing}; "
            f"choose a folder you can write to"
        )


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
        from services.storage.bucket import GcsStorage

        storage = GcsStorage(settings.bucket_for_creations(), f"{creation_id}/assets")
        return RenderTarget(storage, storage, OutputNames(), record_from_start=True)

    assert assets_dir is not None
    assets = LocalStorage(Path(assets_dir))
    if out is None:
        names = OutputNames()
        if Path(assets_dir).is_dir():  # a missing story folder is reported by the story check
            check_local_destination(Path(assets_dir), names, "--out FILE")
        return RenderTarget(assets, assets, names, record_from_start=False)
    out_path = Path(out)
    if out_path.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name ending in .mp4")
    if out_path.suffix.lower() != ".mp4":
        raise ValueError(f"--out {out} must name an .mp4 file")
    check_local_destination(out_path.parent, OutputNames(video=out_path.name), "--out")
    return RenderTarget(
        assets,
        LocalStorage(out_path.parent),
        OutputNames(video=out_path.name),
        record_from_start=False,
    )
