"""Schema-driven fuzzing of the API (schemathesis): whatever it sends, no 500 and no answer
outside the OpenAPI schema, against the live operators' app, a real Prefect server and a real
GCS emulator. The schema's example creation id has a story in the bucket, so the examples phase
also starts a real run and polls it."""

from __future__ import annotations

from collections.abc import Iterator

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
