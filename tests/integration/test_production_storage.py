"""GcsStorage against a real GCS emulator server: the Storage interface, and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.storage.base import StorageError
from services.storage.bucket import GcsStorage
from services.storage.retrying import exception_is_transient
from tests.gcs_emulator import GcsEmulator, free_port

pytestmark = pytest.mark.integration


def test_round_trip_of_files_and_text(gcs_bucket: str, gcs_emulator: GcsEmulator, tmp_path):
    storage = GcsStorage(gcs_bucket, "c1/assets")
    source = tmp_path / "clip.bin"
    source.write_bytes(bytes(range(256)) * 4096)  # 1 MiB, goes through the file, not a string
    storage.publish(source, "1/image.png", "image/png")
    storage.write_text("1/1.txt", "Über den Fluss.\n")
    gcs_emulator.write_bytes(gcs_bucket, "c1/other/x.txt", b"not ours")

    assert storage.list_names() == ["1/1.txt", "1/image.png"]
    fetched = storage.fetch("1/image.png", tmp_path / "down")
    assert fetched == tmp_path / "down" / "1" / "image.png"
    assert fetched.read_bytes() == source.read_bytes()
    assert not list((tmp_path / "down").rglob("*.partial"))
    assert storage.read_text("1/1.txt") == "Über den Fluss.\n"
    assert storage.read_text("1/2.txt") is None
    assert storage.describe("1/1.txt") == f"gs://{gcs_bucket}/c1/assets/1/1.txt"


def test_missing_things_are_permanent_errors_that_say_what_is_missing(gcs_bucket: str, tmp_path):
    storage = GcsStorage(gcs_bucket, "6d49a9c0-57ab-403d-af55-c02ad3dfcd70/assets")
    assert storage.list_names() == []
    assert not storage.has_story()

    with pytest.raises(StorageError) as missing_file:
        storage.fetch("1/image.png", tmp_path)
    assert not missing_file.value.transient
    assert str(missing_file.value) == (
        f"gs://{gcs_bucket}/6d49a9c0-57ab-403d-af55-c02ad3dfcd70/assets/1/image.png does not exist"
    )

    no_bucket = GcsStorage("no-such-bucket-here", "x/assets")
    for action in (
        no_bucket.list_names,
        lambda: no_bucket.read_text("video.json"),
        lambda: no_bucket.write_text("video.json", "{}"),
    ):
        with pytest.raises(StorageError) as error:
            action()
        assert not error.value.transient
        assert "bucket no-such-bucket-here does not exist" in str(error.value)


def test_unreachable_server_is_a_transient_error(monkeypatch, tmp_path):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    storage = GcsStorage("any-bucket", "x/assets")
    (tmp_path / "f").write_bytes(b"x")
    for action in (
        storage.list_names,
        lambda: storage.read_text("video.json"),
        lambda: storage.publish(tmp_path / "f", "f"),
        lambda: storage.fetch("f", tmp_path / "down"),
    ):
        with pytest.raises(StorageError) as error:
            action()
        assert error.value.transient, str(error.value)
        assert exception_is_transient(error.value)
        assert "connection refused" in str(error.value)
    assert not (tmp_path / "down" / "f").exists()


def test_emulator_can_be_stopped_and_started_with_its_objects(
    gcs_bucket: str, gcs_emulator: GcsEmulator
):
    storage = GcsStorage(gcs_bucket, "c4")
    storage.write_text("a.txt", "kept")
    gcs_emulator.stop()
    with pytest.raises(StorageError) as error:
        storage.read_text("a.txt")
    assert error.value.transient
    gcs_emulator.start()
    assert storage.read_text("a.txt") == "kept"


def test_fetch_keeps_subfolders(gcs_bucket: str, gcs_emulator: GcsEmulator, tmp_path: Path):
    gcs_emulator.write_bytes(gcs_bucket, "c5/assets/10/1.txt", b"ten")
    gcs_emulator.write_bytes(gcs_bucket, "c5/assets/2/1.txt", b"two")
    storage = GcsStorage(gcs_bucket, "c5/assets")
    assert storage.fetch("10/1.txt", tmp_path).read_text() == "ten"
    assert storage.fetch("2/1.txt", tmp_path).read_text() == "two"
