"""Schema-driven fuzzing of the API (schemathesis): whatever it sends, no 500 and no answer
outside the OpenAPI schema, against the live operators' app, a real Prefect server and a real
GCS emulator. The schema's example creation id has a story in the bucket, so the examples phase
also starts a real run and polls it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from tests.gcs_emulator import GcsEmulator
from tests.integration.test_api import TOKEN, api_deployment, live_operators_app  # noqa: F401 - a fixture
from tests.stories import PartSpec, StorySpec, build_story

pytestmark = pytest.mark.integration

EXAMPLE_CREATION = "6d49a9c0-57ab-403d-af55-c02ad3dfcd70"  # the id the schema shows as example

schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture(scope="module")
def fuzz_server(
    api_deployment: str,  # noqa: F811
    gcs_emulator: GcsEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    bucket = gcs_emulator.create_bucket()
    story = StorySpec(parts={1: PartSpec(captions=["Hello."])})
    folder = build_story(tmp_path_factory.mktemp("fuzz") / "story", story)
    gcs_emulator.upload_story(folder, bucket, EXAMPLE_CREATION)
    with live_operators_app(gcs_emulator, bucket, api_deployment) as url:
        yield url


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_every_request_within_its_schema(case, fuzz_server: str) -> None:
    case.call_and_validate(base_url=fuzz_server, headers={"Authorization": f"Bearer {TOKEN}"})


# -- numbers JSON has not, and bodies too large -------------------------------------------------


def post(fuzz_server: str, content: bytes | Iterator[bytes]) -> httpx.Response:
    return httpx.post(
        f"{fuzz_server}/me/creation/{EXAMPLE_CREATION}/generate_video",
        content=content,
        headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
        timeout=60,
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"])
@pytest.mark.parametrize("field", ["music_volume", "caption_size"])
def test_nan_and_infinities_are_422_naming_the_field(
    fuzz_server: str, field: str, number: str
) -> None:
    answer = post(fuzz_server, f'{{"{field}": {number}}}'.encode())
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", field]
    assert (
        "finite" in problem["msg"] or "less than" in problem["msg"] or "greater" in problem["msg"]
    )
    assert "input" not in problem


def test_a_422_names_the_field_without_echoing_a_large_value(fuzz_server: str) -> None:
    answer = post(fuzz_server, json.dumps({"language": "x" * 12_000}).encode())
    assert answer.status_code == 422, answer.text[:300]
    assert len(answer.content) < 1_000
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "language"]


def test_bodies_over_16_kib_are_413_with_or_without_a_length(fuzz_server: str) -> None:
    megabyte = json.dumps({"language": "de", "pad": "x" * 1_000_000}).encode()
    answer = post(fuzz_server, megabyte)
    assert answer.status_code == 413
    assert len(answer.content) < 200

    def chunks() -> Iterator[bytes]:  # 20 MB without a Content-Length: counted as it arrives
        yield b'{"pad": "'
        for _ in range(20 * 16):
            yield b"x" * 65536
        yield b'"}'

    answer = post(fuzz_server, chunks())
    assert answer.status_code == 413
    # ...and the server still serves.
    assert post(fuzz_server, b'{"language": "de"}').status_code in (200, 409)
