"""A creation's files in the bucket as its readers see them (the API, the run report): its record,
whether it has a story, links to its video.

Links to the video: production answers a V4 signed URL that expires (lifetime from settings), so
the story app's browser fetches the MP4 straight from Cloud Storage, with range requests and
without the API in the way. Signing needs a private key: with a service-account key file the
library signs locally; on Cloud Run (token-only credentials) it asks IAM to sign
(iam.serviceAccounts.signBlob), which needs the API's service account to hold "Service Account
Token Creator" on itself, besides read access to the bucket (roles/storage.objectViewer).
Against the emulator (STORAGE_EMULATOR_HOST) the link is the emulator's plain object URL: it
serves objects without checking signatures.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from services.record import VideoRecord
from services.storage import bucket as gcs_bucket
from services.storage.base import StorageError
from services.storage.bucket import GcsStorage
from services.storage.sources import OutputNames

if TYPE_CHECKING:
    from google.cloud.storage import Blob, Client

OUTPUT_NAMES = OutputNames()  # a creation's outputs: video.mp4, video.json ...
VIDEO_NAME = OUTPUT_NAMES.video
# (connect, read) seconds per bucket request: ends a call the API gave up on (a bucket that
# answers nothing is a 503 within 5 s anyway: api/liveness.py), long enough for a busy one.
API_BUCKET_TIMEOUT = (5.0, 20.0)

log = logging.getLogger(__name__)


class LinkError(RuntimeError):
    """A link to the video could not be made (a configuration problem, for an operator)."""


class CreationFiles:
    """A creation's folder, `gs://<bucket>/<creation_id>/assets/`, as the API reads it."""

    def __init__(self, bucket: str, link_lifetime: timedelta, *, client: Client | None = None):
        self.bucket = bucket
        self.link_lifetime = link_lifetime
        self._fixed_client = client  # tests give one; otherwise one per thread, from ADC

    def _storage_client(self) -> Client:
        return self._fixed_client or gcs_bucket.client()

    def folder(self, creation_id: str) -> GcsStorage:
        return GcsStorage(
            self.bucket,
            f"{creation_id}/assets",
            client=self._fixed_client,
            timeout=API_BUCKET_TIMEOUT,
        )

    def read_record(self, creation_id: str) -> VideoRecord | None:
        """The creation's video.json, or None when there is none (or it cannot be parsed).

        A publish that was interrupted after its journal was written (a render killed while
        it switched the outputs) is finished first, so the record and every output linked
        beside it are of one set, old or new, never both."""
        folder = self.folder(creation_id)
        try:
            if folder.finish_switch(OUTPUT_NAMES.stem):
                log.info("creation %s: finished an interrupted publish", creation_id)
        except StorageError as error:
            if error.transient:
                raise
            # E.g. the API's account may only read: the operator must grant it object writes.
            log.error("creation %s: could not finish a publish: %s", creation_id, error)
        text = folder.read_text(OUTPUT_NAMES.record)
        if text is None:
            return None
        try:
            return VideoRecord.from_json(text)
        except ValueError:
            # A record we cannot read says nothing reliable; Prefect's state still answers.
            return None

    def input_hashes(self, creation_id: str) -> dict[str, str]:
        """The creation's story files and their MD5s (one listing; none: no story)."""
        return self.folder(creation_id).input_hashes()

    def video_link(self, creation_id: str, name: str = VIDEO_NAME, *, check: bool) -> str | None:
        """A link to the creation's video; with `check`, None when no video exists."""
        folder = self.folder(creation_id)
        blob = self._storage_client().bucket(self.bucket).blob(folder.object_name(name))
        if check and not self._exists(blob, folder, name):
            return None
        return self._link(blob)

    def _exists(self, blob: Blob, folder: GcsStorage, name: str) -> bool:
        try:
            return bool(blob.exists(timeout=API_BUCKET_TIMEOUT, retry=None))
        except Exception as error:
            raise StorageError(
                f"could not look for {folder.describe(name)}: {error}", transient=True
            ) from error

    def _link(self, blob: Blob) -> str:
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            base = emulator if "://" in emulator else f"http://{emulator}"
            return f"{base.rstrip('/')}/{self.bucket}/{quote(blob.name, safe='/')}"
        return self._signed_link(blob)

    def _signed_link(self, blob: Blob) -> str:
        from google.auth.credentials import Signing

        credentials = self._storage_client()._credentials
        try:
            if isinstance(credentials, Signing):
                # A service-account key (or impersonation): the library signs, no extra setup.
                return str(
                    blob.generate_signed_url(
                        version="v4", expiration=self.link_lifetime, method="GET"
                    )
                )
            if not credentials.valid:
                from google.auth.transport.requests import Request

                credentials.refresh(Request())  # also learns the account's email on Cloud Run
            email = getattr(credentials, "service_account_email", None)
            if not email or email == "default":
                raise LinkError(
                    "video links need a service account to sign them; these credentials "
                    "have none (run as a service account, e.g. the Cloud Run service's own)"
                )
            # Token-only credentials (Cloud Run): IAM signs (iam.serviceAccounts.signBlob).
            return str(
                blob.generate_signed_url(
                    version="v4",
                    expiration=self.link_lifetime,
                    method="GET",
                    service_account_email=email,
                    access_token=credentials.token,
                )
            )
        except LinkError:
            raise
        except Exception as error:
            raise LinkError(
                f"could not sign a link to gs://{self.bucket}/{blob.name}: {error}"
            ) from error
