"""Where a creation's files live: the small interface tasks receive, and the local-folder one.

Google Cloud Storage implements the same interface in `services/gcs.py`. Names are posix paths
relative to the storage root (for a creation: its `assets/` folder).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path
from typing import Protocol, runtime_checkable


class StorageError(RuntimeError):
    """A storage operation failed; `transient` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@runtime_checkable
class Storage(Protocol):
    """A flat namespace of files under one root."""

    def describe(self, name: str = "") -> str:
        """A human-readable location, for messages: a path or a gs:// URI."""
        ...

    def list_names(self) -> list[str]:
        """Every file below the root, as relative posix paths."""
        ...

    def fetch(self, name: str, dest_dir: Path) -> Path:
        """A local file with the content of `name` (downloaded into dest_dir when remote)."""
        ...

    def publish(self, source: Path, name: str, content_type: str | None = None) -> None:
        """Replace `name` with the content of `source` so readers see the old or the new file."""
        ...

    def read_text(self, name: str) -> str | None:
        """The text of `name`, or None when it does not exist."""
        ...

    def write_text(self, name: str, text: str, content_type: str | None = None) -> None:
        """Replace `name` with `text` atomically."""
        ...


class LocalStorage:
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

    def fetch(self, name: str, dest_dir: Path) -> Path:
        path = self.root / name
        problem = _not_a_regular_file(path)
        if problem:
            raise StorageError(f"{name} {problem}", transient=False)
        return path  # already local: no copy

    def publish(self, source: Path, name: str, content_type: str | None = None) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy beside the target under a hidden name, then rename: readers never see a partial file.
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, target)
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
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
        ) as stream:
            stream.write(text)
            partial = Path(stream.name)
        os.replace(partial, target)


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
