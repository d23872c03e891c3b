"""Storage in a folder on this machine (development, tests)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from services.storage.base import (
    NoSpaceError,
    OutputFile,
    SetPublishing,
    StorageError,
    fsync_folder,
    holds_story,
    megabytes,
    published_name,
)


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
            fsync_folder(target.parent)
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
            fsync_folder(target.parent)
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
            fsync_folder((self.root / name).parent)
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
        size = f" (the outputs need about {megabytes(needed)} MB)" if needed else ""
        return NoSpaceError(
            f"no space left on the disk holding {self.root}{size}; free some space and run it again"
        )


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
