"""Where a creation's files live: the interface tasks and the API receive, and the local folder.

Google Cloud Storage implements the same interface in `services/gcs.py`. Names are posix paths
relative to the storage root (for a creation: its `assets/` folder).

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
exists, a reader can tell that the set is being switched. Two runs publishing the same outputs at
the same moment are not supported (the API starts one run per creation at a time).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
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


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _megabytes(size: int) -> int:
    return max(1, -(-size // 1_000_000))


class LocalStorage(SetPublishing):
    """A folder on this machine."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def describe(self, name: str = "") -> str:
        return str(self.root / name) if name else str(self.root)

    def list_names(self) -> list[str]:
        """Symbolic links are followed, to folders too (a part folder may be a link); a link
        back to a folder already being listed is not, so a loop ends."""
        if not self.root.is_dir():
            raise StorageError(f"{self.root} is not a folder", transient=False)
        names = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            here = Path(dirpath)
            ancestors = {str(parent.resolve()) for parent in (here, *here.parents)}
            dirnames[:] = sorted(
                name for name in dirnames if str((here / name).resolve()) not in ancestors
            )
            for filename in filenames:
                full = here / filename
                names.append(full.relative_to(self.root).as_posix())
        return sorted(names)

    def has_story(self) -> bool:
        return self.root.is_dir() and holds_story(self.list_names())

    def fetch(self, name: str, dest_dir: Path) -> Path:
        path = self.root / name
        problem = _not_a_regular_file(path)
        if problem:
            raise StorageError(f"{name} {problem}", transient=False)
        return path  # already local: no copy

    def publish(self, source: Path, name: str, content_type: str | None = None) -> None:
        target = self.root / name
        # Copy beside the target under a hidden name, flush it to the disk, then rename: readers
        # never see a partial file, and a crash right after cannot leave an empty one.
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as reader, open(partial, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
                writer.flush()
                os.fsync(writer.fileno())
            os.replace(partial, target)
            _fsync_folder(target.parent)
        except OSError as error:
            raise self._user_error(error, name, needed=_size_or_zero(source)) from error
        finally:
            partial.unlink(missing_ok=True)

    def read_text(self, name: str) -> str | None:
        path = self.root / name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, name: str, text: str, content_type: str | None = None) -> None:
        target = self.root / name
        data = text.encode("utf-8")
        partial: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "wb", dir=target.parent, prefix=f".{target.name}.", delete=False
            ) as stream:
                partial = Path(stream.name)
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(partial, target)
            partial = None
            _fsync_folder(target.parent)
        except OSError as error:
            raise self._user_error(error, name, needed=len(data)) from error
        finally:
            if partial is not None:
                partial.unlink(missing_ok=True)

    def delete(self, names: Iterable[str], *, quiet: bool = False) -> None:
        """Delete files, then the folders below the root that this leaves empty."""
        folders: set[Path] = set()
        for name in names:
            path = self.root / name
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                if not quiet:
                    raise self._user_error(error, name) from error
            folders.update(parent for parent in path.parents if self.root in parent.parents)
        for folder in sorted(folders, key=lambda path: len(path.parts), reverse=True):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty, or gone: either is fine

    def publish_together(self, files: Sequence[OutputFile], stem: str) -> None:
        try:
            super().publish_together(files, stem)
        except NoSpaceError as error:
            needed = sum(_size_or_zero(file.source) for file in files)
            raise self._no_space(needed) from error

    def _promote(self, staged: str, name: str) -> None:
        source = self.root / staged
        if not source.exists():
            return  # promoted before an interruption
        try:
            os.replace(source, self.root / name)
            _fsync_folder((self.root / name).parent)
        except OSError as error:
            raise self._user_error(error, name) from error

    def _names_below(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        return [
            (entry / name).relative_to(self.root).as_posix()
            for entry in self.root.iterdir()
            if entry.name.startswith(prefix) and entry.is_dir()
            for name in _files_below(entry)
        ]

    def _user_error(self, error: OSError, name: str, *, needed: int = 0) -> StorageError:
        """An OSError in the user's terms: the folder or file they gave, not our staging names."""
        shown = self.root / published_name(name)
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return self._no_space(needed)
        if error.errno == errno.EROFS:
            return StorageError(
                f"{shown.parent} is on a read-only disk; choose a folder you can write to",
                transient=False,
            )
        if error.errno in (errno.EACCES, errno.EPERM):
            return StorageError(
                f"no permission to write in {shown.parent}; choose a folder you can write to",
                transient=False,
            )
        if error.errno == errno.EISDIR:
            return StorageError(
                f"{shown} is a folder; move it away or choose another output name",
                transient=False,
            )
        reason = error.strerror or type(error).__name__
        return StorageError(f"could not write {shown}: {reason}", transient=False)

    def _no_space(self, needed: int) -> NoSpaceError:
        size = f" (the outputs need about {_megabytes(needed)} MB)" if needed else ""
        return NoSpaceError(
            f"no space left on the disk holding {self.root}{size}; free some space and run it again"
        )


def published_name(name: str) -> str:
    """`.staging-video-<token>/video.mp4` -> `video.mp4`: messages name what the user gets."""
    parts = PurePosixPath(name).parts
    if len(parts) > 1 and parts[0].startswith(LEGACY_STAGING_PREFIX):
        return PurePosixPath(*parts[1:]).as_posix()
    return name


def _files_below(folder: Path) -> list[Path]:
    return [
        Path(dirpath, filename).relative_to(folder)
        for dirpath, _, filenames in os.walk(folder)
        for filename in filenames
    ]


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _not_a_regular_file(path: Path) -> str | None:
    """Why `path` cannot be read as a file, or None when it can. Never opens it: a FIFO would
    block and a device never end."""
    try:
        mode = path.stat().st_mode  # follows links; does not open
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a link to {os.readlink(path)}, which does not exist"
        return "does not exist"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if stat.S_ISREG(mode):
        return None
    kind = "a folder" if stat.S_ISDIR(mode) else "a pipe (FIFO)" if stat.S_ISFIFO(mode) else None
    kind = kind or ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")
    if path.is_symlink():
        return f"is a link to {os.readlink(path)}, which is {kind}, not a file"
    return f"is {kind}, not a file"
