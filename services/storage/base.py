"""Where a creation's files live: the interface tasks and the API receive, and the local folder.

Google Cloud Storage implements the same interface in `services/storage/bucket.py`. Names are
posix paths relative to the storage root (for a creation: its `assets/` folder).

Publishing a set of outputs (video, captions, record) is all-or-nothing for the set, through a
journal, the same way in both storages:

1. every file is written under a staging name (`.staging-<stem>-<token>/<name>`) in the same
   folder, the slow part where space runs out or a connection drops; a failure here removes the
   staged files and leaves the published set as it was;
2. the journal `.<stem>.publishing.json` is written in one step, listing the staged files in the
   order they replace the published ones: from now on the new set is committed;
3. each staged file replaces its published name (a rename in a folder, a server-side copy in a
   bucket), then the staging files and the journal go.

A process killed in step 3 leaves the journal: the next run finishes the switch before anything
else (`finish_publishing`), and removes staging files that never got a journal. While a journal
exists, a reader can tell that the set is being switched: the API finishes the switch itself
before it answers (`finish_switch`), so it never links a mixed set, and does not wait for a run.
Two runs publishing the same outputs at the same moment are not supported (the API starts one
run per creation at a time).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

LEGACY_STAGING_PREFIX = ".staging-"  # `.staging-<token>/`, left by earlier versions in buckets


class StorageError(RuntimeError):
    """A storage operation failed; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class NoSpaceError(StorageError):
    """The disk holding the outputs is full."""

    def __init__(self, message: str):
        super().__init__(message, transient=False)


@dataclass(frozen=True)
class OutputFile:
    """One file of a set published together: local `source`, published as `name`."""

    source: Path
    name: str
    content_type: str | None = None


def holds_story(names: Iterable[str]) -> bool:
    """Whether a listing has a story: at least one file inside a numbered part folder.

    Outputs beside the parts (video.mp4, video.json, staging files) are not a story."""
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) >= 2 and parts[0].isascii() and parts[0].isdigit():
            return True
    return False


def journal_name(stem: str) -> str:
    """The journal of a set whose outputs share `stem` (video.mp4, video.srt ... -> "video")."""
    return f".{stem}.publishing.json"


def staging_prefix(stem: str) -> str:
    return f"{LEGACY_STAGING_PREFIX}{stem}-"


@runtime_checkable
class Storage(Protocol):
    """A flat namespace of files under one root."""

    def describe(self, name: str = "") -> str:
        """A human-readable location, for messages: a path or a gs:// URI."""
        ...

    def list_names(self) -> list[str]:
        """Every file below the root, as relative posix paths (none: an empty list)."""
        ...

    def has_story(self) -> bool:
        """Whether a story was uploaded here: a file in a numbered part folder."""
        ...

    def fetch(self, name: str, dest_dir: Path) -> Path:
        """A local file with the content of `name` (downloaded into dest_dir when remote)."""
        ...

    def publish(self, source: Path, name: str, content_type: str | None = None) -> None:
        """Replace `name` with the content of `source` so readers see the old or the new file."""
        ...

    def publish_together(self, files: Sequence[OutputFile], stem: str) -> None:
        """Replace several files as one set, in the given order (see the module's docstring)."""
        ...

    def finish_publishing(self, stem: str) -> None:
        """Finish a set publish of `stem` that was interrupted after its journal was written,
        and remove staging files of one that was interrupted before."""
        ...

    def read_text(self, name: str) -> str | None:
        """The text of `name`, or None when it does not exist."""
        ...

    def write_text(self, name: str, text: str, content_type: str | None = None) -> None:
        """Replace `name` with `text` atomically."""
        ...

    def delete(self, names: Iterable[str], *, quiet: bool = False) -> None:
        """Delete files; a missing one is not an error. `quiet` swallows every failure (for
        clean-up that must not hide the error being handled)."""
        ...


class SetPublishing:
    """`publish_together` and `finish_publishing` over a storage's single-file operations.

    A storage using this supplies `publish`, `read_text`, `write_text`, `delete`, and:
    `_promote(staged, name)` (replace `name` by the staged file; a missing staged file means it
    was promoted already) and `_names_below(prefix)` (files whose name starts with prefix)."""

    def publish(self, source: Path, name: str, content_type: str | None = None) -> None:
        raise NotImplementedError

    def read_text(self, name: str) -> str | None:
        raise NotImplementedError

    def write_text(self, name: str, text: str, content_type: str | None = None) -> None:
        raise NotImplementedError

    def delete(self, names: Iterable[str], *, quiet: bool = False) -> None:
        raise NotImplementedError

    def _promote(self, staged: str, name: str) -> None:
        raise NotImplementedError

    def _names_below(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def _legacy_staging(self) -> list[str]:
        """Staging files an earlier version of this program may have left (none by default)."""
        return []

    def publish_together(self, files: Sequence[OutputFile], stem: str) -> None:
        folder = f"{staging_prefix(stem)}{uuid.uuid4().hex[:12]}"
        moves: list[tuple[str, str]] = []
        try:
            for file in files:
                staged = f"{folder}/{file.name}"
                moves.append((staged, file.name))
                self.publish(file.source, staged, file.content_type)
            # The commit point: once the journal exists, the new set replaces the old one.
            self.write_text(journal_name(stem), json.dumps({"moves": moves}), "application/json")
        except BaseException:
            self.delete([staged for staged, _ in moves], quiet=True)
            raise
        self._switch(stem, moves)

    def finish_publishing(self, stem: str) -> None:
        text = self.read_text(journal_name(stem))
        if text is not None:
            self._switch(stem, _journal_moves(text, stem))
        leftovers = self._names_below(staging_prefix(stem)) + self._legacy_staging()
        self.delete(sorted(set(leftovers)))

    def finish_switch(self, stem: str) -> bool:
        """Only the switch of a publish whose journal exists, for readers (the API): unlike
        `finish_publishing` it leaves staging files without a journal alone, since they may
        belong to a publish in progress. Doing a switch twice (here and in the run that is
        still switching) is harmless: a staged file already moved counts as promoted. True
        when there was a journal."""
        text = self.read_text(journal_name(stem))
        if text is None:
            return False
        self._switch(stem, _journal_moves(text, stem))
        return True

    def _switch(self, stem: str, moves: list[tuple[str, str]]) -> None:
        for staged, name in moves:
            self._promote(staged, name)
        self.delete([staged for staged, _ in moves])
        self.delete([journal_name(stem)])


def _journal_moves(text: str, stem: str) -> list[tuple[str, str]]:
    """The (staged, published) pairs of a journal; only names inside this folder, staged under
    this stem's staging prefix. An unreadable journal finishes nothing (its staging files are
    removed as leftovers)."""
    try:
        moves = [(str(staged), str(name)) for staged, name in json.loads(text)["moves"]]
    except (ValueError, KeyError, TypeError):
        return []

    def inside(name: str) -> bool:
        path = PurePosixPath(name)
        return bool(name) and not path.is_absolute() and ".." not in path.parts

    return [
        (staged, name)
        for staged, name in moves
        if staged.startswith(staging_prefix(stem)) and inside(staged) and inside(name)
    ]


def fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def megabytes(size: int) -> int:
    return max(1, -(-size // 1_000_000))


def published_name(name: str) -> str:
    """`.staging-video-<token>/video.mp4` -> `video.mp4`: messages name what the user gets."""
    parts = PurePosixPath(name).parts
    if len(parts) > 1 and parts[0].startswith(LEGACY_STAGING_PREFIX):
        return PurePosixPath(*parts[1:]).as_posix()
    return name
