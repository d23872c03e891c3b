"""The status answer's pure parts: every Prefect state type, the record's say, the messages,
and production video links (V4 signatures made here with a locally generated key)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from prefect.client.schemas.objects import FlowRun, State, StateType

from api.status import summarize
from services.record import VideoRecord, now

EXPECTED = {
    StateType.SCHEDULED: "pending",
    StateType.PENDING: "pending",
    StateType.PAUSED: "pending",
    StateType.RUNNING: "running",
    StateType.CANCELLING: "running",
    StateType.COMPLETED: "completed",
    StateType.FAILED: "failed",
    StateType.CRASHED: "failed",
    StateType.CANCELLED: "failed",
}


def run_in(state_type: StateType, message: str | None = None, name: str | None = None) -> FlowRun:
    return FlowRun(flow_id=uuid.uuid4(), state=State(type=state_type, message=message, name=name))


def test_every_prefect_state_type_has_one_contract_status() -> None:
    # Iterating over Prefect's own enum: a state type added by a Prefect upgrade fails here.
    assert set(StateType) == set(EXPECTED)
    for state_type, status in EXPECTED.items():
        summary = summarize(run_in(state_type), None)
        assert summary.status == status, state_type
        assert summary.active == (status in ("pending", "running")), state_type
        assert summary.message.endswith("."), summary.message


def test_no_run_and_no_record_is_not_found() -> None:
    summary = summarize(None, None)
    assert (summary.status, summary.progress, summary.active) == ("not_found", 0.0, False)


def test_progress_and_error_come_from_the_runs_own_record_only() -> None:
    run = run_in(StateType.RUNNING)
    mine = VideoRecord(
        status="running", flow_run_id=str(run.id), parts=5, parts_done=2, progress=0.4
    )
    older = mine.model_copy(update={"flow_run_id": str(uuid.uuid4())})
    assert summarize(run, mine).progress == 0.4
    assert summarize(run, mine).message == "Rendering: 2 of 5 parts done."
    assert summarize(run, older).progress == 0.0

    failed = run_in(StateType.FAILED, "Flow run encountered an exception: StoryError: x")
    own = VideoRecord(
        status="failed", flow_run_id=str(failed.id), error="part 4: 2.txt is not UTF-8"
    )
    assert summarize(failed, own).message == "The render failed: part 4: 2.txt is not UTF-8"
    stale = own.model_copy(update={"flow_run_id": str(uuid.uuid4())})
    assert summarize(failed, stale).message == "The render failed: x"


def test_a_final_record_wins_over_a_state_not_yet_updated() -> None:
    run = run_in(StateType.RUNNING)
    done = VideoRecord(
        status="completed", flow_run_id=str(run.id), progress=1.0, duration_seconds=12.4
    )
    summary = summarize(run, done)
    assert (summary.status, summary.message, summary.active) == (
        "completed",
        "The video is ready (12 s).",
        False,
    )


@pytest.mark.parametrize(
    ("prefect_message", "expected"),
    [
        (
            'Flow run encountered an exception: Traceback (most recent call last):\n  File "x.py"',
            "The render failed. Start it again; if that fails too, tell an operator.",
        ),
        (
            "Flow run encountered an exception: StorageError: could not read gs://b/c "
            "(temporary; will be retried)\nTraceback (most recent call last): ...",
            "The render failed: could not read gs://b/c (temporary; will be retried)",
        ),
        (None, "The render failed. Start it again; if that fails too, tell an operator."),
        ("x" * 2000, "The render failed: " + "x" * 499 + "…"),
    ],
)
def test_failure_messages_are_one_plain_bounded_line(
    prefect_message: str | None, expected: str
) -> None:
    assert summarize(run_in(StateType.FAILED, prefect_message), None).message == expected


def test_record_alone_answers_for_runs_prefect_does_not_know() -> None:
    record = VideoRecord(status="running", started_at=now(), parts=3, parts_done=1, progress=0.33)
    summary = summarize(None, record)
    # Followed, but it does not block a new render: a stale record must never wedge a creation.
    assert (summary.status, summary.progress, summary.active) == ("running", 0.33, False)
    failed = VideoRecord(status="failed", error="ValueError: part 1: image.png is empty")
    assert summarize(None, failed).message == "The render failed: part 1: image.png is empty"


# -- production links ----------------------------------------------------------------------------


def service_account_client(email: str):  # -> google.cloud.storage.Client
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.cloud import storage
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "client_email": email,
        "private_key": pem,
        "private_key_id": "test",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    credentials = service_account.Credentials.from_service_account_info(info)
    return storage.Client(project="test", credentials=credentials)


def test_production_links_are_v4_signed_for_the_configured_lifetime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.storage.creation_files import CreationFiles

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    email = "story-api@project.iam.gserviceaccount.com"
    files = CreationFiles("creations", timedelta(minutes=20), client=service_account_client(email))
    creation = str(uuid.uuid4())
    url = files.video_link(creation, check=False)
    assert url is not None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("https", "storage.googleapis.com")
    assert parts.path == f"/creations/{creation}/assets/video.mp4"
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["1200"]
    assert query["X-Goog-Credential"][0].startswith(email + "/")
    assert len(query["X-Goog-Signature"][0]) == 512  # RSA-2048, hex


def test_credentials_that_cannot_sign_give_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from services.storage.creation_files import CreationFiles, LinkError

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    files = CreationFiles("creations", timedelta(hours=1), client=client)
    with pytest.raises(LinkError, match="need a service account"):
        files.video_link(str(uuid.uuid4()), check=False)


def test_the_default_deployment_is_one_prefect_yaml_declares() -> None:
    """The API triggers VIDEO_DEPLOYMENT; its default must name a deployment that exists."""
    import yaml

    from services.settings import Settings

    declared = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())
    flow_name = "generate-video"
    names = {
        f"{flow_name}/{deployment['name']}"
        for deployment in declared["deployments"]
        if deployment["entrypoint"] == "flows/video.py:generate_video"
    }
    assert Settings(_env_file=None).video_deployment in names
    assert {"generate-video/cloud-run", "generate-video/local"} <= names
