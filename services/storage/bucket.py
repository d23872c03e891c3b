"""Google Cloud Storage behind the `Storage` interface: a creation's folder in the bucket.

Uses google-cloud-storage. With STORAGE_EMULATOR_HOST set the client talks to that emulator with
anonymous credentials; otherwise it uses Application Default Credentials (on Cloud Run: the job's
service account). Clients are made on first use, one per thread (the HTTP session underneath is
not documented as safe to share between threads).

Retries: every call here is made ONCE, with a timeout, and the library's own retry is switched
off. Failures come out as `StorageError` with `transient` set, and the callers' retry layer (the
Prefect tasks' `retry_condition_fn`, or `retrying.call_with_retries`) backs off with
jitter a bounded number of times. One visible retry policy instead of two nested ones: the
library's default would retry each call for up to 120 s inside every one of our attempts.

Files move through the disk (`upload_from_filename` / `download_to_filename`), never whole into
memory; only the small text files (the record) are read as strings.
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from services.storage.base import (
    LEGACY_STAGING_PREFIX,
    SetPublishing,
    StorageError,
    holds_story,
    published_name,
)
from services.storage.retrying import exception_is_transient, http_status_of

if TYPE_CHECKING:
    from google.cloud.storage import Bucket, Client

T = TypeVar("T")

log = logging.getLogger(__name__)

# (connect, read) seconds per HTTP request. A read timeout bounds the wait for each answer, not a
# whole transfer, so a large upload is not cut off while it is making progress.
TIMEOUT = (10.0, 120.0)


class _ThisThread(threading.local):
    client: Client | None = None
    identity = ""


_this_thread = _ThisThread()


def make_client() -> Client:
    """A google-cloud-storage client: the emulator when STORAGE_EMULATOR_HOST is set, else ADC."""
    from google.cloud import storage

    return storage.Client()


def endpoint() -> str:
    """The address of the storage service the clients talk to (the emulator's, when set)."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    if emulator:
        return emulator if "://" in emulator else f"http://{emulator}"
    return "https://storage.googleapis.com"


def client() -> Client:
    """This thread's client, made on first use (and again if the emulator address changes).
    The one client cache of the flow and the API."""
    identity = os.environ.get("STORAGE_EMULATOR_HOST", "")
    cached = _this_thread.client
    if cached is None or _this_thread.identity != identity:
        cached = make_client()
        _this_thread.client, _this_thread.identity = cached, identity
    return cached


def _reason(error: BaseException) -> str:
    """The gist of a client error, one line, without the request URL noise."""
    status = http_status_of(error)
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    text = " ".join(str(text).split())
    if "Connection refused" in text or "Failed to establish a new connection" in text:
        text = "connection refused"
    elif len(text) > 200:
        text = text[:200] + "..."
    if status is not None:
        name = http.client.responses.get(status, "")
        return f"HTTP {status} {name}: {text}".strip()
    return f"{type(error).__name__}: {text}"


class GcsStorage(SetPublishing):
    """Files below `gs://<bucket>/<prefix>/`; names are relative posix paths."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Client | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ):
        if not bucket:
            raise ValueError("no bucket name given (set CREATIONS_BUCKET)")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self._fixed_client = client
        # (connect, read) seconds per request: the API, which must answer fast, gives less.
        self.timeout = timeout

    # -- naming -------------------------------------------------------------------------------

    def object_name(self, name: str) -> str:
        name = name.strip("/")
        if not name:
            return f"{self.prefix}/" if self.prefix else ""
        return f"{self.prefix}/{name}" if self.prefix else name

    def describe(self, name: str = "") -> str:
        return f"gs://{self.bucket_name}/{self.object_name(name)}"

    def child(self, prefix: str) -> GcsStorage:
        """Another folder of the same bucket (shares this one's client, if one was given)."""
        return GcsStorage(self.bucket_name, prefix, client=self._fixed_client, timeout=self.timeout)

    # -- plumbing -----------------------------------------------------------------------------

    def _bucket(self) -> Bucket:
        return (self._fixed_client or client()).bucket(self.bucket_name)

    def _bucket_exists(self) -> bool | None:
        """Whether the bucket exists; None when that cannot be told right now."""
        try:
            exists: bool = self._bucket().exists(timeout=self.timeout, retry=None)
            return exists
        except Exception:  # noqa: BLE001 - only used to word another error
            return None

    def _call(self, what: str, name: str, action: Callable[[], T]) -> T:
        """Run one client call; turn its failure into a StorageError a person can act on."""
        try:
            return action()
        except StorageError:
            raise
        except Exception as error:
            raise self._translate(error, what, name) from error

    def _translate(self, error: BaseException, what: str, name: str) -> StorageError:
        location = self.describe(published_name(name))  # the output's name, not its staging name
        status = http_status_of(error)
        if status == 404:
            if self._bucket_exists() is False:
                # The setting is the operator's business: named in the log, not in the message
                # that reaches the record and the end user.
                log.error("bucket %s does not exist: check CREATIONS_BUCKET", self.bucket_name)
                return StorageError(f"bucket {self.bucket_name} does not exist", transient=False)
            return StorageError(f"{location} does not exist", transient=False)
        if status in (401, 403):
            return StorageError(
                f"no permission to {what} {location} ({_reason(error)}); the service account "
                f"needs read and write access to bucket {self.bucket_name}",
                transient=False,
            )
        transient = exception_is_transient(error)
        return StorageError(f"could not {what} {location}: {_reason(error)}", transient=transient)

    # -- the Storage interface ----------------------------------------------------------------

    def list_names(self) -> list[str]:
        """Every object below the prefix, relative to it (none: an empty list)."""
        return self._names_below("")

    def has_story(self) -> bool:
        return holds_story(self.list_names())

    def input_hashes(self) -> dict[str, str]:
        """The story's files (not our outputs) and the bucket's MD5 of each, from one listing:
        equal maps mean equal inputs, without downloading anything."""
        from services.storage.sources import is_story_input

        root = self.object_name("")

        def hashes() -> dict[str, str]:
            blobs = self._bucket().list_blobs(prefix=root or None, timeout=self.timeout, retry=None)
            found = {blob.name[len(root) :]: blob.md5_hash or blob.etag or "" for blob in blobs}
            return {name: found[name] for name in sorted(found) if is_story_input(name)}

        return self._call("list", "", hashes)

    def _names_below(self, prefix: str) -> list[str]:
        root = self.object_name("")
        start = f"{root}{prefix}"

        def names() -> list[str]:
            blobs = self._bucket().list_blobs(
                prefix=start or None, timeout=self.timeout, retry=None
            )
            return sorted(blob.name[len(root) :] for blob in blobs if not blob.name.endswith("/"))

        return self._call("list", prefix, names)

    def fetch(self, name: str, dest_dir: Path) -> Path:
        """Download `name` to dest_dir/<name>; the file appears only once it is complete."""
        target = Path(dest_dir) / PurePosixPath(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        blob = self._bucket().blob(self.object_name(name))
        try:
            self._call(
                "download",
                name,
                lambda: blob.download_to_filename(str(partial), timeout=self.timeout, retry=None),
            )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def publish(self, source: Path, name: str, content_type: str | None = None) -> None:
        """Upload `source` as `name`. A GCS object changes in one step when its upload completes,
        so readers see the old object or the new one, never a part (and a failed upload leaves
        the old one)."""
        blob = self._bucket().blob(self.object_name(name))
        self._call(
            "upload to",
            name,
            lambda: blob.upload_from_filename(
                str(source), content_type=content_type, timeout=self.timeout, retry=None
            ),
        )

    def _legacy_staging(self) -> list[str]:
        # Earlier versions staged a bucket's outputs under `.staging-<token>/` and could leave
        # them behind for ever after a failure.
        return self._names_below(LEGACY_STAGING_PREFIX)

    def _promote(self, staged: str, name: str) -> None:
        """Copy the staged object over `name` on the server (quick: no bytes through here)."""
        from google.api_core.exceptions import NotFound

        bucket = self._bucket()
        source = bucket.blob(self.object_name(staged))

        def copy() -> None:
            try:
                bucket.copy_blob(
                    source, bucket, self.object_name(name), timeout=self.timeout, retry=None
                )
            except NotFound:
                if self._bucket_exists() is False:
                    raise
                # Copied and deleted before an interruption: nothing left to do for it.

        self._call("copy into", name, copy)

    def read_text(self, name: str) -> str | None:
        blob = self._bucket().blob(self.object_name(name))

        def read() -> str | None:
            from google.api_core.exceptions import NotFound

            try:
                data: bytes = blob.download_as_bytes(timeout=self.timeout, retry=None)
                return data.decode("utf-8")
            except NotFound:
                if self._bucket_exists() is False:
                    raise
                return None

        return self._call("read", name, read)

    def write_text(self, name: str, text: str, content_type: str | None = None) -> None:
        blob = self._bucket().blob(self.object_name(name))
        self._call(
            "write",
            name,
            lambda: blob.upload_from_string(
                text.encode("utf-8"),
                content_type=content_type or "text/plain; charset=utf-8",
                timeout=self.timeout,
                retry=None,
            ),
        )

    def delete(self, names: Iterable[str], *, quiet: bool = False) -> None:
        from google.api_core.exceptions import NotFound

        bucket = self._bucket()
        for name in names:
            blob = bucket.blob(self.object_name(name))

            def remove(blob: Any = blob) -> None:
                try:
                    blob.delete(timeout=self.timeout, retry=None)
                except NotFound:
                    pass

            try:
                self._call("delete", name, remove)
            except StorageError:
                if not quiet:
                    raise
