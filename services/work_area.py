"""A run's work folder (`story-video-*` in the temporary directory), and the removal of those
that earlier runs on this machine left behind when they were killed.

A run holds an exclusive `flock` on `.owner.lock` inside its folder for as long as it lives. The
kernel drops the lock when the process ends, however it ends (SIGKILL, out of memory), so a
folder whose lock can be taken belongs to no running process and goes. Folders of runs that are
still running stay, also those of other runs on the same machine (a process worker runs several).
Folders without a lock file come from versions before this one: they go once they are a day old.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "story-video-"
LOCK_NAME = ".owner.lock"
# tempfile's own names: PREFIX and eight characters (not e.g. the tests' `story-video-tests-*`).
_WORK_FOLDER = re.compile(re.escape(PREFIX) + r"[a-z0-9_]{8}")
UNLOCKED_AGE_SECONDS = 24 * 3600

log = logging.getLogger(__name__)


def _abandoned(folder: Path, now: float) -> bool:
    """Whether no living process owns `folder` (checked by taking its lock, released at once)."""
    lock = folder / LOCK_NAME
    try:
        descriptor = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        try:
            return now - folder.stat().st_mtime > UNLOCKED_AGE_SECONDS
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a running run holds it
    finally:
        os.close(descriptor)  # also releases the lock we may have taken
    return True


def remove_abandoned(parent: Path | None = None) -> list[Path]:
    """Remove the work folders of earlier runs on this machine that no longer run."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    now = time.time()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    for folder in entries:
        if not _WORK_FOLDER.fullmatch(folder.name) or not folder.is_dir():
            continue
        if _abandoned(folder, now):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


@contextmanager
def work_folder(parent: Path | None = None) -> Iterator[Path]:
    """A fresh work folder, locked by this process while in use, removed after. Before it is
    made, the folders of earlier runs that died are removed (and logged)."""
    for folder in remove_abandoned(parent):
        log.info("removed the work folder of an earlier run that no longer runs: %s", folder)
    with tempfile.TemporaryDirectory(prefix=PREFIX, dir=parent, ignore_cleanup_errors=True) as name:
        descriptor = os.open(Path(name) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield Path(name)
        finally:
            os.close(descriptor)
